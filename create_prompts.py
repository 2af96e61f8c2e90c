#!/usr/bin/env python3
"""Stage 1: build FLAN-style task datasets (Regular Prompt, SampleGen Prompt, Gold Pipeline test).

Flags and meanings follow the reference's create_prompts.py; booleans accept
True/False strings with their intended meaning. `--list_tasks` prints the registry.
"""
from __future__ import annotations

import argparse
import sys

from inherent_limits.cli_args import add_bool, add_data_sources
from inherent_limits.errors import UserError, run_cli


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--list_tasks", action="store_true",
                   help="print every registered task (cluster, hub source, bundled data) and exit")
    p.add_argument("--num_datapoints", type=int, default=10,
                   help="training rows wanted per task; validation adds 20%% on top (default: 10)")
    add_bool(p, "--create_custom_prompts", False, "SampleGen Prompt (True) or Regular Prompt (False)")
    p.add_argument("--dataset_type", choices=["train+val", "test"], default="train+val",
                   help="build train+validation datasets or test sets (default: train+val)")
    add_bool(p, "--make_gold_pipeline_test", False, "with --dataset_type test: the Gold Pipeline test set")
    add_bool(p, "--make_adv_prompts", False, "in-context examples from a task of another cluster (relevance)")
    add_bool(p, "--corrupt_samples", False, "replace the in-context examples' fields with blanks")
    add_bool(p, "--no_answer_samplegen", False, "SampleGen target without the final answer")
    add_bool(p, "--do_unify", False, "unified field labels (Input 1, Input 2, ...)")
    add_bool(p, "--convert_letter_choices", True, "answer letter-choice tasks with the option text")
    p.add_argument("--num_inner", type=int, default=2, help="in-context examples per SampleGen prompt (default: 2)")
    p.add_argument("--slurm_job_id", default=None, help="job id for logs (default: $SLURM_JOB_ID or a timestamp)")
    p.add_argument("--tasks", nargs="+", default=None,
                   help="task names, cluster names, or all/train/test/bigbench (default: the reference's lists)")
    p.add_argument("--template_index", type=int, default=None,
                   help="pin one template (0-4); default: random among the first five, as the reference")
    p.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    p.add_argument("--root", default=".", help="root folder of data/, saved_models/ and the logs (default: .)")
    add_data_sources(p)
    add_bool(p, "--overwrite", False, "rebuild datasets that already exist")
    return p


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    if args.list_tasks:
        from inherent_limits.listing import task_table
        print(task_table())
        return
    raise UserError("building prompt datasets is not available yet (it arrives with the prompt-"
                    "datasets stage); `--list_tasks` works, and `python -m inherent_limits.demo` "
                    "loads and preprocesses every task")


if __name__ == "__main__":
    run_cli(lambda: main(sys.argv[1:]))
