"""The tasks a run uses: its data dirs' split, minus what the gradability audit excludes, first N of each dir.

    selection = select_tasks(cfg.data, "train", "train", on_malformed="error")
    selection.tasks          # what the stage trains or evaluates on
    selection.coverage()     # {"tasks": 83, "loaded": 100, "excluded": {"ungradable": 12, ...}, "unaudited": 0}

Settings (the run config's `data` node; `copilot.sample` reads the same keys from its `tasks` node):
- train / test: dataset or offline pack dirs (a relative entry is also looked up under `offline_root`);
- limit_train / limit_test: the first N tasks of each dir, counted AFTER the audit's exclusions;
- audit: an audit.jsonl from `python -m copilot.tasks.audit` (null: no filtering);
- exclude: the verdicts to leave out (default ungradable and label_disputed). A task the audit has no row for,
  or whose row is for other content (its fingerprint changed), is kept and counted as "unaudited" (a warning
  says how many); a task that was audited as malformed or needs_data cannot be loaded anyway.
`on_malformed` ("error" | "skip") is `copilot.tasks.load`'s: "skip" lists the malformed records in `skipped`.
Errors (`DataSelectionError`) name the key (data.train[2], data.audit) and what was expected.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot.tasks.task import Task

log = logging.getLogger(__name__)
DEFAULT_EXCLUDE = ("ungradable", "label_disputed")


class DataSelectionError(ValueError):
    """The run's data settings are unusable (the message names the key and what was expected)."""


@dataclass
class DataSelection:
    """One split of a run's data, and how it was cut down."""

    tasks: list[Task]
    loaded: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    unaudited: int = 0
    skipped: list[Any] = field(default_factory=list)          # SkippedRecord of on_malformed="skip"
    audit: str | None = None

    def coverage(self) -> dict[str, Any]:
        """What the figures computed on `tasks` cover (for summaries and the leaderboard)."""
        return {"tasks": len(self.tasks), "loaded": self.loaded, "excluded": dict(self.excluded),
                "unaudited": self.unaudited, "malformed_skipped": len(self.skipped), "audit": self.audit}


def resolve_dirs(data: Mapping[str, Any], key: str) -> list[Path]:
    """data.<key> entries as existing directories (also tried under data.offline_root)."""
    entries = list(data.get(key) or [])
    if not entries:
        raise DataSelectionError(f"data.{key} is empty; list dataset or offline pack directories to use")
    root = Path(str(data.get("offline_root") or "data/offline"))
    dirs = []
    for i, entry in enumerate(entries):
        path = Path(str(entry)).expanduser()
        if not path.is_dir() and not path.is_absolute() and (root / path).is_dir():
            path = root / path
        if not path.is_dir():
            raise DataSelectionError(f"data.{key}[{i}]: {entry!r} is not a directory (nor under data.offline_root "
                                     f"{root}); build the offline packs or point it to a dataset dir")
        dirs.append(path.resolve())
    return dirs


def audit_verdicts(path: str | None, exclude: list[str]) -> dict[str, dict[str, Any]] | None:
    """task id -> audit row, or None when no audit is configured; errors name data.audit / data.exclude."""
    from copilot.tasks.audit import VERDICTS
    from copilot.tasks.audit.audit_log import AuditLogError, read_audit

    unknown = [verdict for verdict in exclude if verdict not in VERDICTS]
    if unknown:
        raise DataSelectionError(f"data.exclude: {unknown} unknown; expected verdicts among {list(VERDICTS)}")
    if path is None:
        return None
    try:
        return read_audit(path)
    except (FileNotFoundError, AuditLogError) as err:
        raise DataSelectionError(f"data.audit: {err}") from err


def _filter(loaded: list[Task], rows: dict[str, dict[str, Any]] | None, exclude: list[str],
            selection: DataSelection) -> list[Task]:
    if rows is None:
        return list(loaded)
    from copilot.tasks.audit.task_checks import fingerprint

    kept, dropped = [], Counter()
    for task in loaded:
        row = rows.get(task.id)
        if row is None or row.get("fingerprint") != fingerprint(task):
            selection.unaudited += 1
            kept.append(task)
        elif row["verdict"] in exclude:
            dropped[row["verdict"]] += 1
        else:
            kept.append(task)
    for verdict, n in dropped.items():
        selection.excluded[verdict] = selection.excluded.get(verdict, 0) + n
    return kept


def select_tasks(data: Mapping[str, Any], key: str, split: str, limit: int | None = None, *,
                 on_malformed: str = "error") -> DataSelection:
    """The tasks of `split` of every dir in data.<key>, filtered by the audit, the first `limit` of each."""
    from copilot import tasks as task_loading

    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise DataSelectionError(f"limit {limit!r}: expected an integer >= 1 or null")
    exclude = list(data.get("exclude", DEFAULT_EXCLUDE) or [])
    audit = data.get("audit")
    rows = audit_verdicts(str(audit) if audit else None, exclude)
    selection = DataSelection(tasks=[], audit=str(audit) if audit else None)
    for path in resolve_dirs(data, key):
        loaded = task_loading.load(path, split, on_malformed=on_malformed)
        if not loaded:
            skipped = f" ({len(loaded.skipped)} malformed record(s) skipped)" if loaded.skipped else ""
            raise DataSelectionError(f"data.{key}: {path} has no {split!r} tasks{skipped}")
        selection.loaded += len(loaded)
        selection.skipped.extend(loaded.skipped)
        kept = _filter(loaded, rows, exclude, selection)
        if not kept:
            raise DataSelectionError(f"data.{key}: every {split!r} task of {path} is excluded "
                                     f"({selection.excluded}) by data.audit={audit} with data.exclude={exclude}")
        selection.tasks.extend(kept[:limit] if limit is not None else kept)
    if selection.unaudited and rows is not None:
        log.warning("data.audit=%s has no current row for %d of the %d %s task(s); they are kept", audit,
                    selection.unaudited, selection.loaded, split)
    if selection.excluded:
        log.info("data.audit: excluded %s of %d %s task(s)", selection.excluded, selection.loaded, split)
    return selection
