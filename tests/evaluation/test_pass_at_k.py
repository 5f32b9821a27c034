"""Pass@K / Best@K against brute-force enumeration of every k-subset."""

from fractions import Fraction
from itertools import combinations

import pytest

from copilot.evaluation.pass_at_k import best_at_k, curves, pass_at_k, rank


def brute_pass(n, c, k):
    flags = [True] * c + [False] * (n - c)
    subsets = list(combinations(range(n), k))
    return float(Fraction(sum(any(flags[i] for i in s) for s in subsets), len(subsets)))


def brute_best(flags, k):
    subsets = list(combinations(range(len(flags)), k))
    return float(Fraction(sum(flags[min(s)] for s in subsets), len(subsets)))


CASES = [(n, c, k) for n in (1, 2, 5, 8, 10) for c in range(n + 1) for k in range(1, n + 1)]


@pytest.mark.parametrize("n,c,k", CASES)
def test_pass_at_k_matches_enumeration(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(brute_pass(n, c, k), abs=1e-12)


def test_pass_at_k_closed_forms():
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(16, 0, 16) == 0.0
    assert pass_at_k(16, 16, 1) == 1.0
    assert pass_at_k(16, 1, 16) == 1.0            # k = n: any correct rollout is in the only subset
    assert pass_at_k(16, 15, 2) == 1.0            # n - c < k
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)


def test_pass_at_k_large_n_is_stable():
    # C(1000, 500) overflows a float; the product form does not
    assert pass_at_k(1000, 1, 500) == pytest.approx(0.5)
    assert 0.0 < pass_at_k(1000, 2, 10) < 1.0


@pytest.mark.parametrize("args,name", [((5, 1, 0), "k"), ((5, 1, 6), "k"), ((5, -1, 2), "c"), ((5, 6, 2), "c")])
def test_pass_at_k_argument_errors(args, name):
    with pytest.raises(ValueError, match=rf"\b{name} must be"):
        pass_at_k(*args)


def test_pass_at_k_rejects_non_integers():
    with pytest.raises(TypeError, match="k must be an integer"):
        pass_at_k(5, 1, 1.5)
    with pytest.raises(TypeError, match="c must be an integer"):
        pass_at_k(5, True, 1)


FLAG_SETS = [
    [True], [False], [True, False], [False, True], [False, False, True, True, False],
    [True, False, True, False, False, True], [False] * 4 + [True] * 3,
    [True, True, False, False, True, False, False, True],
]


@pytest.mark.parametrize("flags", FLAG_SETS)
def test_best_at_k_matches_enumeration(flags):
    for k in range(1, len(flags) + 1):
        assert best_at_k(flags, k) == pytest.approx(brute_best(flags, k), abs=1e-12), k


def test_best_at_k_endpoints():
    flags = [False, True, True, False, True]
    assert best_at_k(flags, 5) == 0.0                 # k = n: the top-ranked rollout
    assert best_at_k(flags, 1) == pytest.approx(3 / 5)  # k = 1: mean correctness
    assert best_at_k([True, False, False, False], 2) == pytest.approx(0.5)   # rank 0 in 3 of the 6 pairs
    assert best_at_k([False, True, False, False], 2) == pytest.approx(2 / 6)


def test_best_at_k_errors():
    with pytest.raises(ValueError, match="k must be >= 1"):
        best_at_k([True, False], 0)
    with pytest.raises(ValueError, match="k must be <= n"):
        best_at_k([True, False], 3)
    with pytest.raises(ValueError, match=r"correct_by_rank\[1\] must be a bool"):
        best_at_k([True, "yes"], 1)


def test_rank_orders_by_score_then_lower_index():
    rollouts = [(3, 0.5, False), (0, 0.5, True), (2, 0.9, False), (1, 0.1, True), (4, 0.5, True)]
    assert rank(rollouts) == [False, True, False, True, True]  # 2 (0.9); 0, 3, 4 tie at 0.5; 1 (0.1)
    assert rank([(1, 0.7, False), (0, 0.7, True)]) == [True, False]
    assert rank([(0, 0.7, False), (1, 0.7, True)]) == [False, True]


def test_rank_errors():
    with pytest.raises(ValueError, match="rollout_index 0 appears twice"):
        rank([(0, 0.1, True), (0, 0.2, False)])
    with pytest.raises(ValueError, match="score must be a number"):
        rank([(0, None, True)])
    with pytest.raises(ValueError, match="score must be a number"):
        rank([(0, float("nan"), True)])


def test_curves_means_over_tasks():
    groups = {
        "a": [(0, 0.9, True), (1, 0.1, False), (2, 0.5, False), (3, 0.3, False)],
        "b": [(0, 0.2, False), (1, 0.8, False), (2, 0.6, True), (3, 0.4, True)],
    }
    result = curves(groups, ks=[4, 1, 2, 2])
    assert result["k"] == [1, 2, 4]
    assert result["tasks"] == 2 and result["rollouts_per_task"] == 4
    assert list(result["pass_at_k"]) == [1, 2, 4]
    assert result["pass_at_k"][1] == pytest.approx((0.25 + 0.5) / 2)
    assert result["pass_at_k"][2] == pytest.approx((pass_at_k(4, 1, 2) + pass_at_k(4, 2, 2)) / 2)
    assert result["pass_at_k"][4] == 1.0
    # a ranks [T, F, F, F]; b ranks [F (0.8), T (0.6), T (0.4), F (0.2)]
    assert result["best_at_k"][4] == pytest.approx(0.5)
    assert result["best_at_k"][2] == pytest.approx((3 / 6 + (2 + 1) / 6) / 2)
    assert result["best_at_k"][1] == pytest.approx(result["pass_at_k"][1])


def test_curves_without_scores_has_no_best_at_k():
    groups = {"a": [(0, None, True), (1, 0.3, False)], "b": [(0, 0.1, False), (1, 0.2, False)]}
    result = curves(groups, ks=[1, 2])
    assert result["best_at_k"] is None
    assert result["pass_at_k"] == {1: pytest.approx(0.25), 2: pytest.approx(0.5)}


def test_curves_errors():
    with pytest.raises(ValueError, match="task 'b' has 1 rollouts but task 'a' has 2"):
        curves({"a": [(0, 1.0, True), (1, 0.0, False)], "b": [(0, 1.0, True)]}, ks=[1])
    with pytest.raises(ValueError, match=r"task 'a' has 2 rollouts; max\(ks\) = 3"):
        curves({"a": [(0, 1.0, True), (1, 0.0, False)]}, ks=[1, 3])
    with pytest.raises(ValueError, match="groups is empty"):
        curves({}, ks=[1])
    with pytest.raises(ValueError, match="ks must name at least one K"):
        curves({"a": [(0, 1.0, True)]}, ks=[])
    with pytest.raises(ValueError, match=r"task 'a': rollouts\[1\]: rollout_index 0 appears twice"):
        curves({"a": [(0, 1.0, True), (0, 0.0, False)]}, ks=[1])
    with pytest.raises(ValueError, match="task 'a': rollout 1 must be"):
        curves({"a": [(0, 1.0, True), (1, 0.0, "no")]}, ks=[1])
    with pytest.raises(ValueError, match="task 'a': rollout 0 must be"):
        curves({"a": [(0, 1.0)]}, ks=[1])


def test_first_k_curves_follow_the_sampling_schedule():
    from copilot.evaluation.pass_at_k import first_k_curves

    groups = {"t/0": [(0, 0.2, True), (1, 0.9, False), (2, 0.5, True)],      # greedy right, verifier fooled at k=2
              "t/1": [(0, 0.1, False), (1, 0.3, False), (2, 0.8, True)]}     # only the last sample is right
    result = first_k_curves(groups, [1, 2, 3])
    assert result["pass_at_k"] == {1: 0.5, 2: 0.5, 3: 1.0}
    assert result["best_at_k"] == {1: 0.5, 2: 0.0, 3: 0.5}
    unscored = {task: [(i, None, c) for i, _, c in rollouts] for task, rollouts in groups.items()}
    assert first_k_curves(unscored, [1, 3])["best_at_k"] is None
    with pytest.raises(ValueError, match="not 0..2"):
        first_k_curves({"t/0": [(0, 0.1, True), (1, 0.2, True), (5, 0.3, True)]}, [3])
