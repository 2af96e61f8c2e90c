#!/usr/bin/env python3
"""Benchmark: the demo study's evaluations in one process (the study engine) vs one process per
model and adapter vs one process per evaluation.

The demo's 9 test tasks x 5 conditions, on the tiny model with a Regular and a SampleGen
adapter (trained here, once, on the bundled data), each mode run from a fresh copy of one root:

- study: one `test.py` call for the base model with all five conditions (--run_name base
  --condition ... --regular_model ... --samplegen_model ...): on vLLM one engine serves the base
  model and both adapters; on HF each model and adapter is loaded once, in one process;
- per_adapter: one call per model and adapter with every task (the SampleGen model, the base
  model in its three conditions, the Regular model): on vLLM one engine per adapter;
- per_eval: one call per task and condition, as the reference's scripts (every call loads the
  model, or starts the vLLM engine, again).

Every mode must write the same responses (compared response file by response file). The modes
run interleaved for --repeats rounds, with --threads CPU threads per process (OMP_NUM_THREADS,
printed); the best time counts, the spread is printed. The HF backend runs in this interpreter's
environment; the vLLM backend in .venv-vllm (or $INHERENT_LIMITS_VLLM_VENV). The last line is
the study mode's ratio over per_adapter, the line above it the ratio over per_eval.

    python benchmarks/bench_study_eval.py [--backend hf|vllm] [--tasks cola wic ...] [--num_test 8]
        [--modes study per_adapter per_eval] [--repeats 2] [--threads 1] [--workdir DIR]
    (a workdir keeps the trained adapters for the next run)
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import THREADS, interleaved, ratio, set_threads, spread  # benchmarks/timing.py (sys.path[0])

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from inherent_limits.demo import DEMO_CONDITIONS, DEMO_TEST_TASKS  # noqa: E402

RUNS = {"flan_direct": "demo_regular", "samplegen_direct": "demo_samplegen"}
MODES = ("study", "per_adapter", "per_eval")
# per model: the SampleGen model first (the SampleGen Pipeline reads its responses), then the
# base model in its three conditions, then the Regular model
PER_MODEL = (("samplegen_direct",), ("base_zero_shot", "gold_pipeline", "samplegen_pipeline"), ("flan_direct",))


def prepare(root: Path, tasks: list[str]) -> None:
    """Datasets of the tasks and the default mixtures; both adapters (tiny model, 32 examples, 2 epochs)."""
    import datasets

    from inherent_limits.data.registry import TEST_TASKS, mixture_tasks
    from inherent_limits.prompts.builder import PromptBuilder
    from inherent_limits.prompts.mixtures import make_mixture
    from inherent_limits.prompts.task_datasets import BuildRequest, build_task
    from inherent_limits.training.lora import TrainRequest, train

    datasets.disable_progress_bars()
    builder = PromptBuilder.from_files()
    common = dict(num_data=8, data_dir="bundled", manual_dir="bundled")
    built = [t for t in tasks if t in TEST_TASKS]
    for custom in (False, True):
        for task in sorted(set(mixture_tasks("default")) | set(built)):
            build_task(task, root, BuildRequest(custom=custom, dataset_type="train+val", **common), builder)
    for custom, gold in ((False, False), (True, False), (True, True)):
        for task in built:
            build_task(task, root, BuildRequest(custom=custom, dataset_type="test", gold_pipeline=gold, **common),
                       builder)
    for fmt in ("flan_prompts", "mix_prompts"):
        make_mixture(root, fmt, num_datapoints=8, seed=42)
    for run, dataset in (("demo_regular", "flan_prompts_mixture"), ("demo_samplegen", "mix_prompts_mixture")):
        train(TrainRequest(root=root, dataset=dataset, model="tiny", job="bench", run_name=run, num_train=32,
                           batch_size=4, num_epochs=2, learning_rate=3e-3, max_length=768,
                           gradient_checkpointing=False))


def flags(conditions, tasks, args, root: Path) -> list[str]:
    """test.py's flags for these conditions on these tasks: a tuned condition alone runs its run;
    otherwise the base model runs them, with the runs of the tuned ones named."""
    run = RUNS[conditions[0]] if len(conditions) == 1 and conditions[0] in RUNS else "base"
    out = ["--test_task", ",".join(tasks), "--run_name", run, "--condition", *conditions,
           "--num_test", str(args.num_test), "--batch_size", "8", "--max_new_tokens", str(args.max_new_tokens),
           "--bertscore_model", "bundled", "--data_dir", "bundled", "--manual_dir", "bundled",
           "--backend", args.backend, "--slurm_job_id", "bench", "--root", str(root)]
    if run == "base":
        out += ["--model", "tiny", "--samplegen_model", RUNS["samplegen_direct"]]
        if "flan_direct" in conditions:
            out += ["--regular_model", RUNS["flan_direct"]]
    return out


def run_all(python: str, calls: list[list[str]], log: Path) -> None:
    """Run test.py once per flag list, in order."""
    with open(log, "a") as out:
        for call in calls:
            done = subprocess.run([python, str(REPO / "test.py"), *call], cwd=REPO, stdout=out, stderr=out,
                                  env=dict(os.environ, PYTHONPATH=str(REPO)))
            if done.returncode:
                raise SystemExit(f"error: test.py {' '.join(call)} failed (exit {done.returncode}); see {log}")


def responses(root: Path) -> dict[tuple[str, str], list[str]]:
    """{(task, condition): responses} from every eval_logs.csv row's response file."""
    from inherent_limits.core import csv_logs
    from inherent_limits.evaluation.response_files import read_responses
    log = csv_logs.read_log(root / csv_logs.EVAL_LOG)
    return {(r.test_task, r.condition): [x["response"] for x in read_responses(root / r.response_file)]
            for r in log.itertuples()}


def mode_calls(mode: str, tasks: list[str], args, root: Path) -> list[list[str]]:
    """test.py flag lists of one mode."""
    if mode == "per_eval":
        return [flags((condition,), [task], args, root) for task in tasks for condition, _ in DEMO_CONDITIONS]
    if mode == "per_adapter":
        return [flags(conditions, tasks, args, root) for conditions in PER_MODEL]
    return [flags(tuple(c for group in PER_MODEL for c in group), tasks, args, root)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["hf", "vllm"], default="hf", help="(default: hf)")
    parser.add_argument("--tasks", nargs="+", default=list(DEMO_TEST_TASKS), help="test tasks (default: the demo's 9)")
    parser.add_argument("--num_test", type=int, default=8, help="items per evaluation (default: 8, the demo's)")
    parser.add_argument("--max_new_tokens", type=int, default=24, help="(default: 24, the demo's)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES),
                        help="(default: all three; study is always run, the others are compared with it)")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds, best counts (default: 2)")
    parser.add_argument("--threads", type=int, default=THREADS, help=f"CPU threads per process (default: {THREADS})")
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a new temporary one)")
    args = parser.parse_args()
    modes = ["study", *(m for m in MODES if m in args.modes and m != "study")]
    base = Path(args.workdir or tempfile.mkdtemp(prefix="bench_study_eval-"))
    threads = set_threads(args.threads)
    if not (base / "prepared" / "saved_models" / "demo_samplegen" / "adapter_config.json").is_file():
        prepare(base / "prepared", args.tasks)
    python = sys.executable
    if args.backend == "vllm":
        venv = Path(os.environ.get("INHERENT_LIMITS_VLLM_VENV", REPO / ".venv-vllm"))
        if not (venv / "bin" / "python").is_file():
            raise SystemExit(f"error: no vLLM environment at {venv}: run scripts/setup_vllm_env.sh "
                             "or set INHERENT_LIMITS_VLLM_VENV")
        python = str(venv / "bin" / "python")
    roots = {mode: base / f"{args.backend}-{mode}" for mode in modes}
    log = base / f"{args.backend}.log"
    log.unlink(missing_ok=True)

    def fresh(mode: str) -> None:
        shutil.rmtree(roots[mode], ignore_errors=True)
        shutil.copytree(base / "prepared", roots[mode])

    warm = "import vllm" if args.backend == "vllm" else "import torch, transformers, peft"
    subprocess.run([python, "-c", warm], check=True)  # untimed: the first round does not pay cold file caches
    runs = {mode: (lambda m=mode: run_all(python, mode_calls(m, args.tasks, args, roots[m]), log)) for mode in modes}
    _, times = interleaved(runs, args.repeats, setup=fresh)
    got = {mode: responses(roots[mode]) for mode in modes}
    expected = len(args.tasks) * len(DEMO_CONDITIONS)
    for mode in modes:
        differ = sorted(k for k in set(got[mode]) | set(got["study"]) if got[mode].get(k) != got["study"].get(k))
        if len(got[mode]) != expected or differ:
            raise SystemExit(f"error: {args.backend}: {mode} and study responses differ for {differ}; see {log}")
    print(f"{args.backend}: {len(args.tasks)} tasks x {len(DEMO_CONDITIONS)} conditions, --num_test {args.num_test}, "
          f"{threads} thread(s) per process, {args.repeats} interleaved round(s); {expected} response files "
          f"identical in {', '.join(modes)}")
    for mode in modes:
        print(f"{mode:12} {len(mode_calls(mode, args.tasks, args, roots[mode])):3} process(es)  {spread(times[mode])}")
    for mode in reversed(modes[1:]):
        print(f"study engine over {mode}: {ratio(times[mode], times['study'])}")


if __name__ == "__main__":
    main()
