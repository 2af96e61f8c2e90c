"""Timing shared by the benchmarks: every wall time of repeated runs (the best counts; print the spread)."""
from __future__ import annotations

import time


def timed(fn, repeats: int):
    """The result of `fn` and its wall times over `repeats` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, times


def spread(times: list[float]) -> str:
    """The best time and the range of all runs."""
    return f"best {min(times):.2f} s (runs {min(times):.2f}-{max(times):.2f} s)"
