#!/usr/bin/env python3
"""Benchmark: Hugging Face generation, ours vs the reference's padding, on the tiny model (CPU).

Same prompts (real Regular test prompts built from the bundled data), same model, same
max_new_tokens, timed in one run:

- ours: HFBackend (length-sorted batches, left padding to the longest prompt in the batch,
  attention mask, greedy);
- reference: the reference's gen_response.py: every prompt padded on the right to 4096 tokens
  (padding="max_length", pad = EOS as its model_init sets it), only input_ids passed, top-k 1
  sampling; one prompt per call, its default batch size and the only one at which it keeps
  every answer (it decodes only the first answer of a batch);
- left-4096: prompts padded on the left to 4096 tokens WITH an attention mask, in batches like
  ours: padding to 4096 costs the time, but with masks gives the same outputs.

The approaches run interleaved for --repeats rounds on --threads torch threads (default 1,
printed); the best time counts and the spread (min-max) is printed beside it. The last line is
`speedup: <ratio>x (rounds <min>x-<max>x)` (best reference / best ours, and the per-round ratios).

    python benchmarks/bench_generation.py [--prompts 64] [--batch_size 32] [--max_new_tokens 32] [--repeats 3]
        [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import random

from timing import THREADS, interleaved, ratio, set_threads, spread  # benchmarks/timing.py (sys.path[0])

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PAD_TO = 4096


def study_prompts(count: int) -> list[str]:
    """Regular test prompts, one per bundled task (first rows, then second rows...)."""
    from inherent_limits.core.errors import UserError
    from inherent_limits.data.loading import load_task_rows
    from inherent_limits.data.registry import TASKS
    from inherent_limits.prompts.builder import PromptBuilder

    builder, rng, tasks = PromptBuilder.from_files(), random.Random(0), {}
    for name in sorted(TASKS):
        try:
            rows = load_task_rows(name, "test", data_dir="bundled")
            builder.regular(TASKS[name], rows[0], rng, test=True)
        except UserError:  # manual downloads, BigBench/GSM8K (no Regular templates)
            continue
        tasks[name] = rows
    out = []
    for index in range(max(len(r) for r in tasks.values())):
        for name, rows in tasks.items():
            if index < len(rows) and len(out) < count:
                out.append(builder.regular(TASKS[name], rows[index], rng, test=True)[0])
    return out






def run_reference(model, tokenizer, prompts, max_new_tokens):
    """gen_response.get_response's HF branch, one prompt per call."""
    import torch
    from transformers import GenerationConfig

    tokenizer.pad_token, tokenizer.padding_side = tokenizer.eos_token, "right"
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=True, temperature=0.001, top_k=1,
                              pad_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    outs = []
    for prompt in prompts:
        inputs = tokenizer(text=[prompt], max_length=PAD_TO, padding="max_length", truncation=True,
                           return_tensors="pt")
        with torch.inference_mode():
            ids = model.generate(inputs.input_ids, generation_config=config)
        outs.append(tokenizer.decode(ids[0, PAD_TO:], skip_special_tokens=True))
    return outs


def run_left_4096(model, tokenizer, prompts, max_new_tokens, batch_size):
    """Our batching, but every prompt left-padded to 4096 tokens (attention mask passed)."""
    import torch
    from transformers import GenerationConfig

    tokenizer.padding_side = "left"
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False,
                              pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    outs = []
    for start in range(0, len(prompts), batch_size):
        inputs = tokenizer(text=prompts[start:start + batch_size], max_length=PAD_TO, padding="max_length",
                           truncation=True, return_tensors="pt")
        with torch.inference_mode():
            ids = model.generate(**inputs, generation_config=config)
        outs.extend(tokenizer.batch_decode(ids[:, PAD_TO:], skip_special_tokens=True))
    return outs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=64, help="real Regular test prompts (default: 64)")
    parser.add_argument("--batch_size", type=int, default=32, help="our batch size (default: 32)")
    parser.add_argument("--max_new_tokens", type=int, default=32, help="tokens generated per prompt (default: 32)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds, best counts (default: 3)")
    parser.add_argument("--threads", type=int, default=THREADS, help=f"torch CPU threads (default: {THREADS})")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    import torch

    from inherent_limits.evaluation.generation import HFBackend
    from inherent_limits.models.loading import load_model, load_tokenizer
    from inherent_limits.models.tiny import ensure_tiny_model

    threads = set_threads(args.threads)
    path = ensure_tiny_model()
    model = load_model(path, device="cpu", dtype=torch.float32)
    prompts = study_prompts(args.prompts)
    lengths = [len(ids) for ids in load_tokenizer(path)(prompts)["input_ids"]]
    print(f"{len(prompts)} prompts, {min(lengths)}-{max(lengths)} tokens (mean {sum(lengths) / len(lengths):.0f}); "
          f"batch size {args.batch_size}; max_new_tokens {args.max_new_tokens}; torch threads "
          f"{threads}; best of {args.repeats} interleaved rounds")

    backend = HFBackend(model, load_tokenizer(path), batch_size=args.batch_size,
                        max_new_tokens=args.max_new_tokens)
    backend.generate(prompts[:2], progress=False)  # warm-up
    out, times = interleaved({
        "ours": lambda: backend.generate(prompts, progress=False),
        "left": lambda: run_left_4096(model, load_tokenizer(path), prompts, args.max_new_tokens, args.batch_size),
        "ref": lambda: run_reference(model, load_tokenizer(path), prompts, args.max_new_tokens)}, args.repeats)
    ours, left, ref = out["ours"], out["left"], out["ref"]
    print(f"ours (dynamic left padding, sorted batches):  {spread(times['ours'])}")
    print(f"left-padded to 4096 + attention mask:         {spread(times['left'])}  "
          f"({ratio(times['left'], times['ours'])} ours)")
    print(f"reference (right-padded to 4096, no mask):    {spread(times['ref'])}  "
          f"({ratio(times['ref'], times['ours'])} ours)")
    same_left = sum(a == b for a, b in zip(ours, left))
    same_ref = sum(a == b for a, b in zip(ours, ref))
    print(f"identical outputs, ours vs left-4096 masked:   {same_left}/{len(prompts)}")
    print(f"identical outputs, ours vs reference:          {same_ref}/{len(prompts)} "
          f"(the reference conditions on {PAD_TO} - prompt length pad tokens)")
    print(f"example: ours {ours[0][:60]!r} | reference {ref[0][:60]!r}")
    print(f"speedup: {ratio(times['ref'], times['ours'])}")


if __name__ == "__main__":
    main()
