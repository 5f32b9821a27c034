"""Read a task JSONL file record by record, keeping the line number, with typed field access.

Every problem is a `TaskFormatError` whose message starts with "<file>:<line>" and names the field and
what was expected, so a user can open the file at that line. Whitespace-only lines hold no record and are
passed over (they are not counted as records, but line numbers stay true to the file).

Simplified: values are checked for the JSON type the loaders need, not against a full schema.
Python-literal fields (the release stores e.g. "['nursing']" as a string) are parsed with
`ast.literal_eval`, which evaluates literals only (no names, calls or operators beyond +/- on numbers),
so a malicious record cannot run code; very deeply nested literals can still exhaust the parser.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from copilot.tasks.task import TaskFormatError

_MISSING = object()

_TYPE_WORDS = {str: "a string", bool: "a boolean", int: "an integer", float: "a number",
               list: "a list", dict: "an object", type(None): "null"}


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{_TYPE_WORDS.get(type(value), type(value).__name__)} {text}"


@dataclass(frozen=True)
class JsonlRecord:
    """One JSON object from a task file: where it came from and its fields."""

    path: Path
    line: int
    index: int          # 0-based position among the file's records (used in task ids)
    data: dict[str, Any]

    @property
    def source(self) -> str:
        return f"{self.path}:{self.line}"

    def error(self, field: str, expected: str, got: Any = _MISSING) -> TaskFormatError:
        found = "it is missing" if got is _MISSING else f"got {_describe(got)}"
        return TaskFormatError(f"{self.source}: field {field!r}: expected {expected}; {found}")

    def has(self, field: str) -> bool:
        return field in self.data

    def raw(self, field: str, expected: str = "a value") -> Any:
        if field not in self.data:
            raise self.error(field, expected)
        return self.data[field]

    def text(self, field: str, *, allow_empty: bool = True, optional: bool = False,
             allow_null: bool = False) -> str | None:
        """A string field. optional: absent -> None. allow_null: JSON null -> None."""
        expected = "a string" if allow_empty else "a non-empty string"
        if field not in self.data:
            if optional:
                return None
            raise self.error(field, expected)
        value = self.data[field]
        if value is None and allow_null:
            return None
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise self.error(field, expected, value)
        return value

    def boolean(self, field: str, *, optional: bool = False) -> bool | None:
        if field not in self.data and optional:
            return None
        value = self.raw(field, "a boolean (true/false)")
        if not isinstance(value, bool):
            raise self.error(field, "a boolean (true/false)", value)
        return value

    def integer(self, field: str, *, optional: bool = False) -> int | None:
        """An integer, or a string / float holding a whole number ("154920", 3.0)."""
        if field not in self.data and optional:
            return None
        value = self.raw(field, "an integer")
        number = _as_number(value)
        if number is None or number != int(number):
            raise self.error(field, "an integer", value)
        return int(number)

    def number(self, field: str, *, optional: bool = False) -> float | int | None:
        """A finite number, or a string holding one (the release stores many numbers as strings)."""
        if field not in self.data and optional:
            return None
        value = self.raw(field, "a number or a numeric string")
        number = _as_number(value)
        if number is None:
            raise self.error(field, "a number or a numeric string", value)
        return number

    def literal(self, field: str, kinds: tuple[type, ...], *, optional: bool = False) -> Any:
        """A value of one of `kinds`, stored either as JSON or as a Python-literal string ("['a']")."""
        words = " or ".join(_TYPE_WORDS.get(k, k.__name__) for k in kinds)
        expected = f"{words} (as JSON or as a Python-literal string)"
        if field not in self.data:
            if optional:
                return None
            raise self.error(field, expected)
        value = self.data[field]
        if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds):
            return value
        if isinstance(value, str):
            parsed = parse_python_literal(value)
            if parsed is not _MISSING and isinstance(parsed, kinds):
                return parsed
        raise self.error(field, expected, value)


def _as_number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None       # true is not 1 here: a boolean in a numeric field is a format error
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        if not math.isfinite(number):
            return None
        return int(number) if value.strip().lstrip("+-").isdigit() else number
    return None


def parse_python_literal(text: str) -> Any:
    """`ast.literal_eval(text)`, or the module's _MISSING sentinel when `text` is not a Python literal."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _MISSING


def is_missing(value: Any) -> bool:
    return value is _MISSING


def _parse_line(path: Path, line_no: int, line: str) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TaskFormatError(f"{path}:{line_no}: invalid JSON ({exc.msg} at column {exc.colno}); "
                              "expected one JSON object per line") from None
    except RecursionError:
        raise TaskFormatError(f"{path}:{line_no}: JSON nested too deeply; expected one flat task record "
                              "per line") from None
    if not isinstance(data, dict):
        raise TaskFormatError(f"{path}:{line_no}: expected a JSON object per line; got {_describe(data)}")
    return data


def read_jsonl(path: Path, on_bad_line: Callable[[TaskFormatError], None] | None = None) -> Iterator[JsonlRecord]:
    """Yield each JSON object of `path` with its 1-based line number.

    A line that is not a JSON object raises TaskFormatError, or, when `on_bad_line` is given, is handed to it
    and passed over (the record index still counts it, so the ids of later records do not shift when a line
    is repaired). A file that is not UTF-8 is always an error: nothing of it can be trusted."""
    path = Path(path)
    index = 0
    try:
        with path.open(encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    data = _parse_line(path, line_no, line)
                except TaskFormatError as err:
                    if on_bad_line is None:
                        raise
                    on_bad_line(err)
                else:
                    yield JsonlRecord(path=path, line=line_no, index=index, data=data)
                index += 1
    except UnicodeDecodeError as exc:
        raise TaskFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                              "expected a UTF-8 JSONL task file") from None
