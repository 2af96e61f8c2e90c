"""Timing shared by the benchmarks: a fixed thread count, interleaved runs, the best time and the spread.

Runs are interleaved (one of each approach per round, the order reversed every other round), so
a change in the machine's load hits baseline and candidate alike; a ratio is quoted best to best,
with the range of the per-round ratios as its spread.
"""
from __future__ import annotations

import os
import time
from typing import Callable, Optional

THREADS = 1  # the default: more threads on a shared machine swing the times


def set_threads(threads: int) -> int:
    """Fix torch's CPU threads here and in child processes (OMP/MKL); return the count, to print."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    import torch

    torch.set_num_threads(threads)
    return torch.get_num_threads()


def interleaved(runs: dict[str, Callable[[], object]], repeats: int,
                setup: Optional[Callable[[str], None]] = None) -> tuple[dict, dict[str, list[float]]]:
    """Run every approach once per round for `repeats` rounds (ABC, CBA, ABC, ...); `setup(name)`
    runs untimed before each run.

    Returns the last round's result and every wall time, per approach name."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    results, times = {}, {name: [] for name in runs}
    names = list(runs)
    for round_index in range(repeats):
        for name in (names if round_index % 2 == 0 else names[::-1]):
            if setup is not None:
                setup(name)
            start = time.perf_counter()
            results[name] = runs[name]()
            times[name].append(time.perf_counter() - start)
    return results, times


def spread(times: list[float]) -> str:
    """The best time and the range of all runs."""
    return f"best {min(times):.2f} s (runs {min(times):.2f}-{max(times):.2f} s)"


def ratio(slow: list[float], fast: list[float]) -> str:
    """slow / fast best to best, with the range of the per-round ratios."""
    rounds = [s / f for s, f in zip(slow, fast)]
    return f"{min(slow) / min(fast):.1f}x (rounds {min(rounds):.1f}x-{max(rounds):.1f}x)"
