#!/usr/bin/env python3
"""Benchmark: CoT decoding's K branches in one batched generate call vs one call per branch (optillm).

Same model (the tiny one, CPU), same prompts (zero-shot prompts of the bundled GSM8K items), same
K and length. Both paths share the first-step forward pass and the margin recorder; they differ
only in how the K continuations are generated: ours stacks the K rows (prompt + branch token,
equal length, no padding) into one greedy generate call, optillm's approach calls generate once
per branch. The branches (ids and margins) are asserted equal. Each path runs --repeats times;
the best time counts and the spread (max - min) is printed. The last line is `<ratio>x`
(per-branch / batched).

    python benchmarks/bench_cot_decoding.py [--prompts 4] [--k 20] [--max_new_tokens 48] [--repeats 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import os

from timing import timed  # benchmarks/timing.py (sys.path[0] is benchmarks/)

os.environ.setdefault("HF_HUB_OFFLINE", "1")


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
    parser.add_argument("--prompts", type=int, default=4, help="GSM8K items (default: 4)")
    parser.add_argument("--k", type=int, default=20, help="branches per prompt (default: 20)")
    parser.add_argument("--max_new_tokens", type=int, default=48, help="tokens per branch (default: 48)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per path; the best counts (default: 3)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default: 1; more threads on a shared machine swing the times)")
    args = parser.parse_args(argv)
    import torch

    from inherent_limits.base_vs_instruct.decoding import HFDecoder
    from inherent_limits.models.loading import load_model, load_tokenizer, resolve_model_name

    torch.set_num_threads(args.threads)
    path = resolve_model_name("tiny")
    tokenizer = load_tokenizer(path)
    decoder = HFDecoder(load_model(path), tokenizer)
    ids = prompts(args.prompts, tokenizer)

    def run(batched: bool):
        return [decoder.cot_branches(p, args.k, args.max_new_tokens, batched=batched) for p in ids]

    batched, batched_times = timed(lambda: run(True), args.repeats)
    single, single_times = timed(lambda: run(False), args.repeats)
    for ours, theirs in zip(batched, single):
        assert [b.token_ids for b in ours] == [s.token_ids for s in theirs], "branches differ"
        for b, s in zip(ours, theirs):
            assert max((abs(x - y) for x, y in zip(b.margins, s.margins)), default=0.0) < 1e-4, "margins differ"
    branches = len(ids) * args.k
    print(f"{len(ids)} prompts x {args.k} branches x {args.max_new_tokens} new tokens, tiny model, "
          f"{torch.get_num_threads()} threads; branches identical")
    for name, times in (("batched (one generate call)", batched_times), ("one generate call per branch", single_times)):
        print(f"{name:30} best {min(times):7.3f} s  spread {max(times) - min(times):6.3f} s  "
              f"({branches / min(times):7.1f} branches/s)")
    print(f"{min(single_times) / min(batched_times):.1f}x")


if __name__ == "__main__":
    main()
