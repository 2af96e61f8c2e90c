#!/usr/bin/env python3
"""Benchmark: BERTScore accuracy, one batched pass (ours) vs the reference's per-prediction loop.

Both use the same scorer object (the bundled all-MiniLM-L6-v2, layer 6, so it runs offline) on
seeded synthetic response files of N predictions x 4 options, in two shapes:

- labels: a label-set task (the same four options for every item, as AG News; most tasks scored
  by BERTScore accuracy have a fixed label set). This is the headline figure.
- per_item: a multiple-choice task whose four options differ per item (as HellaSwag endings).

Predictions mix exact options, light rewrites ("The answer is X.", quotes, case), longer
model-like outputs and off-topic sentences. The reference's loop is a separate `scorer.score`
call per prediction against its options (evaluate caches its BERTScorer, so there too the model
is loaded once per file). The schemes run interleaved for --repeats rounds on --threads torch
threads (default 1, printed); the best time counts and the spread (min-max) is printed. For each
shape: both timings and whether the chosen options are identical; the last line is the headline
speedup (best loop / best batched, with the range of the per-round ratios).

    python benchmarks/bench_bertscore.py [--items 1000] [--shapes labels per_item] [--device cpu] [--repeats 3]
        [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import random

from timing import THREADS, interleaved, ratio, set_threads, spread  # benchmarks/timing.py (sys.path[0])

LABELS = ("World", "Sports", "Business", "Sci/Tech")
SHAPES = ("labels", "per_item")
SUBJECTS = "the man|a woman|the kids|she|the chef|a young boy|the team|the dog|he|the crowd".split("|")
VERBS = ("picks up|puts down|walks toward|throws|starts cleaning|looks at|paints|lifts|opens|folds|"
         "climbs onto|carries").split("|")
OBJECTS = ("the ladder|a red ball|the kitchen table|his guitar|a stack of papers|the window|the bike|"
           "a large box|the blue towel|her phone|the fence|a wooden chair").split("|")
ENDINGS = ("and smiles at the camera|slowly and carefully|before leaving the room|while music plays|"
           "again and again|with both hands|as the others watch|and then sits down").split("|")
FILLERS = ("Based on the passage, |I think |Answer Solution: |The correct option is |Looking at the "
           "context, the most likely continuation is that ").split("|")
TAILS = (" because it fits the context best.| This is supported by the text.| Example 3: the "
         "following sentence describes a similar scene.|| END_EXAMPLES").split("|")


def sentence(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(ENDINGS)}"


def rewrite(rng: random.Random, option: str) -> str:
    return rng.choice((f"The answer is {option}.", f"'{option}'", option.lower(), f"{option}!",
                       f"Answer: {option}", option.upper()))


def model_output(rng: random.Random, option: str) -> str:
    tail = rng.choice(TAILS) if rng.random() < 0.5 else f" Example 3: {sentence(rng)}."
    return f"{rng.choice(FILLERS)}{option}{tail}"


def make_items(n: int, shape: str, seed: int = 0):
    """(predictions, options, targets) of a response file of the given shape."""
    rng = random.Random(seed)
    predictions, options, targets = [], [], []
    for _ in range(n):
        opts = list(LABELS) if shape == "labels" else [sentence(rng) for _ in range(4)]
        target = rng.choice(opts)
        said = target if rng.random() < 0.7 else rng.choice(opts)  # the model is right ~75% of the time
        kind = rng.random()
        if kind < 0.4:
            pred = said
        elif kind < 0.65:
            pred = rewrite(rng, said)
        elif kind < 0.95:
            pred = model_output(rng, said)
        else:
            pred = sentence(rng)  # off-topic output
        predictions.append(pred)
        options.append(opts)
        targets.append(target)
    return predictions, options, targets


def reference_loop(scorer, predictions, options) -> list[str]:
    """The reference's scheme: one scorer.score call per prediction against its options."""
    chosen = []
    for pred, opts in zip(predictions, options):
        f1 = scorer.score([pred] * len(opts), list(opts), batch_size=scorer.batch_size)[2].tolist()
        chosen.append(opts[max(range(len(opts)), key=f1.__getitem__)])
    return chosen




def compare(scorer, shape: str, items: int, seed: int, repeats: int) -> str:
    """Time both schemes on one shape (interleaved); print the figures; return the speedup with its spread."""
    from inherent_limits.evaluation.bertscore_accuracy import bertscore_accuracy, choose_options
    predictions, options, targets = make_items(items, shape, seed)
    print(f"[{shape}] {items} predictions x 4 options, {len(set(predictions))} distinct predictions, "
          f"{len({o for opts in options for o in opts})} distinct options")
    out, times = interleaved({"ours": lambda: choose_options(scorer, predictions, options),
                              "ref": lambda: reference_loop(scorer, predictions, options)}, repeats)
    ours, ref = out["ours"], out["ref"]
    differ = sum(a != b for a, b in zip(ours, ref))
    print(f"[{shape}] batched (ours): {spread(times['ours'])}; per-prediction loop: {spread(times['ref'])}")
    speedup = ratio(times["ref"], times["ours"])
    print(f"[{shape}] speedup {speedup}")
    print(f"[{shape}] chosen options identical: {differ == 0} ({differ} of {items} differ); accuracy "
          f"ours {bertscore_accuracy(ours, targets):.2f}%, loop {bertscore_accuracy(ref, targets):.2f}%")
    return speedup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000, help="predictions per shape (default: 1000)")
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES),
                        help="response-file shapes to run; the first one is the headline (default: both)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--seed", type=int, default=0, help="data seed (default: 0)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds, best counts (default: 3)")
    parser.add_argument("--threads", type=int, default=THREADS, help=f"torch CPU threads (default: {THREADS})")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the bundled model is local: never ask the hub

    threads = set_threads(args.threads)
    from inherent_limits.evaluation.bertscore_accuracy import choose_options, make_scorer
    scorer = make_scorer("bundled", device=args.device)
    choose_options(scorer, ["warm up"], [list(LABELS)])
    print(f"all-MiniLM-L6-v2 layer 6, device {args.device}, torch threads {threads}; "
          f"best of {args.repeats} interleaved rounds")
    speedups = [compare(scorer, shape, args.items, args.seed, args.repeats) for shape in args.shapes]
    print(f"headline: the {args.shapes[0]} shape")
    print(f"speedup: {speedups[0]}")


if __name__ == "__main__":
    main()
