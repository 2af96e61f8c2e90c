#!/usr/bin/env python3
"""Benchmark: prompt-dataset building throughput and peak memory.

Builds Regular and SampleGen train+val rows for a synthetic 30,000-row SNLI-shaped task
(raw JSONL in the hub schema -> canonical rows -> prompt texts), and compares with a
baseline measured in the same run: the same prompt assembly driven the way the reference
drives it (a datasets.Dataset indexed row by row). Both run interleaved for --repeats rounds
on --threads torch threads (default 1, printed); the best time counts, the spread is printed.
Peak memory is measured in a fresh process building 100,000 Regular rows. The last lines are
the headline figures.

    python benchmarks/bench_build.py [--rows 30000] [--peak_rows 100000] [--repeats 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import THREADS, interleaved, ratio, set_threads, spread  # benchmarks/timing.py (sys.path[0])

WORDS = ("a man woman child dog cat plays runs sits near the park street beach red blue old young "
         "happily quickly while holding ball guitar book bike outside inside").split()


def write_snli(folder: Path, rows: int) -> None:
    rng = random.Random(0)
    path = folder / "snli" / "train.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        for _ in range(rows):
            row = {"premise": " ".join(rng.choices(WORDS, k=14)) + ".",
                   "hypothesis": " ".join(rng.choices(WORDS, k=7)) + ".", "label": rng.randrange(3)}
            handle.write(json.dumps(row) + "\n")


def ours(data_dir: str, custom: bool, rows: int) -> int:
    """Rows built by the project's builder."""
    from inherent_limits.data.registry import TASKS
    from inherent_limits.prompts.builder import PromptBuilder
    from inherent_limits.prompts.task_datasets import BuildRequest, build_rows
    request = BuildRequest(custom=custom, dataset_type="train+val", num_data=rows, data_dir=data_dir)
    return len(build_rows(TASKS["snli"], request, PromptBuilder.from_files())["text"])


def baseline(data_dir: str, custom: bool, rows: int) -> int:
    """Reference-style: canonical Dataset, halves by Dataset.shuffle/select, rows fetched by index."""
    from inherent_limits.data.loading import load_task
    from inherent_limits.data.registry import TASKS
    from inherent_limits.prompts.builder import PromptBuilder
    spec, builder, rng = TASKS["snli"], PromptBuilder.from_files(), random.Random(0)
    data = load_task("snli", "train", data_dir=data_dir)
    texts = []
    if custom:
        shuffled = data.shuffle(seed=25)
        half = len(shuffled) // 2
        part1 = shuffled.select(range(half)).flatten_indices()
        part2 = shuffled.select(range(half, len(shuffled))).flatten_indices()
        for idx in range(len(part1)):
            examples = [(spec, part2[i]) for i in rng.sample(range(len(part2)), 2)]
            texts.append(builder.samplegen(spec, part1[idx], examples, rng)[0])
    else:
        for idx in range(min(len(data), rows)):
            texts.append(builder.regular(spec, data[idx], rng, test=False)[0])
    return len(texts)


def peak_memory_mb(rows: int) -> float:
    code = ("import sys, resource, tempfile; from pathlib import Path; sys.path.insert(0, 'benchmarks');"
            "import bench_build as b; d = Path(tempfile.mkdtemp()); b.write_snli(d, %d);"
            "b.ours(str(d), False, %d);"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)") % (rows, rows)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=30000, help="rows of the synthetic task (default 30000)")
    parser.add_argument("--peak_rows", type=int, default=100000, help="rows for the memory run (default 100000)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds, best counts (default: 3)")
    parser.add_argument("--threads", type=int, default=THREADS, help=f"torch CPU threads (default: {THREADS})")
    args = parser.parse_args()
    print(f"{args.rows} rows, {set_threads(args.threads)} thread(s), best of {args.repeats} interleaved rounds")
    import datasets
    datasets.disable_progress_bars()
    folder = Path(tempfile.mkdtemp())
    write_snli(folder, args.rows)
    results = {}
    for name, custom in (("regular", False), ("samplegen", True)):
        built, times = interleaved({"ours": lambda c=custom: ours(str(folder), c, args.rows),
                                    "baseline": lambda c=custom: baseline(str(folder), c, args.rows)}, args.repeats)
        per_row = {k: [t / built[k] for t in times[k]] for k in times}  # the two may build different counts
        results[name] = 1 / min(per_row["ours"])
        print(f"{name}: ours {results[name]:,.0f} rows/s, {spread(times['ours'])}; reference-style baseline "
              f"{1 / min(per_row['baseline']):,.0f} rows/s, {spread(times['baseline'])}; "
              f"rows/s {ratio(per_row['baseline'], per_row['ours'])}")
    print(f"peak_memory_mb_at_{args.peak_rows}_rows: {peak_memory_mb(args.peak_rows):.0f}")
    print(f"regular_rows_per_s: {results['regular']:.0f}")
    print(f"samplegen_rows_per_s: {results['samplegen']:.0f}")


if __name__ == "__main__":
    main()
