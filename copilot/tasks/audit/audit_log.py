"""audit.jsonl: one row per audited task, append-only and durable (a `kill -9` loses at most one row).

Rows (written by `task_checks.audit_task`, or for a record that could not be read, by the CLI):
    {"task_id", "dataset", "split", "source", "fingerprint", "verdict", "reason", "checks", ...}
When a task was audited more than once (its content changed, or `--redo`), the LAST row counts.
Reading refuses a row without a task id or with an unknown verdict, naming file:line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from copilot.durable_jsonl import DurableJsonl, DurableJsonlError
from copilot.tasks.audit import VERDICTS


class AuditLogError(DurableJsonlError):
    """audit.jsonl is malformed (names file:line)."""


class AuditLog(DurableJsonl):
    kind = "audit log"
    record_name = "an audit row"
    error = AuditLogError

    def check_record(self, record: dict[str, Any]) -> None:
        if not isinstance(record.get("task_id"), str) or not record["task_id"]:
            raise ValueError(f"'task_id' must be a non-empty string; got {record.get('task_id')!r}")
        if record.get("verdict") not in VERDICTS:
            raise ValueError(f"'verdict' must be one of {list(VERDICTS)}; got {record.get('verdict')!r}")

    def describe(self, record: dict[str, Any]) -> str:
        return f"audit row {record.get('task_id')!r}"

    def latest(self) -> dict[str, dict[str, Any]]:
        """task id -> its last row."""
        rows: dict[str, dict[str, Any]] = {}
        for record in self.records():
            rows[record["task_id"]] = record
        return rows


def read_audit(path: str | Path) -> dict[str, dict[str, Any]]:
    """task id -> its last audit row, from an existing audit.jsonl (FileNotFoundError naming it otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audit file {path} not found: run `python -m copilot.tasks.audit <data dir> "
                                f"--out {path}` first")
    return AuditLog(path, create=False).latest()
