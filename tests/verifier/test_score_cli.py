"""`python -m verifier.score`: scores a trajectory store and writes them next to it; bad inputs exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from scored_trajectories import trajectory

from copilot.sampling.trajectory_store import TrajectoryStore
from verifier.score import load_scores, scores_path
from verifier.scoring import Verifier

REPO = Path(__file__).resolve().parents[2]


def test_scores_a_store_next_to_it(tiny_verifier_dir, tmp_path):
    store_path = tmp_path / "trajectories.jsonl"
    rollouts = [trajectory("biostat/t/0", r, r == 0, answer=str(r)) for r in range(3)]
    with TrajectoryStore(store_path) as store:
        for t in rollouts:
            store.append(t)
    done = subprocess.run([sys.executable, "-m", "verifier.score", "--verifier", str(tiny_verifier_dir),
                           str(store_path), "--batch-size", "2"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    target = tmp_path / "trajectories.verifier_scores.jsonl"
    assert scores_path(store_path) == target and str(target) in done.stdout
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [(r["rollout_index"], r["correct"]) for r in rows] == [(0, True), (1, False), (2, False)]
    expected = Verifier.load(tiny_verifier_dir).score_trajectories(rollouts)
    assert load_scores(target) == pytest.approx(expected, abs=1e-6)


def test_bad_inputs(tiny_verifier_dir, tmp_path):
    done = subprocess.run([sys.executable, "-m", "verifier.score", "--verifier", str(tiny_verifier_dir),
                           str(tmp_path / "missing.jsonl")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "does not exist" in done.stderr
    bad = tmp_path / "bad.verifier_scores.jsonl"
    bad.write_text('{"task_id": "a", "policy": "p", "rollout_index": 0, "score": 0.5}\n{"task_id": "a"}\n')
    with pytest.raises(ValueError, match=r"bad.verifier_scores.jsonl:2: expected a JSON object"):
        load_scores(bad)
