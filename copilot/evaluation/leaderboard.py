"""A leaderboard in the MedAgentGym paper's layout: one row per model, success rates (%) per dataset.

    results = load_results(["runs/a/eval", "runs/b/eval/results.json"])   # a results.json or its directory
    header, rows = table_rows(results)                 # cells as strings, "–" where a model lacks a dataset
    md_path, csv_path = write_leaderboard(results, out_dir)               # leaderboard.md + leaderboard.csv

    python -m copilot.evaluation.leaderboard RESULT [RESULT ...] --out DIR [--ood ehrcon,ehrshot]

A result is a dict with at least {"label": str, "success_rate": {dataset: SR in [0, 1]}, "n": {dataset:
episodes}}; other keys are ignored. Columns: "model", the in-distribution datasets (sorted), "ID avg", the
out-of-distribution datasets (sorted), "OOD avg", "avg", "tasks". Markdown has no two-level header, so the group is
a prefix ("ID: biostat", "OOD: ehrcon"); the CSV has the same columns. A group with no dataset is left out
(no empty average column). Cells are percent with 2 decimals; every average is a macro mean over the
datasets the model has ("avg" over all of them, not the mean of the two group averages), so a model that
lacks a dataset another model has shows "–" there and is averaged over fewer datasets: compare such rows
with care. Rows keep the order of `results`; the output bytes depend only on the inputs.

Which datasets are out-of-distribution: PAPER_OUT_OF_DISTRIBUTION is our reading of the paper's grouping
of its datasets, not a list the paper publishes as such; every other dataset, the offline packs biostat /
ehr_sql / medcalc / biocoder included, counts as in-distribution. Pass `out_of_distribution` (or --ood)
to choose another split.

Simplified: no confidence intervals and no per-dataset episode counts (n is checked; its sum is shown); percentages
are rounded by Python's "{:.2f}" formatting of the binary float (30.625 may print as 30.63). The last column,
"tasks", says how many tasks the row covers (`tasks_cell`: with the gradability audit's exclusions when the
result records them). Not protected
against: results of different splits or task sets under one label, or two results with the same label
(both rows are kept).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

PAPER_OUT_OF_DISTRIBUTION = ("biodsbench", "ehrshot", "ehr_seqsql", "ehrcon", "mimic_extract", "npowerai")
RESULTS_JSON = "results.json"
LEADERBOARD_MD = "leaderboard.md"
LEADERBOARD_CSV = "leaderboard.csv"
MISSING = "–"
REQUIRED_KEYS = ("label", "success_rate", "n")


def _check_result(result: Any, where: str) -> None:
    if not isinstance(result, dict):
        raise ValueError(f"{where}: expected a JSON object with keys {list(REQUIRED_KEYS)}, got "
                         f"{type(result).__name__}")
    for key in REQUIRED_KEYS:
        if key not in result:
            raise ValueError(f"{where}: missing key {key!r}; a result needs {list(REQUIRED_KEYS)}")
    if not isinstance(result["label"], str) or not result["label"]:
        raise ValueError(f"{where}: key 'label' must be a non-empty string, got {result['label']!r}")
    _check_rates(result["success_rate"], result["n"], where)


def _check_rates(rates: Any, counts: Any, where: str) -> None:
    if not isinstance(rates, dict) or not isinstance(counts, dict):
        raise ValueError(f"{where}: keys 'success_rate' and 'n' must map dataset -> value")
    for dataset, rate in rates.items():
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or math.isnan(rate) or not 0 <= rate <= 1:
            raise ValueError(f"{where}: success_rate[{dataset!r}] must be a number in [0, 1], got {rate!r}")
        if dataset not in counts:
            raise ValueError(f"{where}: missing key 'n'[{dataset!r}] (episodes of a dataset with a success rate)")
        count = counts[dataset]
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"{where}: n[{dataset!r}] must be a positive integer (episodes), got {count!r}")


def _groups(results: Sequence[dict[str, Any]], out_of_distribution: Iterable[str]) -> tuple[list[str], list[str]]:
    ood = set(out_of_distribution)
    names = sorted({dataset for result in results for dataset in result["success_rate"]})
    return [name for name in names if name not in ood], [name for name in names if name in ood]


def _percent(value: float) -> str:
    return f"{100 * value:.2f}"


def _average(rates: dict[str, float], names: list[str]) -> str:
    present = [rates[name] for name in names if name in rates]
    return _percent(sum(present) / len(present)) if present else MISSING


def table_rows(results: Sequence[dict[str, Any]],
               out_of_distribution: Iterable[str] = PAPER_OUT_OF_DISTRIBUTION) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the leaderboard, every cell a string (see the module docstring for the columns)."""
    results = list(results)
    if not results:
        raise ValueError("table_rows: no results to tabulate")
    for index, result in enumerate(results):
        _check_result(result, f"results[{index}]")
    in_dist, out_dist = _groups(results, out_of_distribution)
    header = ["model"]
    if in_dist:
        header += [f"ID: {name}" for name in in_dist] + ["ID avg"]
    if out_dist:
        header += [f"OOD: {name}" for name in out_dist] + ["OOD avg"]
    header += ["avg", "tasks"]
    rows = []
    for result in results:
        rates = result["success_rate"]
        row = [result["label"]]
        for names in (in_dist, out_dist):
            if names:
                row += [_percent(rates[name]) if name in rates else MISSING for name in names]
                row.append(_average(rates, names))
        row += [_average(rates, in_dist + out_dist), tasks_cell(result)]
        rows.append(row)
    return header, rows


def tasks_cell(result: dict[str, Any]) -> str:
    """How many tasks the row's rates cover: the episodes of its success rates ("n"), and, when the result
    carries the run's data coverage (copilot.tasks.task_selection), of how many loaded and what the
    gradability audit left out, e.g. "83 of 100 (audit excluded 17: ungradable 14, label_disputed 3)"."""
    covered = sum(result["n"].get(name, 0) for name in result["success_rate"])
    coverage = result.get("coverage") or {}
    loaded, excluded = coverage.get("loaded"), coverage.get("excluded") or {}
    if not loaded or loaded == covered and not excluded:
        return str(covered)
    text = f"{covered} of {loaded}"
    if excluded:
        parts = ", ".join(f"{verdict} {n}" for verdict, n in sorted(excluded.items()))
        text += f" (audit excluded {sum(excluded.values())}: {parts})"
    return text


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(results: Sequence[dict[str, Any]],
                out_of_distribution: Iterable[str] = PAPER_OUT_OF_DISTRIBUTION) -> str:
    """The leaderboard as a markdown table under a one-line caption."""
    header, rows = table_rows(results, out_of_distribution)
    lines = ["Success rate (%); ID = in-distribution, OOD = out-of-distribution; averages are macro over the "
             f"datasets a model has; {MISSING} = not evaluated.", "",
             "| " + " | ".join(_md_cell(cell) for cell in header) + " |",
             "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_csv(results: Sequence[dict[str, Any]],
           out_of_distribution: Iterable[str] = PAPER_OUT_OF_DISTRIBUTION) -> str:
    """The leaderboard as CSV ("\\n" line endings), same columns as the markdown table."""
    header, rows = table_rows(results, out_of_distribution)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def load_results(paths: Iterable[Path | str]) -> list[dict[str, Any]]:
    """Each path a results.json or a directory holding one; checked for the keys the table needs."""
    results = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            path = path / RESULTS_JSON
        if not path.is_file():
            raise FileNotFoundError(f"result file {path} does not exist; expected a {RESULTS_JSON} or a "
                                    "directory holding one")
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
        _check_result(result, str(path))
        results.append(result)
    if not results:
        raise ValueError("load_results: no paths given")
    return results


def write_leaderboard(results: Sequence[dict[str, Any]], out_dir: Path | str,
                      out_of_distribution: Iterable[str] = PAPER_OUT_OF_DISTRIBUTION) -> tuple[Path, Path]:
    """leaderboard.md and leaderboard.csv in out_dir (created if needed); returns their paths."""
    out_of_distribution = tuple(out_of_distribution)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, csv_path = out_dir / LEADERBOARD_MD, out_dir / LEADERBOARD_CSV
    md_path.write_bytes(to_markdown(results, out_of_distribution).encode("utf-8"))
    csv_path.write_bytes(to_csv(results, out_of_distribution).encode("utf-8"))
    return md_path, csv_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m copilot.evaluation.leaderboard",
                                     description="Write leaderboard.md and leaderboard.csv from result files.")
    parser.add_argument("results", nargs="+", metavar="RESULT", help="a results.json or a directory holding one")
    parser.add_argument("--out", required=True, type=Path, help="directory for leaderboard.md / leaderboard.csv")
    parser.add_argument("--ood", default=None,
                        help="comma-separated out-of-distribution datasets (default: the paper's; '' for none)")
    args = parser.parse_args(argv)
    ood = (PAPER_OUT_OF_DISTRIBUTION if args.ood is None
           else tuple(name.strip() for name in args.ood.split(",") if name.strip()))
    md_path, csv_path = write_leaderboard(load_results(args.results), args.out, ood)
    print(md_path)
    print(csv_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
