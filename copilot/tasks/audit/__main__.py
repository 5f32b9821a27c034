"""python -m copilot.tasks.audit DATA_DIR [--datasets ...] [--splits ...] [--out audit.jsonl] [--workers N]

Audits every task of the dataset directories under DATA_DIR (a MedAgentGym release laid out as
$MEDAGENTGYM_DIR, an offline-pack root such as data/offline, or one dataset directory) and appends one row per
task to --out (default runs/audit/audit.jsonl); then prints the summary table per dataset and split and writes
it next to --out (<out>.summary.md and .summary.json). What each verdict means: `task_checks`.

Resumable: a task whose row is already in --out with the same content fingerprint is not audited again
(`--redo` audits everything again; the last row of a task counts). Parallel: --workers tasks at a time
(joblib threads over one sandbox backend with --workers warm workers), with a progress bar.
Bad input never stops the audit: a dataset directory that is missing, unreadable or lacks a split is named
in the "problems" list; a malformed record gets a "malformed" row naming its file:line; a task whose check
crashed (a sandbox failure, not a finding about the task) is listed and retried by the next run.
Exit status: 0 when every dataset was read and every task audited, 1 when something was listed as a problem
(after auditing the rest), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from copilot import tasks as task_loading
from copilot.tasks.audit import MALFORMED
from copilot.tasks.audit.audit_log import AuditLog
from copilot.tasks.audit.summary import markdown, print_table, summarise
from copilot.tasks.loaders.release_layout import SPLITS, TaskDataMissingError
from copilot.tasks.task import TaskFormatError

log = logging.getLogger("copilot.tasks.audit")
DEFAULT_OUT = "runs/audit/audit.jsonl"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m copilot.tasks.audit", description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path, help="release root, pack root, or one dataset directory")
    parser.add_argument("--datasets", nargs="+", default=None, help="dataset directory names to audit (default: all)")
    parser.add_argument("--splits", nargs="+", choices=SPLITS, default=None, help="default: every split present")
    parser.add_argument("--out", type=Path, default=Path(DEFAULT_OUT), help=f"audit rows (default {DEFAULT_OUT})")
    parser.add_argument("--workers", type=int, default=2, help="tasks audited at once (and sandbox workers)")
    parser.add_argument("--timeout-s", type=float, default=30.0, help="wall-clock limit of each sandbox run")
    parser.add_argument("--medcalc-verified", type=Path, default=None,
                        help="MedCalc-Bench-Verified's test CSV, to attach its answer to MedCalc-Bench rows")
    parser.add_argument("--redo", action="store_true", help="audit every task again (rows are appended)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.workers < 1 or args.timeout_s <= 0:
        parser.error("--workers must be >= 1 and --timeout-s > 0")
    return args


def dataset_dirs(data_dir: Path, names: list[str] | None, problems: list[str]) -> list[Path]:
    """The dataset directories to audit: data_dir itself when it is one, else its dataset subdirectories."""
    if not data_dir.is_dir():
        problems.append(f"{data_dir}: not a directory (expected a release root, a pack root or a dataset dir)")
        return []
    if _is_dataset(data_dir):
        found = [data_dir]
    else:
        found = [d for d in sorted(data_dir.iterdir()) if d.is_dir() and _is_dataset(d)]
    if names is not None:
        present = {d.name for d in found}
        problems.extend(f"{data_dir / name}: no such dataset directory (found {sorted(present)})"
                        for name in names if name not in present)
        found = [d for d in found if d.name in names]
    if not found and not problems:
        problems.append(f"{data_dir}: holds no dataset directory (names {sorted(task_loading.LOADERS)}, or packs "
                        "with a pack.json)")
    return found


def _is_dataset(path: Path) -> bool:
    return (path / "pack.json").is_file() or path.name in task_loading.LOADERS


def load_split(path: Path, split: str) -> tuple[list, str | None, list]:
    """(tasks, why their data is missing or None, skipped malformed records) of one split."""
    try:
        loaded = task_loading.load(path, split, on_malformed="skip")
        return loaded, None, loaded.skipped
    except TaskDataMissingError as missing:
        loaded = task_loading.load(path, split, require_resources=False, on_malformed="skip")
        return loaded, f"needs data: {missing}", loaded.skipped


def malformed_row(dataset: str, split: str, skipped) -> dict[str, Any]:
    return {"task_id": f"{dataset}/{split}/{skipped.source}", "dataset": dataset, "split": split,
            "source": skipped.source, "fingerprint": None, "verdict": MALFORMED, "reason": skipped.error,
            "checks": {}}


def open_audit_backend(workers: int, roots: list[Path]):
    """A process sandbox that pre-imports what task code imports (skimage, pysam, ... when installed)."""
    from reward.serve import REWARD_PRELOAD, available_modules
    from sandbox import open_backend

    preload = available_modules(REWARD_PRELOAD + ("skimage", "pysam", "Bio"))
    return open_backend("process", workers=workers, preload=preload, data_roots=[str(r.resolve()) for r in roots])


def _audit_one(task, context) -> tuple[str, Any]:
    from copilot.tasks.audit.task_checks import audit_task

    try:
        return "row", audit_task(task, context)
    except Exception as err:  # noqa: BLE001 - an infrastructure failure: listed and retried, never a verdict
        return "error", f"{task.id}: {type(err).__name__}: {err}"


def run_pending(pending: list[tuple[Any, Any]], audit_log: AuditLog, workers: int, progress: bool) -> list[str]:
    """Audit (task, context) pairs `workers` at a time, appending each row as it finishes; the errors."""
    from joblib import Parallel, delayed
    from tqdm import tqdm

    errors: list[str] = []
    jobs = Parallel(n_jobs=workers, backend="threading", return_as="generator_unordered")(
        delayed(_audit_one)(task, context) for task, context in pending)
    with tqdm(total=len(pending), desc="audit", unit="task", disable=not progress) as bar:
        for kind, value in jobs:
            if kind == "row":
                audit_log.append_record(value)
            else:
                errors.append(value)
                log.error("audit of %s", value)
            bar.update(1)
    return errors


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    from copilot.tasks.audit.dataset_context import dataset_context
    from copilot.tasks.audit.task_checks import fingerprint

    problems: list[str] = []
    dirs = dataset_dirs(args.data_dir, args.datasets, problems)
    audit_log = AuditLog(args.out)
    done = {} if args.redo else audit_log.latest()
    in_scope: list[str] = []
    pending: list[tuple[Any, Any]] = []
    verified = _verified(args.medcalc_verified, problems)
    with open_audit_backend(args.workers, dirs or [args.data_dir]) as backend:
        for path in dirs:
            for split in args.splits or task_loading.available_splits(path):
                try:
                    loaded, data_missing, skipped = load_split(path, split)
                except (TaskFormatError, OSError, ValueError) as err:
                    problems.append(f"{path} ({split}): {err}")
                    continue
                dataset = loaded[0].dataset if loaded else path.name
                for record in skipped:
                    row = malformed_row(dataset, split, record)
                    in_scope.append(row["task_id"])
                    if row["task_id"] not in done:
                        audit_log.append_record(row)
                try:
                    context = dataset_context(loaded, backend, args.timeout_s, data_missing, verified)
                except RuntimeError as err:
                    problems.append(f"{path} ({split}): {err}")
                    continue
                for task in loaded:
                    in_scope.append(task.id)
                    if done.get(task.id, {}).get("fingerprint") != fingerprint(task):
                        pending.append((task, context))
        print(f"auditing {len(pending)} task(s) ({len(in_scope) - len(pending)} already in {args.out})",
              file=sys.stderr)
        errors = run_pending(pending, audit_log, args.workers, not args.no_progress)
    return report(audit_log, in_scope, problems, errors, args.out)


def _verified(path: Path | None, problems: list[str]):
    if path is None:
        return None
    from copilot.tasks.medcalc_verified import read_verified

    try:
        return read_verified(path)
    except (OSError, ValueError) as err:
        problems.append(f"--medcalc-verified {path}: {err}")
        return None


def report(audit_log: AuditLog, in_scope: list[str], problems: list[str], errors: list[str], out: Path) -> int:
    latest = audit_log.latest()
    table = summarise(latest[task_id] for task_id in dict.fromkeys(in_scope) if task_id in latest)
    print_table(table)
    summary_md = out.with_suffix(".summary.md")
    summary_md.write_text(markdown(table) + "\n", encoding="utf-8")
    out.with_suffix(".summary.json").write_text(
        json.dumps({"datasets": table, "problems": problems, "errors": errors}, indent=2) + "\n", encoding="utf-8")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    for error in errors:
        print(f"not audited (retried by the next run): {error}", file=sys.stderr)
    print(f"rows: {out}; summary: {summary_md}", file=sys.stderr)
    return 1 if problems or errors else 0


if __name__ == "__main__":
    sys.exit(main())
