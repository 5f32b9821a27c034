"""`benchmarks/sandbox.py` as `make bench` runs it: a table, then last one JSON line with every figure issue 2
names, the reference prototype's calibration rows included. Short rows: this checks the benchmark works and
reports what it promises, not the figures themselves (they need a quiet machine and longer rows)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "sandbox.py"
pytestmark = pytest.mark.slow


def test_sandbox_benchmark_prints_the_table_then_one_json_line():
    proc = subprocess.run([sys.executable, str(BENCHMARK), "--seconds", "0.3"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    table = [line.split() for line in lines if line.split() and line.split()[0] in
             ("subprocess", "reference", "pool", "server")]
    rows = {(cells[0], cells[1], int(cells[2])): cells for cells in table}
    for mode in ("subprocess", "reference", "pool", "server"):
        for snippet in ("tiny", "pandas"):
            for conc in (1, 2):
                cells = rows[(mode, snippet, conc)]
                assert int(cells[3]) >= 1 and cells[-1] == "0", cells  # ran, and every answer was right
    assert summary["failures"] == 0
    for key in ("pandas_pool_exec_per_s", "pandas_subprocess_exec_per_s", "pandas_pool_p99_ms",
                "tiny_pool_exec_per_s", "server_pandas_exec_per_s", "reference_pandas_exec_per_s",
                "reference_tiny_exec_per_s"):
        assert isinstance(summary[key], float) and summary[key] > 0, key
    # The ratios are the rows' own figures divided, in the same run.
    assert summary["pandas_pool_vs_reference"] == round(
        summary["pandas_pool_exec_per_s"] / summary["reference_pandas_exec_per_s"], 2)
    assert summary["machine_vs_recorded_pandas"] == round(
        summary["reference_pandas_exec_per_s"] / summary["reference_recorded"]["pandas_exec_per_s"], 2)
    assert set(summary["targets"]) == {"pandas_pool_exec_per_s", "pandas_pool_p99_ms", "pandas_pool_vs_subprocess",
                                       "tiny_pool_exec_per_s", "server_vs_pool_pandas"}
    assert summary["targets_total"] == 5
    assert all(isinstance(t["pass"], bool) for t in summary["targets"].values())


TIERS_BENCHMARK = BENCHMARK.parent / "sandbox_tiers.py"


def test_tiers_benchmark_compares_both_backends_and_ends_with_json():
    proc = subprocess.run([sys.executable, str(TIERS_BENCHMARK), "--seconds", "0.2", "--rounds", "2"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["failures"] == 0
    tiers = {cells[0]: cells[2] for cells in (line.split() for line in lines[2:-1])}
    assert tiers == {"tiny": "stdlib", "pandas": "light", "sklearn": "full", "shell": "stdlib"}
    for snippet in ("tiny", "pandas", "sklearn", "shell"):
        for conc in (1, 2):
            key = f"{snippet}_c{conc}"
            tiered, single = summary[f"{key}_tiered_exec_per_s"], summary[f"{key}_single_exec_per_s"]
            assert tiered > 0 and single > 0
            assert summary[f"{key}_tiered_vs_single"] == round(tiered / single, 2)
