"""One PNG of Pass@K (solid) and Best@K (dashed) curves, one colour per labelled model.

    from copilot.evaluation.pass_at_k import curves
    plot_curves({"base": curves(base_groups, range(1, 17)), "tuned": curves(tuned_groups, range(1, 17))},
                "runs/eval/pass_best_at_k.png")
    figure = curves_figure({"base": curves(base_groups, [1, 2, 4, 8, 16])})   # the Figure, not saved

Each value is a dict as `pass_at_k.curves` returns: "k" (the Ks), "pass_at_k" {k: fraction}, "best_at_k"
{k: fraction} or None (no verifier scores: only the Pass@K line is drawn). Keys may be ints or, after a
JSON round trip, their strings. The y axis is percent; the x axis has a tick at every K plotted.

Rendered with `matplotlib.figure.Figure` and the Agg canvas, never pyplot, so the process's global backend
and pyplot's figure registry are left alone. Simplified: one fixed size (7 x 4.5 in, 150 dpi) and
matplotlib's default colour cycle (labels past the tenth reuse colours). Not protected against: labels so
long that the legend covers the curves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

TITLE = "Pass@K and Best@K"


def _values(label: str, name: str, by_k: Any, ks: list[int]) -> list[float]:
    if not isinstance(by_k, Mapping):
        raise ValueError(f"curves[{label!r}][{name!r}] must map K -> fraction, got {type(by_k).__name__}")
    out = []
    for k in ks:
        value = by_k.get(k, by_k.get(str(k)))
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise ValueError(f"curves[{label!r}][{name!r}] has no number for K = {k} (got {value!r})")
        out.append(100.0 * value)
    return out


def _series(label: str, curve: Any) -> tuple[list[int], list[float], list[float] | None]:
    if not isinstance(curve, Mapping) or "k" not in curve or "pass_at_k" not in curve:
        raise ValueError(f"curves[{label!r}] must be a dict from pass_at_k.curves with keys 'k' and 'pass_at_k'")
    ks = [int(k) for k in curve["k"]]
    if not ks:
        raise ValueError(f"curves[{label!r}]['k'] is empty")
    passed = _values(label, "pass_at_k", curve["pass_at_k"], ks)
    best = curve.get("best_at_k")
    return ks, passed, (_values(label, "best_at_k", best, ks) if best is not None else None)


def curves_figure(curves: Mapping[str, dict[str, Any]]) -> Figure:
    """The figure `plot_curves` saves, with an Agg canvas attached (for inspection or other formats)."""
    if not curves:
        raise ValueError("plot_curves: no curves to plot")
    series = {str(label): _series(str(label), curve) for label, curve in curves.items()}
    figure = Figure(figsize=(7, 4.5), dpi=150)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    all_ks: set[int] = set()
    for index, (label, (ks, passed, best)) in enumerate(series.items()):
        colour = f"C{index % 10}"
        axes.plot(ks, passed, linestyle="-", marker="o", markersize=3, color=colour, label=f"{label} Pass@K")
        if best is not None:
            axes.plot(ks, best, linestyle="--", marker="s", markersize=3, color=colour, label=f"{label} Best@K")
        all_ks.update(ks)
    axes.set_xticks(sorted(all_ks))
    axes.set_xlabel("K")
    axes.set_ylabel("success rate (%)")
    axes.set_title(TITLE)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    return figure


def plot_curves(curves: Mapping[str, dict[str, Any]], path: Path | str) -> Path:
    """Write the PNG to path (parent directories created) and return it as a Path."""
    figure = curves_figure(curves)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", metadata={"Software": None})
    return path
