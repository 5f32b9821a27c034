"""kill -9 in the middle of the second stage, re-run: the pipeline resumes at that stage (the first is not
re-run) and ends with the same outputs as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cheap_recipe import REPO, cheap_overrides

from copilot.pipeline import DONE, run

EXTRA = ("data.limit_train=6", "recipe.stages.1.k=3")       # 2 packs x 6 tasks x 3 rollouts = 36 episodes


def store_lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def outcome(store: Path) -> list[tuple]:
    records = [json.loads(line) for line in store.read_text().splitlines() if line.strip()]
    return sorted((r["task_id"], r["policy"], r["rollout_index"], r["reward"]["correct"],
                   json.dumps(r["final_answer"], sort_keys=True)) for r in records)


@pytest.mark.slow
def test_kill_during_second_stage_resumes_there(tmp_path, cheap_config):
    argv = [sys.executable, "-m", "copilot.train", *cheap_overrides(tmp_path, *EXTRA)]
    run_dir = tmp_path / "runs" / "cheap"
    store = run_dir / "sample_expert" / "trajectories.jsonl"
    log = open(tmp_path / "first.log", "w")
    process = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while store_lines(store) < 2:           # the second stage has written some rollouts
            assert process.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the second stage did not start in time"
            time.sleep(0.05)
    finally:
        # SIGKILL the whole session of the run we started (the sandbox workers are its children)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        log.close()
    lines_at_kill = store_lines(store)
    assert (run_dir / "packs" / DONE).exists() and not (run_dir / "sample_expert" / DONE).exists()
    assert 2 <= lines_at_kill < 36
    packs_done = (run_dir / "packs" / DONE).stat().st_mtime_ns

    resumed = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "stage 1/2: packs (packs) -- done earlier, skipped" in resumed.stderr
    assert (run_dir / "packs" / DONE).stat().st_mtime_ns == packs_done
    assert len((run_dir / "packs" / "command.txt").read_text().splitlines()) == 1
    assert len((run_dir / "sample_expert" / "command.txt").read_text().splitlines()) == 2
    assert (run_dir / "sample_expert" / DONE).exists()

    # an uninterrupted run of the same recipe (another run name, the same packs) ends with the same outputs
    reference = run(cheap_config(*EXTRA, "run.name=uninterrupted"), "reference")
    reference_store = Path(reference["stages"][1]["outputs"]["trajectories"])
    assert store_lines(store) == 36
    assert outcome(store) == outcome(reference_store)
