"""The vLLM backend against the hf backend on the tiny model (runs in .venv-vllm: scripts/test.sh).

One vLLM engine serves the base model and both adapters (Regular, SampleGen) for the whole
module. Greedy outputs must equal the hf backend's on real test prompts, short and long,
batched as each backend batches them; where a token differs, it must be at a near-tie (the
two best logprobs within NEAR_TIE), which is printed. A five-condition mini study with the
vLLM backend must give the hf study's metrics, and test.py --backend vllm must run several
tasks in one process without an ERROR line in vLLM's log.
"""
import csv
import math
import shutil

import pytest

from inherent_limits.core import csv_logs
from inherent_limits.core.errors import UserError
from inherent_limits.data.registry import get_task, mixture_tasks
from inherent_limits.evaluation.generation import VLLMEngine, VLLMSettings, make_backend
from inherent_limits.evaluation.response_files import read_responses
from inherent_limits.evaluation.runner import EvalRequest, load_items, run_evaluation
from inherent_limits.prompts.builder import PromptBuilder
from inherent_limits.prompts.mixtures import make_mixture
from inherent_limits.prompts.task_datasets import BuildRequest, build_task
from inherent_limits.training.lora import TrainRequest, train

pytestmark = [pytest.mark.vllm, pytest.mark.slow]
TASKS = ("cola", "aeslc", "wic", "copa")            # 10 bundled test items each
STUDY_TASKS = ("cola", "aeslc", "logical_deduction")
ORDER = ("base_zero_shot", "gold_pipeline", "flan_direct", "samplegen_direct", "samplegen_pipeline")
NEW_TOKENS = 96       # past the first `Answer Solution:` and into the SampleGen examples
NEAR_TIE = 1e-3       # logprob margin under which two engines may pick different tokens
JOB = "vllm-1"


@pytest.fixture(scope="module")
def study(tmp_path_factory, tiny_model):
    """Datasets of TASKS and a Regular and a SampleGen adapter, trained on the tiny model."""
    import datasets
    datasets.disable_progress_bars()
    root = tmp_path_factory.mktemp("vllm-study")
    builder = PromptBuilder.from_files()
    common = dict(num_data=8, data_dir="bundled", manual_dir="bundled")
    for custom in (False, True):
        for task in sorted(set(mixture_tasks("default")) | set(TASKS)):
            build_task(task, root, BuildRequest(custom=custom, dataset_type="train+val", **common), builder)
    for custom, gold in ((False, False), (True, False), (True, True)):
        for task in TASKS:
            build_task(task, root, BuildRequest(custom=custom, dataset_type="test", gold_pipeline=gold, **common),
                       builder)
    for fmt in ("flan_prompts", "mix_prompts"):
        make_mixture(root, fmt, num_datapoints=8, seed=42)
    for name, dataset in (("regular", "flan_prompts_mixture"), ("samplegen", "mix_prompts_mixture")):
        train(TrainRequest(root=root, dataset=dataset, model="tiny", job=JOB, run_name=name, num_train=32,
                           batch_size=4, num_epochs=2, learning_rate=3e-3, max_length=768,
                           gradient_checkpointing=False))
    return root


@pytest.fixture(scope="module")
def engine(study, tiny_model):
    """One engine for the module: the tiny model and both adapters (max_loras 2)."""
    adapters = [study / "saved_models" / run for run in ("regular", "samplegen")]
    engine = VLLMEngine(str(tiny_model), adapters, VLLMSettings(max_model_len=2048))
    yield engine
    engine.close()


def _request(root, task, condition, **kw):
    run = {"flan_direct": "regular", "samplegen_direct": "samplegen"}.get(condition, "base")
    pipeline = condition in ("gold_pipeline", "samplegen_pipeline")
    base = dict(root=root, task=task, condition=condition, job=JOB, run_name=run,
                test_prompt_format="mix_prompts" if condition == "samplegen_direct" else "flan_prompts",
                num_test=4, batch_size=4, max_new_tokens=48, data_dir="bundled", manual_dir="bundled",
                samplegen_model="samplegen" if pipeline else None, bertscore_model="bundled",
                model="tiny" if run == "base" else None)
    base.update(kw)
    return EvalRequest(**base)


def _prompts(root, conditions):
    """Every test item of TASKS in these conditions (40 per condition)."""
    out = []
    for condition in conditions:
        for task in TASKS:
            items, _ = load_items(_request(root, task, condition, num_test=None), get_task(task))
            out.extend(item.text for item in items)
    return out


def _first_difference(backend, hf_text, out):
    """(token position, top-2 logprob margin there) where vLLM's tokens leave the hf text."""
    ids = list(out.token_ids)
    k = 0
    while k < len(ids) and hf_text.startswith(backend.decode(ids[:k + 1])):
        k += 1
    top = sorted((lp.logprob for lp in out.logprobs[min(k, len(ids) - 1)].values()), reverse=True)
    return k, top[0] - top[1] if len(top) > 1 else math.inf


def _smallest_margin(out):
    """The smallest top-2 logprob margin along a greedy path."""
    margins = [sorted((lp.logprob for lp in step.values()), reverse=True) for step in out.logprobs]
    return min((m[0] - m[1] for m in margins if len(m) > 1), default=math.inf)


def _check_parity(engine, tiny_model, root, adapter, prompts, capsys):
    hf = make_backend("hf", str(tiny_model), adapter=adapter, batch_size=8,
                      max_new_tokens=NEW_TOKENS).generate(prompts, progress=False)
    backend = engine.backend(adapter, max_new_tokens=NEW_TOKENS)
    vllm = backend.generate(prompts, progress=False)
    outs = dict(backend.outputs(prompts, logprobs=2))
    lengths = sorted(len(ids) for ids in backend.encode(prompts))
    differing = [(i, *_first_difference(backend, hf[i], outs[i])) for i in range(len(prompts)) if hf[i] != vllm[i]]
    smallest = min(_smallest_margin(o) for o in outs.values())
    with capsys.disabled():
        print(f"\n[parity] {adapter.name if adapter else 'base'}: {len(prompts)} prompts of {lengths[0]}-"
              f"{lengths[-1]} tokens, {len(set(hf))} distinct outputs, {len(prompts) - len(differing)} identical; smallest top-2 logprob "
              f"margin on the greedy paths {smallest:.4g}"
              + "".join(f"; prompt {i} differs from token {k} (margin {m:.2g})" for i, k, m in differing))
    assert len(set(hf)) >= len(prompts) // 8, "outputs too uniform to compare"
    assert all(m <= NEAR_TIE for _, _, m in differing), differing
    return differing


def test_base_model_outputs_equal_the_hf_backend(engine, study, tiny_model, capsys):
    prompts = _prompts(study, ("base_zero_shot", "gold_pipeline"))   # bare items; gold examples + item
    assert len(prompts) == 80
    assert _check_parity(engine, tiny_model, study, None, prompts, capsys) == []


def test_regular_adapter_outputs_equal_the_hf_backend(engine, study, tiny_model, capsys):
    prompts = _prompts(study, ("flan_direct",))
    assert len(prompts) == 40
    assert _check_parity(engine, tiny_model, study, study / "saved_models" / "regular", prompts, capsys) == []


def test_samplegen_adapter_outputs_equal_the_hf_backend(engine, study, tiny_model, capsys):
    prompts = _prompts(study, ("samplegen_direct",))
    assert len(prompts) == 40
    assert _check_parity(engine, tiny_model, study, study / "saved_models" / "samplegen", prompts, capsys) == []


def _mini_study(root, backend_of):
    rows = {}
    for task in STUDY_TASKS:
        for condition in ORDER:       # samplegen_direct before samplegen_pipeline reads its responses
            req = _request(root, task, condition, backend="vllm" if backend_of else "hf")
            rows[task, condition] = run_evaluation(req, backend=backend_of(req) if backend_of else None)
    return rows


def test_mini_study_metrics_equal_the_hf_study(engine, study, tmp_path):
    hf_root, vllm_root = tmp_path / "hf", tmp_path / "vllm"
    for target in (hf_root, vllm_root):
        shutil.copytree(study / "data", target / "data")
        shutil.copytree(study / "saved_models", target / "saved_models")

    def backend_of(req):   # the engine serves the module's adapters (the files copied to both roots)
        adapter = study / "saved_models" / req.run_name if req.run_name != "base" else None
        return engine.backend(adapter, max_new_tokens=req.max_new_tokens)

    hf_rows, vllm_rows = _mini_study(hf_root, None), _mini_study(vllm_root, backend_of)
    metrics = [k for k, v in hf_rows["cola", "base_zero_shot"].items() if isinstance(v, float)]
    assert "matthews_corrcoef" in metrics and "unparsable_rate" in metrics
    for key, hf_row in hf_rows.items():
        row = vllm_rows[key]
        assert row["backend"] == "vllm" and hf_row["backend"] == "hf"
        for name, value in hf_row.items():
            if isinstance(value, float) or name == "num_unparsable":
                assert row[name] == pytest.approx(value, nan_ok=True), (key, name)
        hf_resp = [r["response"] for r in read_responses(hf_root / hf_row["response_file"])]
        assert [r["response"] for r in read_responses(vllm_root / row["response_file"])] == hf_resp, key
    hf_bs = csv_logs.read_log(hf_root / "bertscore_evals.csv")["bertscore_accuracy"].tolist()
    assert csv_logs.read_log(vllm_root / "bertscore_evals.csv")["bertscore_accuracy"].tolist() == \
        pytest.approx(hf_bs)


def test_prompts_longer_than_the_context_are_refused_by_item(engine, study):
    backend = engine.backend(None, max_new_tokens=8)
    long = " ".join(["Answer Solution: acceptable"] * 700)
    assert len(backend.encode([long])[0]) > 2048
    with pytest.raises(UserError, match=r"1 of 3 prompts do not fit --max_model_len 2048 with --max_new_tokens 8 "
                                        r"\(items 1; the longest needs \d+ tokens\): set --max_model_len \d+"):
        backend.generate(["short", long, "short"], progress=False)


def test_evaluation_names_the_items_that_do_not_fit(engine, study):
    req = _request(study, "cola", "base_zero_shot", max_new_tokens=2000, backend="vllm")
    with pytest.raises(UserError, match=r"^4 of 4 prompts do not fit --max_model_len 2048 with --max_new_tokens 2000 "
                                        r"\(items 0, 1, 2, 3; the longest needs \d+ tokens\)"):
        run_evaluation(req, backend=engine.backend(None, max_new_tokens=2000))


def test_adapter_rank_above_max_lora_rank_is_refused(study, tiny_model):
    with pytest.raises(UserError, match=r"has LoRA rank 64, above --max_lora_rank 32: pass --max_lora_rank 64"):
        VLLMEngine(str(tiny_model), [study / "saved_models" / "regular"], VLLMSettings(max_lora_rank=32))


def test_cli_runs_several_tasks_in_one_engine_without_error_lines(engine, study, cli, tmp_path):
    root = tmp_path / "cli"
    shutil.copytree(study / "data", root / "data")
    shutil.copytree(study / "saved_models", root / "saved_models")
    out = cli(["test.py", "--root", str(root), "--test_task", "cola,wic", "copa", "--run_name", "regular",
               "--test_prompt_format", "flan_prompts", "--backend", "vllm", "--num_test", "4", "--max_new_tokens",
               "16", "--bertscore_model", "bundled", "--max_model_len", "1024", "--slurm_job_id", "cli-v"],
              timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    log = out.stdout + out.stderr
    assert log.count("Initializing a V1 LLM engine") == 1
    assert [line for line in log.splitlines() if " ERROR " in line] == []
    with open(root / "eval_logs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["test_task"] for r in rows] == ["cola", "wic", "copa"]
    assert {(r["backend"], r["dtype"], r["max_model_len"], r["gpu_memory_utilization"]) for r in rows} == \
        {("vllm", "float32", "1024", "0.15")}
