"""pass@k: the unbiased estimator of Chen et al. (2021) and its ranked-branch variant."""
from __future__ import annotations

from typing import Sequence

from inherent_limits.core.errors import UserError


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c correct) is correct."""
    if not 0 <= c <= n:
        raise UserError(f"pass@k needs 0 <= correct <= samples, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise UserError(f"pass@{k} needs 1 <= k <= n (samples per item), got k={k}, n={n}; "
                        "lower k or draw more samples")
    if n - c < k:
        return 1.0
    miss = 1.0
    for i in range(n - c + 1, n + 1):   # C(n-c, k) / C(n, k) as a stable product
        miss *= 1.0 - k / i
    return 1.0 - miss


def pass_at_k_curve(n: int, c: int) -> list[float]:
    """pass@k for k = 1..n."""
    return [pass_at_k(n, c, k) for k in range(1, n + 1)]


def ranked_pass_at_k(flags_in_rank_order: Sequence[bool], k: int) -> float:
    """CoT-decoding branches: 1.0 when any of the first k branches (ranked by first-token prob) is correct."""
    n = len(flags_in_rank_order)
    if not 1 <= k <= n:
        raise UserError(f"pass@{k} needs 1 <= k <= n (branches per item), got k={k}, n={n}")
    return 1.0 if any(flags_in_rank_order[:k]) else 0.0


def pass_at_1(flags: Sequence[bool]) -> float:
    """pass@1 as the mean correct share of an item's samples."""
    if not flags:
        raise UserError("pass@1 needs at least one sample")
    return sum(bool(f) for f in flags) / len(flags)
