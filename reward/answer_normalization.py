"""Turn answer values (the release's strings, the agent's Python values) into typed, comparable values.

The release stores answers as strings ("92", "1.0", "po/ng", "2105-03-01 10:00:00") or as Python-literal
strings ("['a', 'b']"); agents answer with ints, floats, numpy scalars (already made plain JSON by the
sandbox), booleans, None, lists. Checkers compare `canonical(x)` values, never raw strings and never by
substring.

Rules (in this order, for one scalar):
- None, NaN, and the strings "none" / "null" / "nan" (any case, surrounding whitespace) -> None.
- bool and the strings "true" / "false" -> the numbers 1 / 0. SQLite has no boolean type (EXISTS and
  comparisons give 1 / 0), so the release writes "1"/"0" where an agent may answer True/False; we treat
  them as equal. Consequence (accepted, documented): a count of 1 also equals True.
- numbers and numeric strings ("1", "1.0", " 3e2 ", "-0.5") -> their EXACT value: an int for integer text
  (exact at any size), else a float (Python's nearest double, i.e. how the release wrote SQLite's floats:
  str(float), e.g. '1.9000000000000004'). So "92" == 92 == 92.0 == "92.0", but 1234567891 != "1234567890"
  and 0.1 + 0.2 (0.30000000000000004) != "0.3": no rounding to significant digits, and no tolerance
  (tolerances belong to MedCalc / N-Power). Text that Python reads as the same double IS the same value
  ("73.12345670000001" and "73.1234567" are one float). Changed on purpose: numbers used to be rounded to
  9 significant digits, which made 1234567891 equal 1234567890; a SQL answer is exact to the dataset's own
  precision.
- date/time strings in ISO form ("2105-03-01", "2105-03-01 10:00:00", "2105-03-01T10:00") and US form
  ("03/01/2105") -> ("date", ISO text); a date and a datetime at midnight are different values on purpose
  (SQL answers keep their type).
- other strings -> whitespace collapsed, stripped, casefolded ("  PO/NG " == "po/ng").
`parse_literal` additionally turns a Python-literal string ("['a', 'b']", "(4, 2)") into the value.
int and float canonical values of equal numbers compare AND hash equal (92 == 92.0), so sets and Counters
of canonical values treat them as one value.

Not handled here: units ("25 mL/min" stays a string), thousands separators ("1,000" stays a string),
percent signs ("90%" stays a string). Reading a value out of free text is `reward.answer_extraction`'s job,
for the checkers whose datasets state values in words (MedCalc, N-Power); SQL answers are values.
"""

from __future__ import annotations

import ast
import math
import re
from datetime import date, datetime
from typing import Any

_NONE_STRINGS = {"none", "null", "nan"}
_BOOL_STRINGS = {"true": 1.0, "false": 0.0}
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
_US_DATE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_SPACE_RE = re.compile(r"\s+")


def parse_number(value: Any) -> float | None:
    """A finite float for a real number or numeric string; None otherwise (bools are NOT numbers here)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and _NUMBER_RE.match(value.strip()):
        number = float(value.strip())
    else:
        return None
    return number if math.isfinite(number) else None


def parse_date(value: Any) -> date | datetime | None:
    """A date (or datetime when a time is given) for ISO or MM/DD/YYYY strings; None otherwise."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    us = _US_DATE_RE.match(text)
    try:
        if us:
            return date(int(us.group(3)), int(us.group(1)), int(us.group(2)))
        if _ISO_DATE_RE.match(text):
            parsed = datetime.fromisoformat(text.replace("T", " "))
            return parsed.date() if len(text) == 10 else parsed
    except ValueError:  # 02/30/2020 and friends are not dates
        return None
    return None


def exact_number(value: Any) -> int | float | None:
    """The exact value of a real number or numeric string: an int for ints and integer text ("1234567891"),
    else a finite float; None otherwise (bools are NOT numbers here; canonical maps them separately)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return parse_number(value)
    text = value.strip()
    match = _NUMBER_RE.match(text)
    if match is None:
        return None
    if match.group(3) is None and "." not in text:
        try:
            return int(text)  # integer text stays exact at any size
        except ValueError:  # over Python's int-from-text digit limit (4300): not an answer value
            return None
    number = float(text)
    return number if math.isfinite(number) else None


def canonical(value: Any) -> Any:
    """The comparable form of one scalar (see module docstring). Lists/dicts are returned as tuples / items."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float) and math.isnan(value):
        return None
    number = exact_number(value)
    if number is not None:
        return number
    if isinstance(value, str):
        lowered = value.strip().casefold()
        if lowered in _NONE_STRINGS:
            return None
        if lowered in _BOOL_STRINGS:
            return _BOOL_STRINGS[lowered]
        when = parse_date(value)
        if when is not None:
            return ("date", when.isoformat(sep=" ") if isinstance(when, datetime) else when.isoformat())
        return _SPACE_RE.sub(" ", value).strip().casefold()
    if isinstance(value, (list, tuple)):
        return tuple(canonical(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), repr(canonical(v))) for k, v in value.items()))
    return ("repr", repr(value))


def parse_literal(value: Any) -> Any:
    """A Python-literal string ("['a', 'b']", "(4, 2)", "{'x': 1}") becomes its value; anything else unchanged."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "[({" and text[-1:] in "])}":
            try:
                return ast.literal_eval(text)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                return value
    return value


def to_bool(value: Any) -> bool | None:
    """True/False for a bool, the strings "true"/"false" (any case), or the integers 1/0; None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, float) and value in (0.0, 1.0):
        return bool(value)
    if isinstance(value, str) and value.strip().casefold() in _BOOL_STRINGS:
        return value.strip().casefold() == "true"
    return None


def describe(value: Any) -> Any:
    """A JSON-serialisable view of a canonical value for RewardResult.detail."""
    if isinstance(value, tuple):
        return [describe(v) for v in value]
    return value
