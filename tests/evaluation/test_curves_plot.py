"""The Pass@K / Best@K plot: a real PNG, one solid and one dashed line per label, pyplot left alone."""

import subprocess
import sys
from pathlib import Path

import pytest

from copilot.evaluation.curves_plot import TITLE, curves_figure, plot_curves
from copilot.evaluation.pass_at_k import curves

REPO = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

GROUPS = {
    "a": [(0, 0.9, True), (1, 0.1, False), (2, 0.5, False), (3, 0.3, False)],
    "b": [(0, 0.2, False), (1, 0.8, False), (2, 0.6, True), (3, 0.4, True)],
}
UNSCORED = {"a": [(0, None, True), (1, None, False), (2, None, False), (3, None, False)]}


def test_png_is_written(tmp_path):
    data = {"base": curves(GROUPS, [1, 2, 3, 4]), "greedy-only": curves(UNSCORED, [1, 2, 4])}
    path = plot_curves(data, tmp_path / "plots" / "curves.png")
    assert path == tmp_path / "plots" / "curves.png"
    content = path.read_bytes()
    assert content[:8] == PNG_MAGIC
    assert 10_000 < len(content) < 2_000_000


def test_pyplot_and_global_backend_untouched(tmp_path):
    # dict.__getitem__: reading rcParams["backend"] itself would resolve the backend through pyplot
    script = ("import sys, matplotlib; backend = lambda: dict.__getitem__(matplotlib.rcParams, 'backend'); "
              "before = backend(); "
              "from copilot.evaluation.curves_plot import plot_curves; "
              "plot_curves({'m': {'k': [1, 2], 'pass_at_k': {1: 0.5, 2: 0.75}, 'best_at_k': None}}, sys.argv[1]); "
              "print('pyplot' if 'matplotlib.pyplot' in sys.modules else 'no-pyplot', "
              "backend() == before)")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "p.png")], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["no-pyplot", "True"]
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG_MAGIC


def test_lines_styles_and_values():
    data = {"base": curves(GROUPS, [1, 2, 4]), "greedy-only": curves(UNSCORED, [1, 2, 4])}
    axes = curves_figure(data).axes[0]
    lines = axes.get_lines()
    assert [line.get_label() for line in lines] == ["base Pass@K", "base Best@K", "greedy-only Pass@K"]
    assert [line.get_linestyle() for line in lines] == ["-", "--", "-"]
    assert list(lines[0].get_xdata()) == [1, 2, 4]
    assert list(lines[0].get_ydata()) == pytest.approx([100 * data["base"]["pass_at_k"][k] for k in (1, 2, 4)])
    assert list(lines[1].get_ydata()) == pytest.approx([100 * data["base"]["best_at_k"][k] for k in (1, 2, 4)])
    assert list(lines[2].get_ydata()) == pytest.approx([25.0, 50.0, 100.0])
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    assert list(axes.get_xticks()) == [1, 2, 4]
    assert axes.get_title() == TITLE
    assert [text.get_text() for text in axes.get_legend().get_texts()] == [line.get_label() for line in lines]


def test_json_round_tripped_keys_are_accepted():
    data = curves(GROUPS, [1, 2])
    as_json = {"k": [1, 2], "pass_at_k": {str(k): v for k, v in data["pass_at_k"].items()}, "best_at_k": None}
    lines = curves_figure({"x": as_json}).axes[0].get_lines()
    assert len(lines) == 1 and lines[0].get_linestyle() == "-"


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="no curves"):
        plot_curves({}, tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"curves\['x'\] must be a dict"):
        plot_curves({"x": {"pass_at_k": {1: 0.5}}}, tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"curves\['x'\]\['pass_at_k'\] has no number for K = 2"):
        plot_curves({"x": {"k": [1, 2], "pass_at_k": {1: 0.5}, "best_at_k": None}}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
