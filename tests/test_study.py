"""Stages 3-5 end to end on CPU: the tiny model, the bundled data, the bundled MiniLM.

One session builds the datasets, trains a Regular and a SampleGen adapter, and evaluates
all five conditions on a classification task (cola), a generation task (aeslc) and a
BigBench task (logical_deduction).
"""
import csv
import json

import pytest

from inherent_limits.core import csv_logs
from inherent_limits.core.conditions import CONDITIONS
from inherent_limits.core.errors import UserError
from inherent_limits.data.registry import mixture_tasks
from inherent_limits.evaluation.response_files import Progress, read_responses
from inherent_limits.evaluation.runner import EvalRequest, rescore, run_evaluation
from inherent_limits.prompts.builder import PromptBuilder
from inherent_limits.prompts.mixtures import make_mixture
from inherent_limits.prompts.task_datasets import BuildRequest, build_task
from inherent_limits.training.lora import TrainRequest, train

pytestmark = pytest.mark.slow
TASKS = ("cola", "aeslc", "logical_deduction")
NUM_DATA = 8
JOB = "4242"
ORDER = ("base_zero_shot", "gold_pipeline", "flan_direct", "samplegen_direct", "samplegen_pipeline")


TINY = []


@pytest.fixture(scope="session")
def tiny(tiny_model):
    TINY[:] = ["tiny"]
    return str(tiny_model)


@pytest.fixture(scope="session")
def study(tmp_path_factory, tiny):
    import datasets
    datasets.disable_progress_bars()
    root = tmp_path_factory.mktemp("study")
    builder = PromptBuilder.from_files()
    common = dict(num_data=NUM_DATA, data_dir="bundled", manual_dir="bundled")
    train_tasks = set(mixture_tasks("default")) | {"cola", "aeslc"}
    for custom in (False, True):
        for task in sorted(train_tasks):
            build_task(task, root, BuildRequest(custom=custom, dataset_type="train+val", **common), builder)
    for custom, gold in ((False, False), (True, False), (True, True)):
        for task in ("cola", "aeslc"):
            build_task(task, root, BuildRequest(custom=custom, dataset_type="test", gold_pipeline=gold, **common),
                       builder)
    for fmt in ("flan_prompts", "mix_prompts"):
        make_mixture(root, fmt, num_datapoints=NUM_DATA, seed=42)
    runs = {}
    for name, dataset in (("regular", "flan_prompts_mixture"), ("samplegen", "mix_prompts_mixture")):
        train(TrainRequest(root=root, dataset=dataset, model="tiny", job=JOB, run_name=name, num_train=32,
                           batch_size=4, num_epochs=2, learning_rate=3e-3, max_length=768,
                           gradient_checkpointing=False))
        runs[name] = root / "saved_models" / name
    return root, runs


def _request(root, task, condition, **kw):
    """Base conditions name the tiny model; tuned ones find it in their run's info."""
    run = {"flan_direct": "regular", "samplegen_direct": "samplegen"}.get(condition, "base")
    fmt = "mix_prompts" if condition == "samplegen_direct" else "flan_prompts"
    pipeline = condition in ("gold_pipeline", "samplegen_pipeline")
    base = dict(root=root, task=task, condition=condition, job=JOB, run_name=run, test_prompt_format=fmt,
                num_test=4, batch_size=4, max_new_tokens=24, data_dir="bundled", manual_dir="bundled",
                samplegen_model="samplegen" if pipeline else None, bertscore_model="bundled",
                model=TINY[0] if run == "base" else None)
    base.update(kw)
    return EvalRequest(**base)


@pytest.fixture(scope="session")
def evaluated(study):
    root, _ = study
    rows = {}
    for task in TASKS:
        for condition in ORDER:   # samplegen_direct runs before samplegen_pipeline reads it
            rows[task, condition] = run_evaluation(_request(root, task, condition))
    return root, rows


def test_training_saves_adapter_and_logs(study, tiny):
    root, runs = study
    for run in runs.values():
        assert (run / "adapter_config.json").is_file() and (run / "adapter_model.safetensors").is_file()
        info = json.loads((run / "run_info.json").read_text())
        assert info["base_model"] == "tiny" and info["train_loss"] > 0
    log = csv_logs.read_log(root / "train_logs.csv")
    assert list(log.columns[:len(csv_logs.TRAIN_COLUMNS)]) == list(csv_logs.TRAIN_COLUMNS)
    assert sorted(log["run_name"]) == ["regular", "samplegen"] and set(log["job_id"]) == {f"job-{JOB}"}
    assert set(log["device"]) == {"cpu"} and (log["num_train"] == 32).all()


def test_a_model_built_on_first_use_does_not_change_the_run(study, monkeypatch, tmp_path):
    """Resolving the model may build or convert it first (drawing random numbers): the adapter
    trained right after must equal one trained with the model already there."""
    import torch

    from inherent_limits.models import loading
    root, runs = study
    resolve = loading.resolve_model_name

    def resolve_after_building(name):
        torch.rand(1000)   # what building the tiny model or converting a GGUF does to the global RNG
        return resolve(name)

    monkeypatch.setattr(loading, "resolve_model_name", resolve_after_building)
    train(TrainRequest(root=tmp_path, dataset=str(root / "data" / "flan_prompts_mixture"), model="tiny", job=JOB,
                       run_name="regular", num_train=32, batch_size=4, num_epochs=2, learning_rate=3e-3,
                       max_length=768, gradient_checkpointing=False))
    again = tmp_path / "saved_models" / "regular" / "adapter_model.safetensors"
    assert again.read_bytes() == (runs["regular"] / "adapter_model.safetensors").read_bytes()


def test_every_condition_logs_a_row_and_a_response_file(evaluated):
    root, rows = evaluated
    log = csv_logs.read_log(root / "eval_logs.csv")
    assert len(log) == len(TASKS) * len(CONDITIONS)
    assert list(log.columns[:len(csv_logs.EVAL_COLUMNS)]) == list(csv_logs.EVAL_COLUMNS)
    primary = {"cola": "matthews_corrcoef", "aeslc": "rouge1", "logical_deduction": "accuracy"}
    for (task, condition), row in rows.items():
        logged = log[log["eval_name"] == row["eval_name"]].iloc[0]
        assert logged["condition"] == condition and logged["test_task"] == task
        assert logged["num_test"] == 4 and 0 <= logged["unparsable_rate"] <= 100
        assert logged[primary[task]] == pytest.approx(row[primary[task]], nan_ok=True)
        responses = read_responses(root / row["response_file"])
        assert len(responses) == 4 and all(r["target"] for r in responses)
        if condition == "samplegen_pipeline":
            assert row["samplegen_file_name"] and row["samplegen_sample_source"] == "model"
    assert set(log["eval_mode"]) == {"direct_eval", "samplegen_pipeline"}


def test_metrics_in_logs_follow_the_response_files(evaluated):
    root, rows = evaluated
    for task in ("logical_deduction",):
        for condition in CONDITIONS:
            row = rows[task, condition]
            responses = read_responses(root / row["response_file"])
            correct = sum(r["parsed"] and r["answer"] == r["target"] for r in responses)
            assert row["accuracy"] == pytest.approx(100 * correct / 4)
            assert row["unparsable_rate"] == pytest.approx(100 * sum(not r["parsed"] for r in responses) / 4)


def test_bertscore_rows_for_option_tasks_only(evaluated):
    root, rows = evaluated
    log = csv_logs.read_log(root / "bertscore_evals.csv")
    assert set(log["test_task"]) == {"cola", "logical_deduction"}      # aeslc has no options
    assert len(log) == 2 * len(CONDITIONS)
    assert list(log.columns[:len(csv_logs.BERTSCORE_COLUMNS)]) == list(csv_logs.BERTSCORE_COLUMNS)
    assert log["bertscore_accuracy"].between(0, 100).all()
    names = {rows[k]["eval_name"] for k in rows if k[0] != "aeslc"}
    assert set(log["input_file"]) == names


def test_gold_pipeline_prompts_carry_gold_examples(evaluated):
    root, rows = evaluated
    for task in ("cola", "logical_deduction"):
        responses = read_responses(root / rows[task, "gold_pipeline"]["response_file"])
        for r in responses:
            assert r["text"].startswith("Example 1:") and r["text"].rstrip().endswith("Answer Solution:")
            assert "[INST]" not in r["text"]
    zero = read_responses(root / rows["cola", "base_zero_shot"]["response_file"])
    assert all("<<SYS>>" not in r["text"] for r in zero)


def test_adapter_changes_greedy_output(study, tiny):
    from inherent_limits.evaluation.generation import make_backend
    root, runs = study
    prompts = [r["text"] for r in read_responses_of_test_set(root)]
    base = make_backend("hf", tiny, batch_size=4, max_new_tokens=16).generate(prompts, progress=False)
    tuned = make_backend("hf", tiny, adapter=runs["samplegen"], batch_size=4,
                         max_new_tokens=16).generate(prompts, progress=False)
    assert sum(b != t for b, t in zip(base, tuned)) >= len(prompts) // 2


def read_responses_of_test_set(root):
    import datasets
    data = datasets.load_from_disk(str(root / "data" / "mix_prompts_test" / "cola" / "test_data"))
    return [{"text": t} for t in data["text"][:6]]


def test_interrupted_evaluation_resumes(study):
    root, _ = study
    req = _request(root, "cola", "base_zero_shot", seed=7, bertscore=False)
    from inherent_limits.evaluation.runner import base_model_of, progress_key, response_folder
    progress = Progress(response_folder(req) / f".partial-{progress_key(req, base_model_of(req))}.jsonl")
    progress.add([(0, "RESUMED-0", False), (2, "RESUMED-2", True)])
    row = run_evaluation(req)
    responses = read_responses(root / row["response_file"])
    assert [r["response"] for r in responses][0] == "RESUMED-0" and responses[2]["response"] == "RESUMED-2"
    # whether each response ended on EOS survives the resume; the new ones record it too
    assert [r["stopped"] for r in responses[:3]][::2] == [False, True]
    assert all(isinstance(r["stopped"], bool) for r in responses)
    assert not progress.path.exists()


def test_rescore_recomputes_from_the_file(evaluated):
    root, rows = evaluated
    row = rows["logical_deduction", "base_zero_shot"]
    again = rescore(root, root / row["response_file"], "rescore-1")
    assert again["accuracy"] == pytest.approx(row["accuracy"]) and again["rescored_from"] == f"job-{JOB}"
    assert again["eval_name"] == row["eval_name"]
    kept = ("dtype", "max_new_tokens", "data_source", "torch_version", "transformers_version")
    assert {k: again[k] for k in kept} == {k: row[k] for k in kept} and again["data_source"] == "bundled"


def test_every_eval_row_records_its_data_source(evaluated, study):
    root, rows = evaluated
    assert {row["data_source"] for row in rows.values()} == {"bundled"} and len(rows) == len(TASKS) * 5
    info = json.loads((root / "data" / "gold_pipeline_test" / "cola" / "test_data" / "build_info.json").read_text())
    assert info["data_source"] == "bundled" and info["rows_built"] > 0
    scored = csv_logs.read_log(root / "bertscore_evals.csv")
    assert len(scored) and set(scored["data_source"]) == {"bundled"}
    trained = csv_logs.read_log(root / "train_logs.csv")
    assert set(trained["data_source"]) == {f"bundled ({len(mixture_tasks('default'))} tasks)"}


def test_bad_input(study):
    root, _ = study
    with pytest.raises(UserError, match="Saved runs: regular, samplegen"):
        run_evaluation(_request(root, "cola", "flan_direct", run_name="nope"))
    with pytest.raises(UserError, match="job ids with some"):
        run_evaluation(_request(root, "aeslc", "samplegen_pipeline", job="999"))
    with pytest.raises(UserError, match="--bertscore_model bundled"):
        run_evaluation(_request(root, "cola", "base_zero_shot", bertscore_model="roberta-large"))


def test_cli_gold_pipeline_and_errors(study, cli, tiny):
    root, _ = study
    out = cli(["test.py", "--root", str(root), "--test_task", "cola", "--run_name", "base",
               "--use_exemplar_gen", "True", "--sample_source", "train_data", "--model", tiny, "--num_test", "3",
               "--max_new_tokens", "8", "--bertscore_model", "bundled", "--slurm_job_id", "cli-1"])
    assert out.returncode == 0, out.stderr
    with open(root / "eval_logs.csv", newline="") as f:
        last = list(csv.DictReader(f))[-1]
    assert last["job_id"] == "job-cli-1" and last["condition"] == "gold_pipeline" and last["num_test"] == "3"
    bad = cli(["test.py", "--root", str(root), "--test_task", "cola", "--run_name", "missing_run",
               "--test_prompt_format", "flan_prompts"])
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [bad.stderr.strip()]
    assert "unknown run 'missing_run'" in bad.stderr and "regular, samplegen" in bad.stderr
