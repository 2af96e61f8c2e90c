#!/usr/bin/env python3
"""Benchmark: CoT decoding on HF: the prompt's KV cache shared by the K branches vs re-running the prompt.

Same model (the tiny one by default, or --model, e.g. smollm2-135m-instruct; CPU), same prompts (zero-shot prompts of the bundled GSM8K items), same
K and length, three ways to continue the K branches after the first-step forward pass:
- cache (the study's): the prompts of the call in one padded pass, its KV cache repeated K times,
  all P x K branches continued from their first token in one generate call;
- rows (the previous version): per prompt, the K rows prompt + first token in one generate call
  (the prompt runs again inside every row);
- calls (optillm's approach): one generate call per branch.
Branches (ids) must be identical and margins equal within 1e-4. Runs are interleaved (--repeats
rounds); the best time counts, the per-round ratios give the spread. The last two lines are the
ratios over the cache path.

    python benchmarks/bench_cot_decoding.py [--model tiny] [--prompts 8] [--k 20] [--max_new_tokens 48]
        [--repeats 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import os

from timing import THREADS, interleaved, ratio, set_threads, spread  # benchmarks/timing.py

os.environ.setdefault("HF_HUB_OFFLINE", "1")
MODES = ("cache", "rows", "calls")


def prompts(count: int, tokenizer) -> list[list[int]]:
    """Token ids of zero-shot base-model prompts of the first bundled GSM8K test items."""
    from inherent_limits.base_vs_instruct.benchmarks import get_bench
    from inherent_limits.base_vs_instruct.items import load_items
    from inherent_limits.base_vs_instruct.prompts import prompt_ids

    bench = get_bench("gsm8k")
    items = load_items("gsm8k", data_dir="bundled")[:count]
    return [prompt_ids(tokenizer, bench, item, (), chat=False) for item in items]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny",
                        help="the model: tiny, a named offline model, a folder or hub id (default: tiny)")
    parser.add_argument("--prompts", type=int, default=8, help="GSM8K items (default: 8)")
    parser.add_argument("--k", type=int, default=20, help="branches per prompt (default: 20)")
    parser.add_argument("--max_new_tokens", type=int, default=48, help="tokens per branch (default: 48)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; the best counts (default: 3)")
    parser.add_argument("--threads", type=int, default=THREADS, help=f"torch CPU threads (default: {THREADS})")
    args = parser.parse_args(argv)
    from inherent_limits.base_vs_instruct.decoding import DecodeSettings, HFDecoder
    from inherent_limits.models.loading import load_model, load_tokenizer, resolve_model_name

    threads = set_threads(args.threads)
    path = resolve_model_name(args.model)
    tokenizer = load_tokenizer(path)
    decoder = HFDecoder(load_model(path), tokenizer)
    ids = prompts(args.prompts, tokenizer)
    settings = [DecodeSettings("cot", k=args.k, max_new_tokens=args.max_new_tokens)] * len(ids)
    runs = {"cache": lambda: decoder.decode_many(ids, settings),
            **{mode: (lambda m=mode: [decoder.cot_branches(p, args.k, args.max_new_tokens, mode=m) for p in ids])
               for mode in MODES[1:]}}
    results, times = interleaved(runs, args.repeats)
    for mode in MODES[1:]:
        for ours, theirs in zip(results["cache"], results[mode]):
            assert [b.token_ids for b in ours] == [s.token_ids for s in theirs], f"branches differ ({mode})"
            for b, s in zip(ours, theirs):
                assert max((abs(x - y) for x, y in zip(b.margins, s.margins)), default=0.0) < 1e-4, "margins differ"
    branches = len(ids) * args.k
    print(f"{len(ids)} prompts x {args.k} branches x {args.max_new_tokens} new tokens, model {args.model}, "
          f"{threads} thread(s), {args.repeats} interleaved rounds; branches identical in all three")
    for mode, label in zip(MODES, ("KV cache shared, one call", "rows re-run the prompt", "one call per branch")):
        print(f"{mode:6} ({label:26}) {spread(times[mode])}  ({branches / min(times[mode]):7.1f} branches/s)")
    print(f"rows / cache: {ratio(times['rows'], times['cache'])}")
    print(f"calls / cache: {ratio(times['calls'], times['cache'])}")


if __name__ == "__main__":
    main()
