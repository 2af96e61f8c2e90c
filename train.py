#!/usr/bin/env python3
"""Stage 3: LoRA-tune a base model on a mixture (saved_models/<run_name>/, train_logs.csv).

The reference's flags (--prompts_type index, --model_path_idx/--model_size_idx, --num_train,
--num_epochs, --batch_size, --slurm_job_id) work as before; --dataset and --model name the
mixture and the base model directly. Runs on CPU or GPU; W&B only with --report_to wandb.
"""
from __future__ import annotations

import argparse
import sys

from inherent_limits.core.cli_args import add_bool
from inherent_limits.core.errors import run_cli
from inherent_limits.models.offline import model_help


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default=None,
                   help="mixture folder under <root>/data (e.g. mix_prompts_mixture) or a path to one")
    p.add_argument("--prompts_type", type=int, default=None,
                   help="the reference's mixture index (0 mix_prompts_mixture, 1 flan_prompts_mixture, "
                        "2-6 variants, 7-20 setups 1-7 SampleGen/Regular); used when --dataset is not given")
    p.add_argument("--model", default=None, help="base model: hub id, local path, a .gguf file, 'tiny' (the built-in test model) "
                        f"or a named offline model: {model_help()}")
    p.add_argument("--model_path_idx", type=int, default=None,
                   help="the reference's model index: 0 Mistral-7B-v0.1, 1 Llama-2 (size by --model_size_idx)")
    p.add_argument("--model_size_idx", type=int, default=None,
                   help="Llama-2 size: 0 7b, 1 13b, 2 70b, 3 13b-chat, 4 7b-chat (default 0)")
    p.add_argument("--run_name", default=None,
                   help="output folder saved_models/<run_name> (default: a %%Y%%m%%d_%%H%%M%%S timestamp)")
    p.add_argument("--num_train", type=int, default=None, help="training rows to use (default: all)")
    p.add_argument("--num_val", type=int, default=2, help="validation rows (default: 2, as the reference)")
    p.add_argument("--num_epochs", type=float, default=1, help="epochs (default: 1)")
    p.add_argument("--batch_size", type=int, default=1, help="per-device batch size (default: 1)")
    p.add_argument("--gradient_accumulation_steps", type=int, default=1, help="(default: 1)")
    p.add_argument("--learning_rate", type=float, default=5e-5, help="(default: 5e-5)")
    p.add_argument("--lora_r", type=int, default=64, help="LoRA rank (default: 64)")
    p.add_argument("--lora_alpha", type=int, default=16, help="LoRA alpha (default: 16)")
    p.add_argument("--lora_dropout", type=float, default=0.1, help="LoRA dropout (default: 0.1)")
    p.add_argument("--max_length", type=int, default=4096, help="max tokens per text (default: 4096)")
    p.add_argument("--warmup_ratio", type=float, default=0.03, help="warm-up share of the steps (default: 0.03)")
    add_bool(p, "--gradient_checkpointing", True, "recompute activations to save memory")
    add_bool(p, "--load_in_4bit", False, "load the base model in 4 bits (CUDA + bitsandbytes)")
    add_bool(p, "--resume", False, "continue the run --run_name from its last checkpoint")
    p.add_argument("--report_to", default="none", help="Trainer loggers, e.g. wandb (default: none)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    p.add_argument("--slurm_job_id", default=None, help="job id for the log (default: $SLURM_JOB_ID or a timestamp)")
    p.add_argument("--root", default=".", help="root of data/, saved_models/ and the logs (default: .)")
    return p


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    from pathlib import Path

    from inherent_limits.core.checks import not_empty
    not_empty(args, ("dataset", "model", "run_name", "report_to", "slurm_job_id", "root"))

    from inherent_limits.core.run_info import git_hash, job_id
    from inherent_limits.models.loading import base_model_name
    from inherent_limits.training.lora import TrainRequest, dataset_name, train

    req = TrainRequest(root=Path(args.root), dataset=dataset_name(args.dataset, args.prompts_type),
                       model=base_model_name(args.model, args.model_path_idx, args.model_size_idx),
                       job=job_id(args.slurm_job_id), run_name=args.run_name, num_train=args.num_train,
                       num_val=args.num_val, batch_size=args.batch_size, num_epochs=args.num_epochs,
                       learning_rate=args.learning_rate, seed=args.seed, lora_r=args.lora_r,
                       lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout, max_length=args.max_length,
                       warmup_ratio=args.warmup_ratio, gradient_checkpointing=args.gradient_checkpointing,
                       gradient_accumulation_steps=args.gradient_accumulation_steps, report_to=args.report_to,
                       resume=args.resume, load_in_4bit=args.load_in_4bit)
    print(f"job-{req.job} (git {git_hash()}): training on {req.dataset} with {req.model}")
    out = train(req)
    print(f"adapter in {out}; its row in {Path(args.root) / 'train_logs.csv'}")


if __name__ == "__main__":
    run_cli(lambda: main(sys.argv[1:]))
