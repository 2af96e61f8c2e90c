#!/usr/bin/env python3
"""Stage 6: correlate base-model (in-context) and instruction-tuned performance across tasks.

Reads <root>/eval_logs.csv (required), bertscore_evals.csv and train_logs.csv (optional) and
writes <out>/scores_by_task.csv (one score per base model, condition and task, averaged over
seeds), correlations.csv (Spearman, Pearson and Kendall with p-values between every base
condition -- base_zero_shot, gold_pipeline, samplegen_pipeline -- and every tuned condition --
flan_direct, samplegen_direct; per base model and pooled; all, seen, unseen tasks and each
cluster), report.md and plots/*.png. All three statistics are always computed.

Scores: BERTScore accuracy where the task allows it and the eval has one, else the task's
primary metric (fix_punct: -mean_edit). A cell averages only evaluations with the same settings
(adapter, SampleGen model, format, test items, new tokens, answer matching, data source): when
the logs hold several, it stops and lists them; keep one with the filters, or keep them apart
with --group_by. The --out folder is replaced as a whole, in one rename.
"""
from __future__ import annotations

import argparse

from inherent_limits.core.errors import run_cli


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=".", help="folder holding the logs (default: the current directory)")
    p.add_argument("--out", default=None, help="output folder, replaced on each run (default: <root>/analysis)")
    p.add_argument("--job_ids", nargs="+", default=None, metavar="ID",
                   help="use only eval rows of these jobs (space-separated, with or without the 'job-' prefix)")
    p.add_argument("--models", nargs="+", default=None, metavar="MODEL",
                   help="use only these base models (full id, e.g. meta-llama/Llama-2-7b-hf, or its last part)")
    p.add_argument("--seeds", nargs="+", default=None, metavar="SEED", help="use only eval rows with these seeds")
    p.add_argument("--group_by", nargs="+", default=(), metavar="COLUMN",
                   help="setting columns whose values become groups of their own instead of stopping the run: "
                        "run_name, samplegen_model_name, test_prompt_type, num_test, max_new_tokens, "
                        "answer_matching, data_source")
    return p


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    from inherent_limits.analysis.correlation import write_analysis

    paths = write_analysis(args.root, args.out, job_ids=args.job_ids, models=args.models, seeds=args.seeds,
                           group_by=args.group_by)
    print(f"report: {paths['report']}")
    print(f"tables: {paths['scores']}, {paths['correlations']}")
    print(f"figures: {paths['plots']} ({len(paths['plot_files'])} plots)")


if __name__ == "__main__":
    run_cli(main)
