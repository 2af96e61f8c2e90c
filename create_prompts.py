#!/usr/bin/env python3
"""Stage 1: build FLAN-style task datasets (Regular Prompt, SampleGen Prompt, Gold Pipeline test).

Flags and meanings follow the reference's create_prompts.py; booleans accept
True/False strings with their intended meaning. `--list_tasks` prints the registry.
"""
from __future__ import annotations

import argparse
import sys

from inherent_limits.core.cli_args import add_bool, add_data_sources
from inherent_limits.core.errors import UserError, run_cli


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
    p.add_argument("--flan_templates", default=None,
                   help="FLAN-style template file (PATTERNS dict), e.g. the reference's prompts/flan_orig.py "
                        "(parsed, never executed); default: the project's own wording")
    p.add_argument("--prompt_templates", default=None,
                   help="templates.json with system prompts and SampleGen formats, e.g. the reference's "
                        "prompts/templates.json; default: the project's own wording")
    add_data_sources(p)
    add_bool(p, "--overwrite", False, "rebuild datasets that already exist")
    return p


def variant_suffix(args) -> str:
    """Folder suffix naming the variants in effect (none: the plain formats)."""
    parts = [("_unified", args.do_unify), ("_corrupt", args.corrupt_samples),
             ("_noanswer", args.no_answer_samplegen), ("_relevance", args.make_adv_prompts),
             ("_letters", not args.convert_letter_choices)]
    return "".join(name for name, on in parts if on)


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    if args.list_tasks:
        from inherent_limits.data.listing import task_table
        print(task_table())
        return
    from collections import Counter
    from pathlib import Path

    from tqdm import tqdm

    from inherent_limits.core.checks import at_least, not_empty, writable_root
    from inherent_limits.core.run_info import git_hash, job_id
    from inherent_limits.data import registry
    from inherent_limits.data.loading import BUNDLED_MANUAL, BUNDLED_RAW, data_source, resolve_dir
    from inherent_limits.data.registry import DATA_DIR_ENV, MANUAL_DIR_ENV
    from inherent_limits.prompts.builder import PromptBuilder, Variant
    from inherent_limits.prompts.task_datasets import BuildRequest, build_task
    not_empty(args, ("tasks", "slurm_job_id", "root", "flan_templates", "prompt_templates", "data_dir",
                     "manual_dir"))
    default = registry.TRAIN_TASKS if args.dataset_type == "train+val" else registry.TEST_TASKS
    tasks = registry.resolve_tasks(args.tasks) if args.tasks else list(default)
    untemplated = [t for t in tasks if registry.get_task(t).template_family is None]
    named = [t for t in untemplated if t in args.tasks] if args.tasks else untemplated
    if named:
        raise UserError(f"{', '.join(named)}: BigBench/GSM8K items are formatted by test.py "
                        "at test time, not by create_prompts.py")
    if untemplated:  # a group (all, bigbench, a cluster): build what this stage can, say what it leaves
        tasks = [t for t in tasks if t not in untemplated]
        print(f"left out {len(untemplated)} task(s) that test.py formats at test time: {', '.join(untemplated)}")
        if not tasks:
            raise UserError(f"{' '.join(args.tasks)}: no task this stage builds "
                            "(BigBench/GSM8K are formatted by test.py)")
    at_least("--num_inner", args.num_inner, 1)  # a SampleGen prompt without examples is not one
    if args.num_datapoints < 2:
        raise UserError("--num_datapoints must be at least 2 (one training and one validation row)")
    writable_root(Path(args.root))
    variant = Variant(num_inner=args.num_inner, corrupt=args.corrupt_samples,
                      no_answer=args.no_answer_samplegen, unify=args.do_unify,
                      convert_letter_choices=args.convert_letter_choices, template_index=args.template_index)
    import datasets
    datasets.disable_progress_bars()
    builder = PromptBuilder.from_files(args.flan_templates, args.prompt_templates, variant)
    request = BuildRequest(custom=args.create_custom_prompts, dataset_type=args.dataset_type,
                           gold_pipeline=args.make_gold_pipeline_test, relevance=args.make_adv_prompts,
                           num_data=args.num_datapoints, seed=args.seed, data_dir=args.data_dir,
                           manual_dir=args.manual_dir, variant_suffix=variant_suffix(args))
    role = "train" if request.dataset_type == "train+val" else "test"
    sources = Counter(data_source(t, role, args.data_dir, args.manual_dir).split(":", 1)[0] for t in tasks)
    data = resolve_dir(args.data_dir, DATA_DIR_ENV, BUNDLED_RAW)
    manual = resolve_dir(args.manual_dir, MANUAL_DIR_ENV, BUNDLED_MANUAL)
    print(f"job-{job_id(args.slurm_job_id)} (git {git_hash()}): building {len(tasks)} task(s), "
          f"{request.dataset_type} custom={request.custom} gold_pipeline={request.gold_pipeline} "
          f"num_datapoints={request.num_data} seed={request.seed}; data: "
          + ", ".join(f"{n} from {kind}" for kind, n in sorted(sources.items()))
          + f" (data_dir {data or 'unset: the hub'}, manual_dir {manual or 'unset'})")
    built, skipped = [], []
    for task in tqdm(tasks, desc="build tasks", unit="task"):
        path = build_task(task, Path(args.root), request, builder, overwrite=args.overwrite)
        (built if path else skipped).append(task)
    print(f"built {len(built)}, skipped {len(skipped)} complete (use --overwrite to rebuild)")


if __name__ == "__main__":
    run_cli(lambda: main(sys.argv[1:]))
