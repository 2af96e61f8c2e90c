#!/usr/bin/env python3
"""Stage 4: evaluate a base or LoRA-tuned model on test tasks in one or more conditions.

Conditions (logged in eval_logs.csv's `condition` column), chosen by the reference's flags:
  base_zero_shot      --run_name base
  gold_pipeline       --run_name base --use_exemplar_gen True --sample_source train_data
  samplegen_pipeline  --run_name base --use_exemplar_gen True --sample_source model --samplegen_model <run>
  flan_direct         --run_name <run> --test_prompt_format flan_prompts
  samplegen_direct    --run_name <run> --test_prompt_format mix_prompts
or by name: --condition gold_pipeline samplegen_pipeline (several conditions of one model).
With --run_name base, --condition may also name the tuned conditions of --regular_model
(flan_direct) and --samplegen_model (samplegen_direct): the study's five conditions of one base
model in one call (SampleGen direct runs before the SampleGen pipeline that reads it).
--test_task takes several tasks (names, the reference's indices, cluster names, test, bigbench,
all; spaces or commas): each model (on vLLM: one engine for the base model and every adapter)
is loaded once and every task and condition is evaluated with it. Each evaluation writes its own per-sample response file,
appends eval_logs.csv and (for the tasks scored that way) bertscore_evals.csv. A rerun with
the same settings resumes an interrupted one, task by task; --rescore FILE recomputes the
answers and metrics of a response file without generating.
"""
from __future__ import annotations

import argparse
import sys

from inherent_limits.core.cli_args import add_bool, add_data_sources
from inherent_limits.core.conditions import CONDITIONS as CONDITION_NAMES
from inherent_limits.core.errors import UserError, close_names, run_cli
from inherent_limits.evaluation.answers import MATCHING_MODES
from inherent_limits.evaluation.generation import DTYPES
from inherent_limits.models.offline import model_help


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run_name", default="base", help="'base' for the base model, else a run under saved_models/")
    p.add_argument("--test_task", nargs="+", default=None,
                   help="test tasks: names, the reference's indices into its test list, cluster names, "
                        "test (the test list), bigbench, all; spaces or commas")
    p.add_argument("--bigbench_test_task", type=int, default=None, help="index into the BigBench task list")
    p.add_argument("--misc_test_task", type=int, default=None, help="index into the other tasks (0 gsm8k)")
    p.add_argument("--trans_test_task", type=int, default=None, help="index into the translated tasks")
    p.add_argument("--test_prompt_format", choices=["mix_prompts", "flan_prompts"], default=None,
                   help="test set format: mix_prompts (SampleGen) or flan_prompts (Regular); default flan_prompts")
    p.add_argument("--bb_test_prompt_format", default="closed",
                   help="BigBench/GSM8K format: closed, closed-adv, plain, adv, bad-prompt-1..6 (default: closed)")
    add_bool(p, "--use_exemplar_gen", False, "run a pipeline (base model with in-context examples)")
    p.add_argument("--sample_source", choices=["model", "train_data"], default=None,
                   help="pipeline examples: model (SampleGen Pipeline) or train_data (Gold Pipeline)")
    p.add_argument("--condition", nargs="+", default=None, metavar="NAME",
                   help="conditions by name instead of the flags above (" + ", ".join(CONDITION_NAMES)
                        + "); several share one model: base ones with --run_name base, tuned ones with a run")
    p.add_argument("--samplegen_model", default=None, help="run name of the SampleGen model of the pipelines "
                   "(with --run_name base, also the model of --condition samplegen_direct)")
    p.add_argument("--regular_model", default=None,
                   help="with --run_name base: run name of the Regular-Prompt model of --condition flan_direct")
    p.add_argument("--samplegen_eval_file", default=None,
                   help="its direct-eval response file (eval name or path); default: found by job id in eval_logs.csv")
    p.add_argument("--gp_ablation_setup", default=None, choices=[f"setup{n}" for n in range(1, 8)],
                   help="Gold Pipeline ablation: examples from data/mix_prompts_mixture_<setup>/train")
    p.add_argument("--num_samples_ablation", type=int, default=2, help="examples in the ablation (default: 2)")
    p.add_argument("--gp_num_data", type=int, default=None,
                   help="which data/mix_prompts/<task>/<n> supplies gold examples (default: the largest built)")
    p.add_argument("--num_inner", type=int, default=2, help="gold examples of BigBench/GSM8K items (default: 2)")
    add_bool(p, "--unified_prompts", False, "use the unified-label (_unified) test sets")
    p.add_argument("--translation_type", default="", help="not supported (needs a translation API); "
                   "evaluate the pre-translated task social_iqa_translated instead")
    p.add_argument("--model", default=None,
                   help="base model: hub id, local path, a .gguf file, 'tiny' or a named offline model "
                        f"({model_help()}); default: the run's base model")
    p.add_argument("--model_path_idx", type=int, default=None, help="the reference's model index (see train.py)")
    p.add_argument("--model_size_idx", type=int, default=None, help="the reference's Llama-2 size index")
    p.add_argument("--num_test", type=int, default=None, help="test items, sampled with the seed (default: all)")
    p.add_argument("--batch_size", type=int, default=8, help="generation batch size (default: 8)")
    p.add_argument("--backend", choices=["hf", "vllm"], default=None, help="inference backend (default: hf)")
    add_bool(p, "--use_vllm", False, "the reference's switch: True means --backend vllm")
    p.add_argument("--max_new_tokens", type=int, default=None,
                   help="generation length, both backends (default: 1024 with an adapter, 250 without)")
    p.add_argument("--dtype", choices=DTYPES, default=None,
                   help="model dtype, both backends (default: bfloat16 on CUDA, float32 on CPU)")
    p.add_argument("--tensor_parallel_size", type=int, default=1, help="GPUs for vLLM (default: 1)")
    p.add_argument("--gpu_memory_utilization", type=float, default=None,
                   help="vLLM: share of GPU memory (CPU: of RAM) it reserves (default: vLLM's 0.9; on CPU 0.15)")
    p.add_argument("--max_model_len", type=int, default=None,
                   help="vLLM: context length, prompt + new tokens (default: the model's)")
    add_bool(p, "--enforce_eager", True, "vLLM: no CUDA graphs (the reference's setting)")
    p.add_argument("--max_num_seqs", type=int, default=None, help="vLLM: sequences per step (default: vLLM's)")
    p.add_argument("--max_lora_rank", type=int, default=None,
                   help="vLLM: largest LoRA rank served (default: the adapter's, rounded up to one vLLM accepts)")
    add_bool(p, "--load_in_4bit", False, "4-bit base model (CUDA + bitsandbytes)")
    add_bool(p, "--bertscore", True, "compute BERTScore accuracy for the tasks the reference scores that way")
    p.add_argument("--bertscore_model", default="roberta-large",
                   help="BERTScore encoder (default: roberta-large); 'bundled' = offline all-MiniLM-L6-v2")
    p.add_argument("--num_layers", type=int, default=None, help="BERTScore layer (default: bert-score's)")
    p.add_argument("--bertscore_empty_answers", choices=("reference", "wrong"), default="reference",
                   help="BERTScore accuracy of an empty answer: 'reference' lets it choose the first option, as "
                        "the reference does; 'wrong' counts it wrong (default: reference)")
    p.add_argument("--prompt_templates", default=None,
                   help="templates.json for BigBench/GSM8K formats (default: the project's wording)")
    add_data_sources(p)
    p.add_argument("--answer_matching", choices=MATCHING_MODES, default=None,
                   help="answer matching: reference (the reference's rules, its bugs fixed; default) or "
                        "normalised (case, quotes and final periods ignored); with --rescore: default the logged one")
    p.add_argument("--rescore", default=None, metavar="FILE",
                   help="recompute answers and metrics of this response file; no generation")
    p.add_argument("--seed", type=int, default=42, help="sampling seed (default: 42)")
    p.add_argument("--slurm_job_id", default=None, help="job id (default: $SLURM_JOB_ID or a timestamp)")
    p.add_argument("--root", default=".", help="root of data/, saved_models/ and the logs (default: .)")
    return p


def _words(values) -> list[str]:
    return [w for v in values for w in str(v).replace(",", " ").split()]


def test_tasks(args) -> list[str]:
    """The tasks named by --test_task (names, indices, groups) or by one of the reference's list indices.

    Every name is checked before anything runs: unknown ones are listed together, with close names.
    """
    from inherent_limits.data import registry
    chosen = [(flag, value, tasks) for flag, value, tasks in (
        ("--bigbench_test_task", args.bigbench_test_task, registry.BIGBENCH_TASKS),
        ("--misc_test_task", args.misc_test_task, registry.OTHER_TASKS),
        ("--trans_test_task", args.trans_test_task, registry.TRANSLATED_TASKS),
        ("--test_task", args.test_task, registry.TEST_TASKS)) if value is not None]
    if not chosen:
        raise UserError("which task? pass --test_task <names or indices> (or --bigbench_test_task N)")
    if len(chosen) > 1:
        raise UserError(f"{' and '.join(c[0] for c in chosen)} both name tasks: pass one of them "
                        "(--test_task takes several names, indices and groups)")
    flag, value, tasks = chosen[0]
    test_lists = (*registry.TEST_TASKS, *registry.BIGBENCH_TASKS, *registry.OTHER_TASKS, *registry.TRANSLATED_TASKS)
    groups = {"all": list(dict.fromkeys(test_lists)), "test": list(registry.TEST_TASKS),
              "bigbench": list(registry.BIGBENCH_TASKS), **{c: list(t) for c, t in registry.TASK_CLUSTERS.items()}}
    out, unknown = [], []
    for word in _words(value if isinstance(value, list) else [value]):
        if word.lstrip("-").isdigit():
            index = int(word)
            if not 0 <= index < len(tasks):
                raise UserError(f"{flag} {index} out of range 0..{len(tasks) - 1}: " + ", ".join(tasks))
            names = [tasks[index]]
        else:
            names = groups.get(word, [word])
        for name in names:
            if name not in registry.TASKS:
                close = close_names(name, [*registry.TASKS, *groups])
                unknown.append(f"{name!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
            elif name not in out:
                out.append(name)
    if unknown:
        raise UserError(f"unknown tasks in {flag}: {'; '.join(unknown)}. Nothing was run "
                        "(`python create_prompts.py --list_tasks` lists the tasks)")
    if not out:
        raise UserError(f"{flag} names no task: give task names, indices or groups")
    return out


def conditions(args) -> list[tuple[str, str, str]]:
    """(condition, test prompt format, run name) triples: from --condition, else from the reference's flags."""
    from inherent_limits.core.conditions import BASE_CONDITIONS
    from inherent_limits.evaluation.test_sets import condition_of
    if args.condition is None:
        condition = condition_of(args.run_name, args.use_exemplar_gen, args.sample_source, args.test_prompt_format)
        return [(condition, args.test_prompt_format or "flan_prompts", args.run_name)]
    names = list(dict.fromkeys(_words(args.condition)))
    if not names:
        raise UserError(f"--condition names no condition: choose from {', '.join(CONDITION_NAMES)}")
    bad = [n for n in names if n not in CONDITION_NAMES]
    if bad:
        raise UserError(f"unknown condition {bad[0]!r} in --condition: choose from {', '.join(CONDITION_NAMES)}")
    if args.use_exemplar_gen or args.sample_source:
        raise UserError("--condition names the conditions: drop --use_exemplar_gen and --sample_source")
    base = args.run_name == "base"
    tuned_runs = {"flan_direct": args.regular_model, "samplegen_direct": args.samplegen_model} if base else {}
    if args.regular_model and not base:
        raise UserError("--regular_model goes with --run_name base (the tuned run is --run_name here)")
    wrong = [n for n in names if (n in BASE_CONDITIONS) != base and not tuned_runs.get(n)]
    if wrong:
        need = "--run_name base" if wrong[0] in BASE_CONDITIONS else \
            "--run_name <the tuned run> (or --run_name base with --regular_model / --samplegen_model)"
        raise UserError(f"condition {wrong[0]} needs {need}, not --run_name {args.run_name}")
    formats = {"samplegen_direct": "mix_prompts"}
    out = [(n, formats.get(n, "flan_prompts"), tuned_runs.get(n) or args.run_name) for n in names]
    if args.test_prompt_format and any(fmt != args.test_prompt_format for n, fmt, _ in out
                                       if n not in BASE_CONDITIONS):
        raise UserError("--test_prompt_format contradicts --condition (flan_direct: flan_prompts, "
                        "samplegen_direct: mix_prompts): drop it")
    return out


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    from pathlib import Path

    from inherent_limits.core import checks, csv_logs
    from inherent_limits.core.run_info import git_hash, job_id
    root, job = Path(args.root), job_id(args.slurm_job_id)
    checks.not_empty(args, ("run_name", "test_task", "model", "rescore", "slurm_job_id", "root"))
    checks.at_least("--max_new_tokens", args.max_new_tokens, 1)
    checks.at_least("--num_inner", args.num_inner, 1)
    checks.writable_root(root)
    for log in (csv_logs.EVAL_LOG, csv_logs.BERTSCORE_LOG):  # a response file is never left without its row
        checks.usable_log(root / log)
    if args.rescore:
        from inherent_limits.evaluation.runner import rescore
        row = rescore(root, Path(args.rescore), job, args.answer_matching)
        print(f"rescored {args.rescore}: " + ", ".join(f"{k}={row[k]}" for k in row if k.endswith(("rate",)) or
                                                         k in ("accuracy", "f1", "em", "rouge1", "bleu")))
        return
    if args.translation_type:
        raise UserError("--translation_type needs a translation API and is not supported; "
                        "evaluate --trans_test_task 0 (social_iqa_translated) instead")
    from inherent_limits.evaluation.runner import EvalRequest, run_many
    from inherent_limits.models.loading import base_model_name
    if args.samplegen_model in ("None", ""):  # the reference's scripts pass "None"
        args.samplegen_model = None
    tasks, pairs = test_tasks(args), conditions(args)
    model = None
    if args.model or args.model_path_idx is not None:
        model = base_model_name(args.model, args.model_path_idx, args.model_size_idx)
    reqs = [EvalRequest(
        root=root, task=task, condition=condition, job=job, run_name=run,
        model=model if run == args.run_name else None,  # a tuned run of a study call: its own base model
        test_prompt_format=fmt, bb_format=args.bb_test_prompt_format,
        num_test=args.num_test, seed=args.seed, batch_size=args.batch_size,
        backend=args.backend or ("vllm" if args.use_vllm else "hf"), max_new_tokens=args.max_new_tokens,
        unified=args.unified_prompts, num_inner=args.num_inner, gp_num_data=args.gp_num_data,
        ablation_setup=args.gp_ablation_setup, num_samples_ablation=args.num_samples_ablation,
        samplegen_model=args.samplegen_model if run == args.run_name else None,
        samplegen_eval_file=args.samplegen_eval_file, data_dir=args.data_dir,
        manual_dir=args.manual_dir, prompt_templates=args.prompt_templates, bertscore=args.bertscore,
        bertscore_model=args.bertscore_model, bertscore_empty_answers=args.bertscore_empty_answers,
        num_layers=args.num_layers, load_in_4bit=args.load_in_4bit,
        tensor_parallel_size=args.tensor_parallel_size, dtype=args.dtype, max_model_len=args.max_model_len,
        gpu_memory_utilization=args.gpu_memory_utilization, enforce_eager=args.enforce_eager,
        max_num_seqs=args.max_num_seqs, max_lora_rank=args.max_lora_rank,
        answer_matching=args.answer_matching or "reference")
        for task in tasks for condition, fmt, run in pairs]
    print(f"job-{job} (git {git_hash()}): {len(reqs)} evaluation(s), {len(tasks)} task(s)")
    done = []
    for row in run_many(reqs):           # checks every request (runs, models, test sets) before running any
        if row is None:
            continue
        scores = ", ".join(f"{k}={v:.2f}" for k, v in row.items() if isinstance(v, float))
        print(f"{row['test_task']} / {row['condition']} ({row['eval_name']}): {scores}")
        print(f"responses: {root / row['response_file']}; row appended to {root / 'eval_logs.csv'}")
        done.append((row["test_task"], row["condition"], row["eval_name"], scores))
    if done:
        print(f"\n{len(done)} evaluation(s) in this call:")
        width = max(len(task) for task, *_ in done)
        for task, condition, name, scores in done:
            print(f"  {task:{width}}  {condition:18}  {name}  {scores}")


if __name__ == "__main__":
    run_cli(lambda: main(sys.argv[1:]))
