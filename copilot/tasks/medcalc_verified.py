"""Read MedCalc-Bench-Verified's test CSV and find a MedAgentGym medcalc task's corrected label in it.

    from copilot.tasks.medcalc_verified import read_verified
    verified = read_verified("MedCalc-Bench-Verified/datasets/test_data.csv")
    verified.lookup(task)   # {"answer": 25.2381, "lower": 23.97619, "upper": 26.50001, "row_number": 1,
                            #  "source": ".../test_data.csv:2"}   or None when the row is not in the file

MedCalc-Bench-Verified (github.com/nikhilk7153/MedCalc-Bench-Verified) re-derives MedCalc-Bench's labels; its
CSV has the columns Row Number, Calculator ID, Calculator Name, Category, Output Type, Note ID, Note Type,
Patient Note, Question, Relevant Entities, Ground Truth Answer, Lower Limit, Upper Limit, Ground Truth
Explanation. Row numbers differ between releases, so a task is matched by (calculator id, patient note with
its whitespace runs collapsed to single spaces). Answers and limits are parsed by the medcalc loader's own
functions, so they take exactly the form of `task.answer` (float / int / "MM/DD/YYYY" / [weeks, days]);
limits of date and weeks/days rows are None as in the loader.

A bad file raises TaskFormatError naming the file and line (and the column, for a bad value): missing
columns, a row with the wrong number of fields, broken CSV quoting, a value of the wrong shape, non-UTF-8.
Simplified: notes are compared after whitespace normalisation only (no Unicode normalisation, no fuzzy
matching), so a note edited in the Verified release is simply not found. Several rows with the same key
are kept; lookup returns the first and lists the others whose answer differs under "conflicting_rows".
Not protected against: fields longer than the csv module's field limit (131,072 characters), which raise
a clear error rather than being read.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The loader's parsing of "Ground Truth Answer" / limits, reused so both releases parse alike.
from copilot.tasks.loaders.jsonl_records import JsonlRecord
from copilot.tasks.loaders.medcalc_loader import limit_value, output_type_of, truth_value
from copilot.tasks.task import Task, TaskFormatError

REQUIRED_COLUMNS = ("Row Number", "Calculator ID", "Patient Note", "Ground Truth Answer", "Lower Limit",
                    "Upper Limit")


def normalize_note(text: str) -> str:
    """A patient note with every whitespace run collapsed to one space (the matching key's note part)."""
    return " ".join(text.split())


@dataclass(frozen=True)
class VerifiedRow:
    """One row's label, in the form of task.answer, and where it came from ("file:line")."""

    row_number: int
    answer: Any
    lower: float | None
    upper: float | None
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {"answer": self.answer, "lower": self.lower, "upper": self.upper, "row_number": self.row_number,
                "source": self.source}


class VerifiedIndex:
    """The rows of one Verified CSV, keyed by (calculator id, normalised patient note)."""

    def __init__(self, path: Path, rows: dict[tuple[int, str], list[VerifiedRow]]):
        self.path = path
        self._rows = rows

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._rows.values())

    def lookup(self, task: Task) -> dict[str, Any] | None:
        """The Verified row for `task` ({"answer", "lower", "upper", "row_number", "source"}), else None."""
        calculator_id = task.checker_params.get("calculator_id")
        rows = self._rows.get((calculator_id, normalize_note(task.context or "")))
        if not rows:
            return None
        first = rows[0]
        found = first.as_dict()
        conflicting = [row.source for row in rows[1:]
                       if (row.answer, row.lower, row.upper) != (first.answer, first.lower, first.upper)]
        if conflicting:
            found["conflicting_rows"] = conflicting
        return found


def _header(path: Path, reader) -> list[str]:
    header = next(reader, None)
    if header is None:
        raise TaskFormatError(f"{path}: empty file; expected a CSV header with {list(REQUIRED_COLUMNS)}")
    header = [name.strip() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise TaskFormatError(f"{path}:1: missing column(s) {missing}; expected MedCalc-Bench-Verified's header "
                              f"with {list(REQUIRED_COLUMNS)}")
    return header


def _parse_row(record: JsonlRecord) -> tuple[tuple[int, str], VerifiedRow]:
    calculator_id = record.integer("Calculator ID")
    note = record.text("Patient Note", allow_empty=False)
    truth = record.data["Ground Truth Answer"]
    output_type = output_type_of(record, calculator_id, truth)
    row = VerifiedRow(row_number=record.integer("Row Number"), answer=truth_value(record, output_type),
                      lower=limit_value(record, "Lower Limit", output_type),
                      upper=limit_value(record, "Upper Limit", output_type), source=record.source)
    return (calculator_id, normalize_note(note)), row


def _records(path: Path, handle) -> list[JsonlRecord]:
    """Each data row as a record named by the line it starts on (quoted notes span several lines)."""
    reader = csv.reader(handle, strict=True)
    try:
        header = _header(path, reader)
        records = []
        while True:
            start = reader.line_num + 1
            fields = next(reader, None)
            if fields is None:
                return records
            if not fields:
                continue          # a blank line holds no row
            if len(fields) != len(header):
                raise TaskFormatError(f"{path}:{start}: {len(fields)} fields; expected {len(header)} "
                                      f"(the header's columns)")
            records.append(JsonlRecord(path=path, line=start, index=len(records), data=dict(zip(header, fields))))
    except csv.Error as exc:
        raise TaskFormatError(f"{path}:{reader.line_num}: invalid CSV ({exc}); expected a quoted CSV "
                              "with one row per task") from None


def read_verified(path: str | Path) -> VerifiedIndex:
    """Read a MedCalc-Bench-Verified test CSV (module docstring); TaskFormatError names file and line."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            records = _records(path, handle)
    except UnicodeDecodeError as exc:
        raise TaskFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); expected "
                              "MedCalc-Bench-Verified's UTF-8 CSV") from None
    rows: dict[tuple[int, str], list[VerifiedRow]] = {}
    for record in records:
        key, row = _parse_row(record)
        rows.setdefault(key, []).append(row)
    return VerifiedIndex(path, rows)
