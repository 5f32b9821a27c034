"""Pass@K and Best@K from n rollouts per task, as curves over K.

    pass_at_k(16, 5, 4)                                  # P(at least one of 4 random rollouts is correct)
    best_at_k(rank([(0, 0.9, True), (1, 0.2, False), (2, 0.7, False)]), 2)   # verifier picks the best of 2
    result = curves({"biostat/test/0": [(0, 0.9, True), (1, 0.2, False), ...], ...}, ks=range(1, 17))
    result["pass_at_k"][4], result["best_at_k"][4]       # means over tasks (fractions, not percent)

The MedAgentGym paper reports Pass@K and Best@K for K = 1..16 from 16 rollouts per task, rollout 0 sampled
greedily (T = 0) and the other 15 at T = 0.6. Pass@K is the unbiased estimator of Chen et al. (2021):
1 - C(n-c, k) / C(n, k) for c correct rollouts out of n, computed in the numerically stable product form.
Best@K is the expected correctness of the rollout a verifier scores highest among a uniformly random k-subset
of the n rollouts: sum_i correct_i * C(n-1-i, k-1) / C(n, k), where i is the rollout's rank by score (best
first) and C(n-1-i, k-1) / C(n, k) is the chance that rank i is in the subset and is its best member.

Simplified: both estimators treat the n rollouts of a task as exchangeable draws from one distribution; the
greedy rollout 0 is not (it is deterministic and usually better than a T = 0.6 sample), so the curves are
the paper's protocol read as "any k of the n rollouts", not "rollout 0 plus k-1 samples". Ties in the
verifier score are broken by the lower rollout index (deterministic, but it favours rollout 0). Tasks are
weighted equally, whatever their dataset. Not protected against: rollouts of different tasks mixed into one
group, or a verifier score that is not comparable across rollouts of one task (the caller owns both).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any


def _int_arg(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got the bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})") from None


def _check_k(n: int, k: int) -> None:
    if n < 1:
        raise ValueError(f"n must be >= 1 (the number of rollouts), got n={n}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got k={k}")
    if k > n:
        raise ValueError(f"k must be <= n (the number of rollouts), got k={k} > n={n}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k): the chance that a uniformly random k-subset of n rollouts holds a correct one."""
    n, c, k = _int_arg("n", n), _int_arg("c", c), _int_arg("k", k)
    _check_k(n, k)
    if c < 0:
        raise ValueError(f"c must be >= 0 (the number of correct rollouts), got c={c}")
    if c > n:
        raise ValueError(f"c must be <= n (the number of rollouts), got c={c} > n={n}")
    if n - c < k:  # every k-subset holds a correct rollout
        return 1.0
    # C(n-c, k) / C(n, k) = prod_{i = n-c+1}^{n} (1 - k / i)
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


def best_at_k(correct_by_rank: Sequence[bool], k: int) -> float:
    """Expected correctness of the top-scored rollout of a uniformly random k-subset.

    correct_by_rank: the n rollouts of one task ordered by verifier score, best first (see `rank`).
    At k = n this is correct_by_rank[0]; at k = 1 it is the mean correctness.
    """
    flags = list(correct_by_rank)
    for index, flag in enumerate(flags):
        if flag not in (True, False):  # also admits 0 / 1, which compare equal
            raise ValueError(f"correct_by_rank[{index}] must be a bool, got {flag!r}")
    n, k = len(flags), _int_arg("k", k)
    _check_k(n, k)
    # exact integer numerator; int / int true division is correctly rounded however large the ints are
    hits = sum(math.comb(n - 1 - i, k - 1) for i, flag in enumerate(flags) if flag)
    return hits / math.comb(n, k)


def rank(rollouts: Iterable[tuple[int, float, bool]]) -> list[bool]:
    """Correctness of (rollout_index, score, correct) triples ordered by score descending, ties by lower index."""
    items = list(rollouts)
    seen: set[int] = set()
    for position, item in enumerate(items):
        if len(item) != 3:
            raise ValueError(f"rollouts[{position}] must be (rollout_index, score, correct), got {item!r}")
        index, score, _ = item
        if index in seen:
            raise ValueError(f"rollouts[{position}]: rollout_index {index!r} appears twice")
        seen.add(index)
        if score is None or isinstance(score, bool) or not isinstance(score, (int, float)) or math.isnan(score):
            raise ValueError(f"rollouts[{position}] (rollout {index!r}): score must be a number, not "
                             f"NaN/None, got {score!r}")
    ordered = sorted(items, key=lambda item: (-float(item[1]), item[0]))
    return [bool(correct) for _, _, correct in ordered]


def _check_ks(ks: Sequence[int]) -> list[int]:
    values = sorted({_int_arg("ks[...]", k) for k in ks})
    if not values:
        raise ValueError("ks must name at least one K")
    if values[0] < 1:
        raise ValueError(f"every K in ks must be >= 1, got {values[0]}")
    return values


def _rollouts_per_task(groups: Mapping[str, Sequence[Any]], need: int) -> int:
    if not groups:
        raise ValueError("groups is empty: no tasks to evaluate")
    task_ids = sorted(groups)
    n = len(groups[task_ids[0]])
    for task_id in task_ids:
        count = len(groups[task_id])
        if count != n:
            raise ValueError(f"task {task_id!r} has {count} rollouts but task {task_ids[0]!r} has {n}; "
                             "every task needs the same number of rollouts")
        if count < need:
            raise ValueError(f"task {task_id!r} has {count} rollouts; max(ks) = {need} needs at least {need}")
    return n


def _checked_rollouts(task_id: str, rollouts: Sequence[Any]) -> list[tuple[int, Any, bool]]:
    items = list(rollouts)
    for position, item in enumerate(items):
        if not isinstance(item, (tuple, list)) or len(item) != 3 or item[2] not in (True, False):
            raise ValueError(f"task {task_id!r}: rollout {position} must be (rollout_index, score, correct) "
                             f"with a bool correct, got {item!r}")
    return [(index, score, bool(correct)) for index, score, correct in items]


def _ranked(task_id: str, rollouts: list[tuple[int, Any, bool]]) -> list[bool]:
    try:
        return rank(rollouts)
    except ValueError as error:
        raise ValueError(f"task {task_id!r}: {error}") from None


def _averaged(groups: Mapping[str, Sequence[tuple[int, float | None, bool]]], ks: Sequence[int],
              per_task: Callable[..., dict[int, tuple[float, float | None]]]) -> dict[str, Any]:
    """Checks the groups, then the means over tasks of per_task(task_id, rollouts, n, ks, scored) -> {k: (pass,
    best or None)}; best is None everywhere unless every rollout has a score."""
    values = _check_ks(ks)
    n = _rollouts_per_task(groups, values[-1])
    tasks = {task_id: _checked_rollouts(task_id, groups[task_id]) for task_id in sorted(groups)}
    scored = all(score is not None for rollouts in tasks.values() for _, score, _ in rollouts)
    pass_sums = {k: 0.0 for k in values}
    best_sums = {k: 0.0 for k in values}
    for task_id, rollouts in tasks.items():
        for k, (passed, best) in per_task(task_id, rollouts, n, values, scored).items():
            pass_sums[k] += passed
            best_sums[k] += best or 0.0
    count = len(tasks)
    return {
        "k": values,
        "pass_at_k": {k: pass_sums[k] / count for k in values},
        "best_at_k": {k: best_sums[k] / count for k in values} if scored else None,
        "tasks": count,
        "rollouts_per_task": n,
    }


def curves(groups: Mapping[str, Sequence[tuple[int, float | None, bool]]], ks: Sequence[int]) -> dict[str, Any]:
    """Mean Pass@K and Best@K over tasks for every K in ks (sorted, de-duplicated).

    groups: task_id -> its rollouts as (rollout_index, verifier score or None, correct).
    Returns {"k": [...], "pass_at_k": {k: mean}, "best_at_k": {k: mean} or None when any score is None,
    "tasks": number of tasks, "rollouts_per_task": n}.
    """
    def per_task(task_id: str, rollouts: list, n: int, values: list[int], scored: bool) -> dict:
        correct = sum(1 for _, _, flag in rollouts if flag)
        ranked = _ranked(task_id, rollouts) if scored else None
        return {k: (pass_at_k(n, correct, k), best_at_k(ranked, k) if ranked is not None else None) for k in values}

    return _averaged(groups, ks, per_task)


def first_k_curves(groups: Mapping[str, Sequence[tuple[int, float | None, bool]]],
                   ks: Sequence[int]) -> dict[str, Any]:
    """Pass@K and Best@K over the FIRST k rollouts of each task (rollout indices 0..k-1), no estimator.

    The paper's sampling schedule read literally: K = 1 is the greedy rollout 0, so Pass@1 here equals the
    greedy success rate, and each K adds the next T = 0.6 sample. Pass = any of the first k is correct; Best =
    the top-scored of the first k (ties to the lower index) is correct. One draw per task, so noisier than
    `curves`. Same input and output shape as `curves` (tasks need rollout indices 0..max(ks)-1).
    """
    def per_task(task_id: str, rollouts: list, n: int, values: list[int], scored: bool) -> dict:
        indices = sorted(index for index, _, _ in rollouts)
        if indices[:values[-1]] != list(range(values[-1])):
            raise ValueError(f"task {task_id!r}: rollout indices {indices[:values[-1]]} are not 0..{values[-1] - 1}")
        result = {}
        for k in values:
            first = [item for item in rollouts if item[0] < k]
            result[k] = (float(any(flag for _, _, flag in first)),
                         float(_ranked(task_id, first)[0]) if scored else None)
        return result

    return _averaged(groups, ks, per_task)
