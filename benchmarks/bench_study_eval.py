#!/usr/bin/env python3
"""Benchmark: the demo study's evaluations, one process per evaluation vs one per model and adapter.

The demo's 9 test tasks x 5 conditions, on the tiny model with a Regular and a SampleGen
adapter (trained here, once, on the bundled data), run twice from copies of one root:

- per evaluation: one `test.py` call per task and condition, as the reference's scripts do
  (every call loads the model, or starts the vLLM engine, again);
- per model: one `test.py` call per model and adapter with every task (--test_task a,b,...):
  the SampleGen model, the base model (all three base conditions), the Regular model.

Both runs must write the same responses (compared response file by response file). The HF
backend runs in this interpreter's environment; the vLLM backend in .venv-vllm (or
$INHERENT_LIMITS_VLLM_VENV) when it exists. The last line is the HF ratio (per evaluation /
per model), the vLLM ratio is on the line above.

    python benchmarks/bench_study_eval.py [--tasks cola wic ...] [--num_test 8] [--vllm_tasks 9]
        [--backends hf vllm] [--workdir DIR]   (a workdir keeps the trained adapters for the next run)
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from inherent_limits.demo import DEMO_CONDITIONS, DEMO_TEST_TASKS  # noqa: E402

RUNS = {"flan_direct": "demo_regular", "samplegen_direct": "demo_samplegen"}
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


def flags(conditions, tasks, args, backend: str, root: Path, job: str) -> list[str]:
    """test.py's flags for these conditions (one model) on these tasks."""
    run = RUNS.get(conditions[0], "base")
    out = ["--test_task", ",".join(tasks), "--run_name", run, "--condition", *conditions,
           "--num_test", str(args.num_test), "--batch_size", "8", "--max_new_tokens", str(args.max_new_tokens),
           "--bertscore_model", "bundled", "--data_dir", "bundled", "--manual_dir", "bundled", "--backend", backend,
           "--slurm_job_id", job, "--root", str(root)]
    if run == "base":
        out += ["--model", "tiny", "--samplegen_model", "demo_samplegen"]
    return out


def run_all(python: str, calls: list[list[str]], log: Path) -> float:
    """Run test.py once per flag list, in order; the wall time of all of them."""
    start = time.perf_counter()
    with open(log, "a") as out:
        for call in calls:
            done = subprocess.run([python, str(REPO / "test.py"), *call], cwd=REPO, stdout=out, stderr=out,
                                  env=dict(os.environ, PYTHONPATH=str(REPO)))
            if done.returncode:
                raise SystemExit(f"error: test.py {' '.join(call)} failed (exit {done.returncode}); see {log}")
    return time.perf_counter() - start


def responses(root: Path) -> dict[tuple[str, str], list[str]]:
    """{(task, condition): responses} from every eval_logs.csv row's response file."""
    from inherent_limits.core import csv_logs
    from inherent_limits.evaluation.response_files import read_responses
    log = csv_logs.read_log(root / csv_logs.EVAL_LOG)
    return {(r.test_task, r.condition): [x["response"] for x in read_responses(root / r.response_file)]
            for r in log.itertuples()}


def compare(name: str, python: str, tasks: list[str], args, base: Path) -> float:
    """Both runs of one backend; returns per-evaluation time / per-model time."""
    roots = {mode: base / f"{name}-{mode}" for mode in ("per_eval", "per_model")}
    for root in roots.values():
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(base / "prepared", root)
    per_eval = [flags((condition,), [task], args, name, roots["per_eval"], "per-eval")
                for task in tasks for condition, _ in DEMO_CONDITIONS]
    per_model = [flags(conditions, tasks, args, name, roots["per_model"], "per-model") for conditions in PER_MODEL]
    log = base / f"{name}.log"
    log.unlink(missing_ok=True)
    t_eval = run_all(python, per_eval, log)
    t_model = run_all(python, per_model, log)
    a, b = responses(roots["per_eval"]), responses(roots["per_model"])
    if len(a) != len(tasks) * len(DEMO_CONDITIONS) or a != b:
        differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        raise SystemExit(f"error: {name}: the two runs' responses differ for {differ}; see {log}")
    print(f"{name}: {len(tasks)} tasks x {len(DEMO_CONDITIONS)} conditions, --num_test {args.num_test}: "
          f"{len(per_eval)} processes {t_eval:.0f}s, {len(per_model)} processes {t_model:.0f}s; "
          f"{len(a)} response files identical", flush=True)
    return t_eval / t_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(DEMO_TEST_TASKS), help="test tasks (default: the demo's 9)")
    parser.add_argument("--num_test", type=int, default=8, help="items per evaluation (default: 8, the demo's)")
    parser.add_argument("--max_new_tokens", type=int, default=24, help="(default: 24, the demo's)")
    parser.add_argument("--vllm_tasks", type=int, default=None,
                        help="vLLM: only the first N tasks (an engine start per process is slow on CPU; default: all)")
    parser.add_argument("--backends", nargs="+", choices=["hf", "vllm"], default=["hf", "vllm"],
                        help="(default: both; vllm where its environment exists)")
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a new temporary one)")
    args = parser.parse_args()
    base = Path(args.workdir or tempfile.mkdtemp(prefix="bench_study_eval-"))
    if not (base / "prepared" / "saved_models" / "demo_samplegen" / "adapter_config.json").is_file():
        prepare(base / "prepared", args.tasks)
    venv = Path(os.environ.get("INHERENT_LIMITS_VLLM_VENV", REPO / ".venv-vllm"))
    ratios = {}
    if "vllm" in args.backends and (venv / "bin" / "python").is_file():
        ratios["vllm"] = compare("vllm", str(venv / "bin" / "python"), args.tasks[:args.vllm_tasks], args, base)
    if "hf" in args.backends:
        ratios["hf"] = compare("hf", sys.executable, args.tasks, args, base)
    missing = "not asked for" if "vllm" not in args.backends else f"no {venv}: scripts/setup_vllm_env.sh"
    print(f"vllm: {ratios['vllm']:.1f}x" if "vllm" in ratios else f"vllm: not run ({missing})")
    print(f"hf: {ratios['hf']:.1f}x" if "hf" in ratios else "hf: not run (not asked for)")


if __name__ == "__main__":
    main()
