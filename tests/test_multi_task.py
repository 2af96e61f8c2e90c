"""test.py over several tasks and conditions in one call: one model load, the rows and response
files of one-task calls, resumable task by task, unknown names refused before anything runs."""
import shutil

import pytest

from inherent_limits.core import csv_logs
from inherent_limits.evaluation.response_files import read_responses
from inherent_limits.evaluation.runner import CallProgress, EvalRequest, run_evaluation, run_many
from inherent_limits.prompts.task_datasets import build_sets

pytestmark = pytest.mark.slow
TASKS = ("cola", "wic")
CONDITIONS = ("base_zero_shot", "gold_pipeline")
# columns that differ between any two runs (names, times, paths), not between results
PER_RUN = {"eval_name", "response_file", "job_id"}


@pytest.fixture(scope="module")
def root(tmp_path_factory, tiny_model):
    import datasets
    datasets.disable_progress_bars()
    root = tmp_path_factory.mktemp("multi")
    build_sets(root, TASKS, num_data=8, train_custom=(True,), test_sets=((False, False), (True, True)))
    return root


def _copy(root, target):
    shutil.copytree(root / "data", target / "data")
    return target


def _requests(root, job):
    return [EvalRequest(root=root, task=task, condition=condition, job=job, model="tiny", num_test=3, batch_size=4,
                        test_prompt_format="flan_prompts",
                        max_new_tokens=8, bertscore_model="bundled")
            for task in TASKS for condition in CONDITIONS]


def _rows(root):
    log = csv_logs.read_log(root / csv_logs.EVAL_LOG)
    log = log.astype(object).where(log.notna(), "")
    return [{k: v for k, v in row.items() if k not in PER_RUN} for row in log.to_dict("records")]


def _responses(root):
    log = csv_logs.read_log(root / csv_logs.EVAL_LOG)
    return [read_responses(root / path) for path in log["response_file"]]


def test_one_call_writes_what_one_task_calls_write(root, tmp_path, cli):
    alone = _copy(root, tmp_path / "alone")
    for req in _requests(alone, "j1"):
        run_evaluation(req)
    many = _copy(root, tmp_path / "many")
    out = cli(["test.py", "--root", str(many), "--test_task", "cola,wic", "--condition", *CONDITIONS,
               "--model", "tiny", "--num_test", "3", "--batch_size", "4", "--max_new_tokens", "8",
               "--bertscore_model", "bundled", "--slurm_job_id", "j1"])
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("responses: ") == 4
    assert out.stdout.count("cola / gold_pipeline (") == 1 and "\n4 evaluation(s) in this call:\n" in out.stdout
    assert [line.split()[:2] for line in out.stdout.splitlines()[-4:]] == [[t, c] for t in TASKS for c in CONDITIONS]
    assert _rows(many) == _rows(alone)
    assert _responses(many) == _responses(alone)
    assert [r["dtype"] for r in _rows(many)] == ["float32"] * 4
    assert not list(many.glob(".partial-call-*"))


def test_interrupted_call_resumes_task_by_task(root, tmp_path):
    target = _copy(root, tmp_path / "resume")
    reqs = _requests(target, "j2")
    started = []

    def interrupt_third(line):
        started.append(line)
        if len(started) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_many(reqs, report=interrupt_third)
    progress = CallProgress(target, reqs)
    assert len(progress.done) == 2 and progress.path.is_file()
    lines = []
    rows = run_many(reqs, report=lines.append)
    assert rows[:2] == [None, None] and all(rows[2:])
    assert lines[0].startswith("base_zero_shot on cola: done by the interrupted call")
    log = csv_logs.read_log(target / csv_logs.EVAL_LOG)
    assert list(zip(log["test_task"], log["condition"])) == [(t, c) for t in TASKS for c in CONDITIONS]
    assert not progress.path.exists()


def test_unknown_tasks_stop_the_call_before_anything_runs(root, tmp_path, cli):
    target = _copy(root, tmp_path / "unknown")
    out = cli(["test.py", "--root", str(target), "--test_task", "cola", "wicc,copaa", "--model", "tiny"])
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "unknown tasks in --test_task: 'wicc' (did you mean wic" in out.stderr
    assert "'copaa' (did you mean copa" in out.stderr and "Nothing was run" in out.stderr
    assert not (target / csv_logs.EVAL_LOG).exists()
    bad = cli(["test.py", "--root", str(target), "--test_task", "cola", "--condition", "flan_direct",
               "--model", "tiny"])
    assert bad.returncode == 2 and "condition flan_direct needs --run_name <the tuned run>" in bad.stderr


def test_a_task_without_a_test_set_stops_the_call_before_anything_runs(root, tmp_path, cli):
    target = _copy(root, tmp_path / "missing")
    out = cli(["test.py", "--root", str(target), "--test_task", "cola", "rte", "--model", "tiny",
               "--bertscore_model", "bundled"])
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith("error: rte: no test set for base_zero_shot at ")
    assert "create_prompts.py --tasks rte --create_custom_prompts False --dataset_type test" in out.stderr
    assert not (target / csv_logs.EVAL_LOG).exists()
