"""The audit's summary: per dataset and split, how many tasks got each verdict, and why the others failed.

    rows = AuditLog(path).latest().values()
    table = summarise(rows)            # [{"dataset", "split", "tasks", "gradable", ..., "reasons"}]
    print(markdown(table))             # the table the README shows

"reasons" counts the reason *kinds* of the non-gradable rows (the text before the first ':' of the reason,
e.g. "null mutant 'return None' scored correct", "reference failed", "needs numpy<2"), so the table stays short.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from copilot.tasks.audit import GRADABLE, VERDICTS

COLUMNS = ("tasks",) + VERDICTS


def reason_kind(reason: str) -> str:
    kind = reason.split(":", 1)[0].strip()
    kind = re.sub(r" \(of \[.*", "", kind)          # "null mutant 'pass' scored correct (of [...])"
    return kind[:80]


def summarise(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (dataset, split), sorted, with the verdict counts, the gradable share and reason kinds."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(str(row.get("dataset")), str(row.get("split")))].append(row)
    table = []
    for (dataset, split), members in sorted(groups.items()):
        counts = Counter(row["verdict"] for row in members)
        entry: dict[str, Any] = {"dataset": dataset, "split": split, "tasks": len(members)}
        entry.update({verdict: counts.get(verdict, 0) for verdict in VERDICTS})
        judged = len(members) - entry["needs_data"] - entry["malformed"]
        entry["gradable_share"] = round(entry[GRADABLE] / judged, 4) if judged else None
        entry["reasons"] = dict(Counter(reason_kind(row.get("reason", "")) for row in members
                                        if row["verdict"] != GRADABLE).most_common())
        table.append(entry)
    return table


def _share(entry: dict[str, Any]) -> str:
    share = entry["gradable_share"]
    return "–" if share is None else f"{100 * share:.1f}%"


def markdown(table: list[dict[str, Any]]) -> str:
    """A Markdown table: verdict counts per dataset/split, the gradable share of the tasks that could be
    judged (data present, record readable), and the reason kinds."""
    head = ["dataset", "split", *COLUMNS, "gradable of judged", "why not gradable"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for entry in table:
        reasons = "; ".join(f"{kind} ({n})" for kind, n in entry["reasons"].items()) or "–"
        cells = [entry["dataset"], entry["split"], *(str(entry[c]) for c in COLUMNS), _share(entry), reasons]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def print_table(table: list[dict[str, Any]]) -> None:
    """The summary as a rich table on the terminal."""
    from rich.console import Console
    from rich.table import Table

    shown = Table(title="Gradability audit")
    for column in ("dataset", "split", *COLUMNS, "gradable of judged"):
        shown.add_column(column, no_wrap=True)
    shown.add_column("why not gradable", overflow="fold", min_width=40)
    for entry in table:
        reasons = "\n".join(f"{kind} ({n})" for kind, n in entry["reasons"].items()) or "–"
        shown.add_row(entry["dataset"], entry["split"], *(str(entry[c]) for c in COLUMNS), _share(entry), reasons)
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)   # a log file or pipe: do not fold the table to 80 columns
    console.print(shown)
