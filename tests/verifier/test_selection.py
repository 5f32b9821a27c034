"""verifier.selection: Best@K picks the top-scored of the first K rollouts, rejection sampling keeps the
top-scored successes, pairs are (highest-scored correct, lowest-scored incorrect); ties go to rollout 0 side."""

from __future__ import annotations

import pytest
from scored_trajectories import trajectory

from verifier.selection import best_of_k, rejection_sample, scored_pairs


def key(t):
    return (t.task_id, t.policy, t.rollout_index)


@pytest.fixture()
def rollouts():
    # task a: rollouts 0..3, correct = F T T F; task b: all wrong
    a = [trajectory("biostat/a", r, c) for r, c in enumerate([False, True, True, False])]
    b = [trajectory("biostat/b", r, False) for r in range(4)]
    return a, b


def test_best_of_k(rollouts):
    a, b = rollouts
    scores = {key(t): s for t, s in zip(a, [0.9, 0.5, 0.8, 0.95])} | {key(t): 0.3 for t in b}
    assert best_of_k(a + b, scores)["biostat/a"].rollout_index == 3          # top of all 4
    assert best_of_k(a + b, scores, k=3)["biostat/a"].rollout_index == 0     # top of rollouts 0..2
    assert best_of_k(a + b, scores, k=2)["biostat/b"].rollout_index == 0     # a tie goes to the lower index
    with pytest.raises(ValueError, match="k = 0"):
        best_of_k(a, scores, k=0)
    with pytest.raises(KeyError, match="no verifier score"):
        best_of_k(a, {})


def test_rejection_sample_keeps_top_scored_successes(rollouts):
    a, b = rollouts
    scores = {key(t): s for t, s in zip(a, [0.99, 0.5, 0.8, 0.95])} | {key(t): 0.9 for t in b}
    kept = rejection_sample(a + b, scores, per_task=1)
    assert [key(t) for t in kept] == [key(a[2])]                  # the best CORRECT one, not the best overall
    assert [t.rollout_index for t in rejection_sample(a, scores, per_task=5)] == [2, 1]
    assert rejection_sample(a, scores, min_score=0.9) == []


def test_scored_pairs(rollouts):
    a, b = rollouts
    scores = {key(t): s for t, s in zip(a, [0.2, 0.5, 0.8, 0.7])} | {key(t): 0.1 for t in b}
    assert [(c.rollout_index, r.rollout_index) for c, r in scored_pairs(a + b, scores)] == [(2, 0)]
