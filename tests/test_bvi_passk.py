"""pass@k: the unbiased estimator against brute-force enumeration, and the ranked-branch variant."""
import itertools
from fractions import Fraction

import pytest

from inherent_limits.base_vs_instruct.passk import pass_at_1, pass_at_k, pass_at_k_curve, ranked_pass_at_k
from inherent_limits.core.errors import UserError


def _brute_force(n, c, k):
    """Share of all k-subsets of n samples (the first c correct) that hold a correct one."""
    subsets = list(itertools.combinations(range(n), k))
    return Fraction(sum(any(i < c for i in s) for s in subsets), len(subsets))


@pytest.mark.parametrize("n", range(1, 9))
def test_estimator_matches_enumeration_of_k_subsets(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(float(_brute_force(n, c, k)), abs=1e-12), (n, c, k)


def test_n_equals_k_is_any_correct():
    assert pass_at_k(20, 0, 20) == 0.0
    assert pass_at_k(20, 1, 20) == 1.0
    assert pass_at_k(20, 3, 1) == pytest.approx(3 / 20)


def test_curve_runs_from_pass_at_1_to_pass_at_n():
    curve = pass_at_k_curve(10, 3)
    assert len(curve) == 10
    assert curve[0] == pytest.approx(0.3)
    assert curve[-1] == 1.0
    assert all(a <= b for a, b in zip(curve, curve[1:]))


def test_k_larger_than_n_and_bad_counts_are_refused():
    with pytest.raises(UserError, match=r"pass@21 needs 1 <= k <= n.*n=20"):
        pass_at_k(20, 5, 21)
    with pytest.raises(UserError):
        pass_at_k(5, 6, 1)
    with pytest.raises(UserError):
        pass_at_k(5, 1, 0)
    with pytest.raises(UserError, match="branches"):
        ranked_pass_at_k([True], 2)


def test_ranked_pass_at_k_counts_only_the_first_k_branches():
    flags = [False, False, True, False]
    assert [ranked_pass_at_k(flags, k) for k in range(1, 5)] == [0.0, 0.0, 1.0, 1.0]
    assert ranked_pass_at_k([True, False], 1) == 1.0


def test_pass_at_1_is_the_mean_correct_share():
    assert pass_at_1([True, False, False, True]) == 0.5
    with pytest.raises(UserError):
        pass_at_1([])
