"""The study call: one test.py process per base model evaluates all five conditions; on vLLM one
engine serves the base model and both adapters, with the outputs of the HF backend."""
import shutil
import time

import pytest

from inherent_limits.core import csv_logs
from inherent_limits.evaluation.generation import VLLMSettings
from inherent_limits.evaluation.response_files import read_responses
from inherent_limits.evaluation.runner import EvalRequest, run_many, run_order
from inherent_limits.prompts.task_datasets import build_sets
from inherent_limits.training.lora import TrainRequest, train

pytestmark = pytest.mark.slow
TASKS = ("cola", "wic")
RUNS = {"flan_direct": "regular", "samplegen_direct": "samplegen"}
# the SampleGen pipeline is listed before the SampleGen model's direct evaluation that it reads
LISTED = ("base_zero_shot", "samplegen_pipeline", "flan_direct", "gold_pipeline", "samplegen_direct")
PER_RUN = {"eval_name", "response_file", "job_id", "samplegen_file_name"}


@pytest.fixture(scope="module")
def study(tmp_path_factory, tiny_model):
    """Test sets of TASKS and a Regular and a SampleGen adapter trained on cola's train sets."""
    import datasets
    datasets.disable_progress_bars()
    root = tmp_path_factory.mktemp("study-engine")
    build_sets(root, TASKS, num_data=8)
    for run, fmt in (("regular", "flan_prompts"), ("samplegen", "mix_prompts")):
        train(TrainRequest(root=root, dataset=f"{fmt}/cola/8", model="tiny", job="t", run_name=run, batch_size=4,
                           num_epochs=1, learning_rate=3e-3, max_length=768, gradient_checkpointing=False))
    return root


def _copy(root, target):
    shutil.copytree(root, target)
    return target


def _requests(root, job, backend="hf"):
    out = []
    for task in TASKS:
        for condition in LISTED:
            run = RUNS.get(condition, "base")
            out.append(EvalRequest(
                root=root, task=task, condition=condition, job=job, run_name=run,
                model="tiny" if run == "base" else None, num_test=3, batch_size=4, max_new_tokens=24,
                test_prompt_format="mix_prompts" if condition == "samplegen_direct" else "flan_prompts",
                samplegen_model="samplegen" if run == "base" else None, bertscore_model="bundled",
                backend=backend, max_model_len=2048 if backend == "vllm" else None))
    return out


def _results(root):
    """{(task, condition): (log row without per-run columns, responses)}."""
    log = csv_logs.read_log(root / csv_logs.EVAL_LOG)
    log = log.astype(object).where(log.notna(), "")
    return {(r["test_task"], r["condition"]): ({k: v for k, v in r.items() if k not in PER_RUN},
                                               [x["response"] for x in read_responses(root / r["response_file"])])
            for r in log.to_dict("records")}


def test_run_order_runs_samplegen_direct_first_and_keeps_shared_loads_together(tmp_path):
    reqs = [EvalRequest(root=tmp_path, task=t, condition=c, job="j") for t in TASKS for c in LISTED]
    settings = VLLMSettings()

    def key(req, backend):
        adapter = RUNS.get(req.condition)
        return (backend, "tiny", str(adapter), 8, None, adapter is not None, settings)

    # SampleGen direct of every task first, then one model (or adapter) after the other, in the
    # order of their first request; each keeps the order of its requests
    expected = ([(t, "samplegen_direct") for t in TASKS]
                + [(t, c) for t in TASKS for c in ("base_zero_shot", "samplegen_pipeline", "gold_pipeline")]
                + [(t, "flan_direct") for t in TASKS])
    for backend in ("vllm", "hf"):
        order = run_order(reqs, [key(r, backend) for r in reqs])
        assert [(reqs[i].task, reqs[i].condition) for i in order] == expected, backend


def test_study_call_writes_what_one_call_per_model_writes(study, tmp_path, cli):
    per_model = _copy(study, tmp_path / "per_model")
    for conditions in (("samplegen_direct",), ("base_zero_shot", "gold_pipeline", "samplegen_pipeline"),
                       ("flan_direct",)):
        run_many([r for r in _requests(per_model, "j1") if r.condition in conditions])
    one = _copy(study, tmp_path / "one")
    out = cli(["test.py", "--root", str(one), "--test_task", *TASKS, "--run_name", "base", "--model", "tiny",
               "--condition", *LISTED, "--regular_model", "regular", "--samplegen_model", "samplegen",
               "--num_test", "3", "--batch_size", "4", "--max_new_tokens", "24", "--bertscore_model", "bundled",
               "--slurm_job_id", "j1"])
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("responses: ") == len(TASKS) * len(LISTED)
    got, expected = _results(one), _results(per_model)
    assert len(got) == len(TASKS) * len(LISTED) and got == expected
    bad = cli(["test.py", "--root", str(one), "--test_task", "cola", "--run_name", "regular",
               "--regular_model", "regular", "--condition", "flan_direct"])
    assert bad.returncode == 2 and bad.stderr.startswith("error: --regular_model goes with --run_name base")


@pytest.mark.vllm
def test_one_engine_serves_the_base_model_and_both_adapters_with_hf_outputs(study, tmp_path, monkeypatch):
    from inherent_limits.evaluation import generation
    built, closes = [], []
    init, close = generation.VLLMEngine.__init__, generation.VLLMEngine.close

    def counting_init(self, model, adapters=(), settings=None):
        built.append(sorted(str(a) for a in adapters))
        init(self, model, adapters, settings)

    def timed_close(self):
        start = time.perf_counter()
        close(self)
        closes.append(time.perf_counter() - start)

    monkeypatch.setattr(generation.VLLMEngine, "__init__", counting_init)
    monkeypatch.setattr(generation.VLLMEngine, "close", timed_close)
    hf = _copy(study, tmp_path / "hf")
    run_many(_requests(hf, "j2"))
    vllm = _copy(study, tmp_path / "vllm")
    rows = run_many(_requests(vllm, "j2", backend="vllm"))
    assert built == [sorted(str(vllm / "saved_models" / run) for run in ("regular", "samplegen"))]
    assert len(closes) == 1 and closes[0] < 1.0, closes  # no shutdown grace period
    assert all(row["backend"] == "vllm" for row in rows)
    got, expected = _results(vllm), _results(hf)
    assert got.keys() == expected.keys() and len(got) == len(TASKS) * len(LISTED)
    for key in expected:
        assert got[key][1] == expected[key][1], key
