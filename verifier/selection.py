"""Using verifier scores: Best@K selection and rejection sampling (SFT data and DPO pairs).

    scores = Verifier.load(dir).score_trajectories(rollouts)          # key -> P(YES)
    picked = best_of_k(rollouts, scores, k=8)                          # task_id -> the top-scored of its first 8
    sft_rows = rejection_sample(rollouts, scores, per_task=1)          # top-scored SUCCESSES per task
    pairs = scored_pairs(rollouts, scores)                             # (highest-scored correct, lowest-scored incorrect)

A key is (task_id, policy, rollout_index) (copilot.sampling.trajectory_store.trajectory_key). Ties in score go
to the lower rollout index (rollout 0 is the greedy one), so selection is deterministic.

Rejection sampling keeps only trajectories the correctness reward marks correct and ranks them by the
verifier: the verifier decides which successes are the cleanest, never whether a failure counts. The DPO pairs
are the idpo stage's own (copilot.stages.dpo.correct_vs_incorrect_rows) with verifier scores as the ranking;
`scored_pairs` returns the chosen / rejected trajectories so that callers can build rows in any format.

Not protected against: scores from a verifier trained on the very rollouts being selected (overfit scores
make Best@K look better than it is; score held-out rollouts).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

Key = tuple[str, str, int]


def _key(trajectory: Any) -> Key:
    return (trajectory.task_id, trajectory.policy, int(trajectory.rollout_index))


def _score(trajectory: Any, scores: Mapping[Key, float]) -> float:
    key = _key(trajectory)
    if key not in scores:
        raise KeyError(f"no verifier score for task {key[0]!r}, policy {key[1]!r}, rollout {key[2]}; score every "
                       f"rollout first (verifier.scoring.Verifier.score_trajectories)")
    return float(scores[key])


def _ranked(group: list, scores: Mapping[Key, float]) -> list:
    """Best first: higher score, then lower rollout index."""
    return sorted(group, key=lambda t: (-_score(t, scores), int(t.rollout_index)))


def by_task(trajectories: Iterable[Any]) -> dict[str, list]:
    groups: dict[str, list] = defaultdict(list)
    for trajectory in trajectories:
        groups[trajectory.task_id].append(trajectory)
    return dict(groups)


def best_of_k(trajectories: Iterable[Any], scores: Mapping[Key, float], k: int | None = None) -> dict[str, Any]:
    """task_id -> its top-scored rollout among rollout indices < k (all rollouts when k is None)."""
    if k is not None and k < 1:
        raise ValueError(f"k = {k}: expected >= 1")
    picked = {}
    for task_id, group in by_task(trajectories).items():
        candidates = [t for t in group if k is None or int(t.rollout_index) < k]
        if not candidates:
            raise ValueError(f"task {task_id!r}: no rollout with index < {k} (it has {sorted(t.rollout_index for t in group)})")
        picked[task_id] = _ranked(candidates, scores)[0]
    return picked


def rejection_sample(trajectories: Iterable[Any], scores: Mapping[Key, float], per_task: int = 1,
                     min_score: float | None = None) -> list:
    """The `per_task` top-scored correct rollouts of each task (optionally only those scored >= min_score)."""
    if per_task < 1:
        raise ValueError(f"per_task = {per_task}: expected >= 1")
    kept = []
    for group in by_task(trajectories).values():
        correct = [t for t in group if t.reward and t.reward.get("correct") is True]
        ranked = [t for t in _ranked(correct, scores) if min_score is None or _score(t, scores) >= min_score]
        kept.extend(ranked[:per_task])
    return kept


def scored_pairs(trajectories: Iterable[Any], scores: Mapping[Key, float]) -> list[tuple[Any, Any]]:
    """Per task with both outcomes: (highest-scored correct rollout, lowest-scored incorrect rollout)."""
    pairs = []
    for group in by_task(trajectories).values():
        correct = [t for t in group if t.reward and t.reward.get("correct") is True]
        wrong = [t for t in group if not (t.reward and t.reward.get("correct") is True)]
        if correct and wrong:
            pairs.append((_ranked(correct, scores)[0], _ranked(wrong, scores)[-1]))
    return pairs
