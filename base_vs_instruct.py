#!/usr/bin/env python3
"""Second study: base vs instruction-tuned model on GSM8K, MATH-500, MATH-Perturb (hard) and MedCalc-Bench.

The protocol of arXiv 2601.13244: the base model is decoded with CoT decoding (top-K first tokens,
each branch greedy), the instruct model sampled (n=20, temperature 0.05), each zero-shot and few-shot
with CoT; every sample is graded by both graders; pass@k for k up to 20.

    python base_vs_instruct.py --base Qwen/Qwen3-8B-Base --instruct Qwen/Qwen3-8B
    python base_vs_instruct.py --instruct demo_regular --no_chat_template --data_dir bundled   # a LoRA run vs its base

Writes base_vs_instruct/<out_name>/samples.csv (one row per item x sample), its rows of
base_vs_instruct_logs.csv (one per group, replaced on a rerun) and base_vs_instruct/<out_name>/report/.
A rerun with the same settings resumes item by item; --rescore re-grades samples.csv without
generating; --report_only FILE rebuilds the report and figures from a per-sample log alone.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inherent_limits.core.cli_args import add_bool
from inherent_limits.core.errors import run_cli
from inherent_limits.models.offline import model_help


def build_parser() -> argparse.ArgumentParser:
    from inherent_limits.base_vs_instruct.benchmarks import BENCHMARKS
    from inherent_limits.base_vs_instruct.decoding import DECODINGS
    from inherent_limits.base_vs_instruct.graders import DEFAULT_GRADERS, GRADERS
    from inherent_limits.base_vs_instruct.prompts import PROMPTINGS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", default=None,
                   help="base model: hub id, local path, a .gguf file, 'tiny', a named offline model "
                        f"({model_help()}) or a run under saved_models/ (its base model); "
                        "default: the base of --instruct when that is a run")
    p.add_argument("--instruct", default=None,
                   help="instruct model: hub id, local path, a .gguf file, 'tiny', a named offline model or a run "
                        "under saved_models/ (base + adapter)")
    p.add_argument("--datasets", nargs="+", default=list(BENCHMARKS), metavar="NAME",
                   help=f"benchmarks (default: all of {', '.join(BENCHMARKS)})")
    p.add_argument("--prompting", nargs="+", default=list(PROMPTINGS), metavar="KIND",
                   help=f"prompt kinds: {', '.join(PROMPTINGS)} (default: both)")
    p.add_argument("--n_shots", type=int, default=None,
                   help="few-shot exemplars from the train split (default: per benchmark, 8 GSM8K, 4 MATH, 1 MedCalc)")
    p.add_argument("--graders", nargs="+", default=list(DEFAULT_GRADERS), metavar="GRADER",
                   help=f"graders applied to every sample, of {', '.join(GRADERS)} (math_verify reads the "
                        f"extracted answer, math_verify_response the whole response; default: "
                        f"{' '.join(DEFAULT_GRADERS)})")
    p.add_argument("--sides", nargs="+", default=["base", "instruct"], metavar="SIDE",
                   help="which side(s) to generate: base and/or instruct (default: both; SLURM chunks split them)")
    p.add_argument("--base_decoding", choices=DECODINGS, default="cot", help="base model decoding (default: cot)")
    p.add_argument("--instruct_decoding", choices=DECODINGS, default="sample",
                   help="instruct model decoding (default: sample)")
    p.add_argument("--cot_k", type=int, default=20, help="CoT decoding branches (top-K first tokens; default: 20)")
    p.add_argument("--num_samples", type=int, default=20, help="samples per item when sampling (default: 20)")
    p.add_argument("--temperature", type=float, default=0.05, help="sampling temperature (default: 0.05)")
    p.add_argument("--max_new_tokens", type=int, default=8192,
                   help="generation length cap, clipped to the model's context (default: 8192, the paper's)")
    p.add_argument("--pass_k", type=int, nargs="+", default=None, metavar="K",
                   help="k of pass@k in the summary log, each <= n (default: 1 5 10 20, those <= n)")
    p.add_argument("--num_items", type=int, default=None, help="first N test items of each benchmark (default: all)")
    p.add_argument("--data_dir", default=None,
                   help="folder with <benchmark>/<split>.jsonl in the hub schema; 'bundled' = shipped samples; "
                        "unset = the hub (MATH-Perturb has no hub copy)")
    p.add_argument("--backend", choices=["hf", "vllm"], default="hf", help="inference backend (default: hf)")
    add_bool(p, "--no_chat_template", False, "prompt the instruct model with plain text instead of its chat template")
    p.add_argument("--extractor", default=None, metavar="MODEL",
                   help="a small model that extracts the final answer (the paper: Qwen/Qwen3-0.6B); default: regex")
    p.add_argument("--out_name", default=None,
                   help="folder under base_vs_instruct/ (default: <base>__vs__<instruct>)")
    add_bool(p, "--rescore", False, "re-extract and re-grade the per-sample log; no generation")
    p.add_argument("--report_only", default=None, metavar="SAMPLES_CSV",
                   help="rebuild the report and figures from this per-sample log alone; nothing else runs")
    p.add_argument("--report_dir", default=None,
                   help="where --report_only writes: a new or empty folder, or one holding a report of the same "
                        "pair, which is replaced (default: next to the log, report/)")
    p.add_argument("--dtype", default=None, help="vLLM dtype (default: bfloat16 on CUDA, float32 on CPU)")
    p.add_argument("--gpu_memory_utilization", type=float, default=None,
                   help="vLLM memory share (CPU backend: share of RAM; default: vLLM's)")
    p.add_argument("--max_model_len", type=int, default=None, help="vLLM context length (default: the model's)")
    add_bool(p, "--progress", True, "show progress bars")
    p.add_argument("--seed", type=int, default=42, help="seed of exemplars and sampling (default: 42)")
    p.add_argument("--slurm_job_id", default=None, help="job id (default: $SLURM_JOB_ID or a timestamp)")
    p.add_argument("--root", default=".", help="root of saved_models/ and the logs (default: .)")
    return p


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    from inherent_limits.base_vs_instruct.report import write_report
    from inherent_limits.base_vs_instruct.runner import StudyRequest, rescore, run_study
    from inherent_limits.core.run_info import job_id

    if args.report_only:
        written = write_report(Path(args.report_only), Path(args.report_dir) if args.report_dir else None)
        print(f"report: {written['report']}\nfigures: {', '.join(map(str, written['figures']))}")
        return
    req = StudyRequest(
        root=Path(args.root), base=args.base, instruct=args.instruct, datasets=tuple(args.datasets),
        promptings=tuple(args.prompting), n_shots=args.n_shots, graders=tuple(args.graders),
        sides=tuple(args.sides), base_decoding=args.base_decoding, instruct_decoding=args.instruct_decoding,
        cot_k=args.cot_k, num_samples=args.num_samples, temperature=args.temperature,
        max_new_tokens=args.max_new_tokens, pass_k=tuple(args.pass_k) if args.pass_k else None,
        num_items=args.num_items, data_dir=args.data_dir, backend=args.backend,
        no_chat_template=args.no_chat_template, extractor=args.extractor, out_name=args.out_name,
        seed=args.seed, job=job_id(args.slurm_job_id), dtype=args.dtype,
        gpu_memory_utilization=args.gpu_memory_utilization, max_model_len=args.max_model_len,
        progress=args.progress)
    result = rescore(req) if args.rescore else run_study(req)
    done = f"{result['rescored']} samples re-graded" if args.rescore else f"{result['written']} new samples"
    print(f"{done} in {result['samples']}; {result['summary_rows']} summary rows; report: {result['report']}")


if __name__ == "__main__":
    run_cli(lambda: main(sys.argv[1:]))
