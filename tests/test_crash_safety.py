"""Crash safety: a kill at named points of train.py, test.py and --overwrite, then a rerun.

Killed runs are the real CLIs in subprocesses, stopped by SIGKILL at a crash point
($INHERENT_LIMITS_CRASH_AT, no cleanup runs); the rerun's artifacts and log rows are compared
with an uninterrupted run's. Tiny model, one small cola dataset, 8 training steps, 4 test items.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, run_cli

from inherent_limits.analysis import correlation as corr
from inherent_limits.core import csv_logs
from inherent_limits.core.atomic_files import atomic_dir, leftovers
from inherent_limits.core.crash_points import CRASH_ENV
from inherent_limits.core.errors import UserError
from inherent_limits.evaluation.response_files import read_responses

DATASET = Path("data", "flan_prompts", "cola", "16")  # a train+val DatasetDict: train.py reads it as a mixture
TRAIN = ["--model", "tiny", "--batch_size", "2", "--max_length", "256", "--gradient_checkpointing", "False",
         "--learning_rate", "3e-3"]  # 14 rows, batch 2: 8 steps, checkpoints at 2, 4, 6, 8
TEST = ["--test_task", "cola", "--run_name", "base", "--model", "tiny", "--num_test", "4", "--batch_size", "4",
        "--max_new_tokens", "8", "--bertscore_model", "bundled"]
KILLED = -signal.SIGKILL


@pytest.fixture(scope="module")
def data_root(tiny_model, tmp_path_factory):
    """cola built for training (16 rows) and testing."""
    import datasets

    from inherent_limits.prompts.builder import PromptBuilder
    from inherent_limits.prompts.task_datasets import BuildRequest, build_task
    datasets.disable_progress_bars()
    root = tmp_path_factory.mktemp("crash_data")
    builder = PromptBuilder.from_files()
    for kind in ("train+val", "test"):
        build_task("cola", root, BuildRequest(custom=False, dataset_type=kind, num_data=16, data_dir="bundled",
                                              manual_dir="bundled"), builder)
    return root


def _root(data_root, tmp_path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(data_root / "data", root / "data")
    return root


def _cli(args, crash=None):
    return run_cli(args, env_extra={CRASH_ENV: crash} if crash else {CRASH_ENV: ""})


def _train(root, run, *extra, crash=None):
    return _cli(["train.py", "--root", str(root), "--dataset", str(root / DATASET), "--run_name", run, *TRAIN,
                 "--slurm_job_id", "7", *extra], crash)


def _test(root, crash=None):
    return _cli(["test.py", "--root", str(root), *TEST, "--slurm_job_id", "8"], crash)


def _rows(root, log, **cells):
    return csv_logs.find_rows(root / log, cells)


def _weights(run_dir):
    from safetensors.torch import load_file
    return load_file(str(run_dir / "adapter_model.safetensors"))


def _same_weights(a, b):
    import torch
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def _cut(path):
    """What a kill while writing `path` leaves: its first half."""
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])


def _hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.is_dir() else []


# --- training -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(data_root, tmp_path_factory):
    """An uninterrupted run 'ref' through the CLI: (root, its train_logs.csv row)."""
    root = _root(data_root, tmp_path_factory.mktemp("train_ref"))
    done = _train(root, "ref")
    assert done.returncode == 0, done.stderr
    [row] = _rows(root, csv_logs.TRAIN_LOG, run_name="ref")
    return root, row


@pytest.mark.slow
def test_resume_of_a_finished_run_says_so_and_changes_nothing(trained):
    root, _ = trained
    run = root / "saved_models" / "ref"
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir() if p.is_file()}
    log = (root / csv_logs.TRAIN_LOG).read_bytes()
    again = _train(root, "ref", "--resume", "True", crash="train_checkpoint-8")  # no training may happen
    assert again.returncode == 0, again.stderr
    assert "finished run: nothing to resume, nothing changed" in again.stdout
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir() if p.is_file()} == before
    assert (root / csv_logs.TRAIN_LOG).read_bytes() == log


@pytest.fixture(scope="module")
def torn(data_root, trained, tmp_path_factory):
    """A run killed after its step-6 checkpoint, that checkpoint then torn, then resumed."""
    root = _root(data_root, tmp_path_factory.mktemp("train_torn"))
    killed = _train(root, "torn", crash="train_checkpoint-6")
    assert killed.returncode == KILLED, killed.stderr
    checkpoint = root / "saved_models" / "torn" / "checkpoint-6"
    (checkpoint / "trainer_state.json").unlink()  # what a kill while saving optimizer.pt leaves
    _cut(checkpoint / "optimizer.pt")
    resumed = _train(root, "torn", "--resume", "True")
    return root, resumed


@pytest.mark.slow
def test_torn_checkpoint_falls_back_to_the_previous_complete_one(torn, trained):
    root, resumed = torn
    assert resumed.returncode == 0, resumed.stderr
    assert "checkpoint-6 is incomplete (trainer_state.json missing" in resumed.stdout
    assert "resuming from " + str(root / "saved_models" / "torn" / "checkpoint-4") in resumed.stdout
    assert _same_weights(root / "saved_models" / "torn", trained[0] / "saved_models" / "ref")


@pytest.mark.slow
def test_resumed_run_logs_the_whole_runs_loss_and_runtime(torn, trained):
    root, resumed = torn
    assert resumed.returncode == 0, resumed.stderr
    [row] = _rows(root, csv_logs.TRAIN_LOG, run_name="torn")
    assert float(row["train_loss"]) == float(trained[1]["train_loss"])
    totals = json.loads((root / "saved_models" / "torn" / "checkpoint-8" / "run_totals.json").read_text())
    assert float(row["train_runtime_s"]) >= round(totals["train_seconds"], 2) > 0
    assert totals["global_step"] == 8


@pytest.mark.slow
@pytest.mark.parametrize("tear, problem", [
    (lambda c: _cut(c / "trainer_state.json"), "trainer_state.json truncated"),
    (lambda c: (c / "scheduler.pt").unlink(), "scheduler.pt missing"),
    (lambda c: _cut(c / "optimizer.pt"), "optimizer.pt truncated"),
    (lambda c: _cut(c / "adapter_model.safetensors"), "adapter_model.safetensors truncated"),
])
def test_checkpoint_problems_are_named(tear, problem, trained, tmp_path):
    from inherent_limits.training.lora import checkpoint_problem, last_checkpoint
    run = tmp_path / "run"
    for step in (2, 4):
        shutil.copytree(trained[0] / "saved_models" / "ref" / f"checkpoint-{step}", run / f"checkpoint-{step}")
    assert checkpoint_problem(run / "checkpoint-4") is None
    tear(run / "checkpoint-4")
    assert checkpoint_problem(run / "checkpoint-4") == problem
    assert last_checkpoint(run) == run / "checkpoint-2" and not (run / "checkpoint-4").exists()


@pytest.mark.slow
@pytest.mark.parametrize("point", ["train_publish_staged", "train_published"])
def test_kill_while_publishing_is_completed_by_the_rerun(point, data_root, trained, tmp_path):
    root = _root(data_root, tmp_path)
    killed = _train(root, "pub", crash=point)
    assert killed.returncode == KILLED, killed.stderr
    assert _rows(root, csv_logs.TRAIN_LOG, run_name="pub") == []
    rerun = _train(root, "pub", crash="train_checkpoint-2")  # a plain rerun, which must not train
    assert rerun.returncode == 0, rerun.stderr
    assert "its train_logs.csv row is now appended" in rerun.stdout
    [row] = _rows(root, csv_logs.TRAIN_LOG, run_name="pub")
    assert row["train_loss"] == trained[1]["train_loss"] and row["job_id"] == "job-7"
    run = root / "saved_models" / "pub"
    assert _same_weights(run, trained[0] / "saved_models" / "ref") and _hidden(run) == []
    assert not (run / "pending_log_row.json").exists()
    again = _train(root, "pub", "--resume", "True")
    assert again.returncode == 0 and "nothing changed" in again.stdout
    assert len(_rows(root, csv_logs.TRAIN_LOG, run_name="pub")) == 1


# --- evaluation -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def evaluated(data_root, tmp_path_factory):
    """An uninterrupted test.py run: (root, eval row, BERTScore row, responses)."""
    root = _root(data_root, tmp_path_factory.mktemp("eval_ref"))
    done = _test(root)
    assert done.returncode == 0, done.stderr
    [row] = csv_logs.find_rows(root / csv_logs.EVAL_LOG, {})
    [bertscore] = csv_logs.find_rows(root / csv_logs.BERTSCORE_LOG, {})
    return root, row, bertscore, read_responses(root / row["response_file"])


@pytest.mark.slow
@pytest.mark.parametrize("point", ["eval_before_log", "eval_bertscore"])
def test_killed_evaluation_is_finished_once_without_generating(point, data_root, evaluated, tmp_path):
    _, ref_row, ref_bertscore, ref_responses = evaluated
    root = _root(data_root, tmp_path)
    killed = _test(root, crash=point)
    assert killed.returncode == KILLED, killed.stderr
    rerun = _test(root, crash="eval_generate")  # generating anything again would kill it
    assert rerun.returncode == 0, rerun.stderr
    [row] = csv_logs.find_rows(root / csv_logs.EVAL_LOG, {})
    [bertscore] = csv_logs.find_rows(root / csv_logs.BERTSCORE_LOG, {})
    assert bertscore["input_file"] == row["eval_name"]
    assert bertscore["bertscore_accuracy"] == ref_bertscore["bertscore_accuracy"]
    assert row["matthews_corrcoef"] == ref_row["matthews_corrcoef"] and row["num_test"] == "4"
    folder = root / "saved_models" / "base_model_evals"
    assert [p.name for p in folder.iterdir()] == [row["eval_name"] + ".csv"]  # no progress file left
    assert read_responses(root / row["response_file"]) == ref_responses


@pytest.fixture
def logged_header(evaluated):
    """eval_logs.csv's header and first row as test.py wrote them (every column of its next row)."""
    root = evaluated[0]
    return (root / csv_logs.EVAL_LOG).read_text().splitlines(keepends=True)[:2]


@pytest.mark.slow
@pytest.mark.parametrize("damage, line", [("job-9,1,2" + ",x" * 60 + "\n", 3),  # longer than the header
                                          ('job-9,42,"a line cut by a crashed writer', 3)])
def test_damaged_eval_log_stops_test_py_before_generating(damage, line, logged_header, data_root, tmp_path):
    root = _root(data_root, tmp_path)
    log = root / csv_logs.EVAL_LOG
    log.write_text("".join(logged_header) + damage)
    before = log.read_bytes()
    out = _test(root, crash="eval_generate")
    assert out.returncode == 2, out.stderr
    assert f"line {line} of the log {log}" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert log.read_bytes() == before and not (root / "saved_models").exists()


def test_no_row_is_appended_after_an_open_quote(tmp_path):
    log = tmp_path / csv_logs.EVAL_LOG
    log.write_text('job_id,note\njob-1,ok\njob-2,"cut here\n')
    before = log.read_bytes()
    for action in (lambda: csv_logs.append_row(log, {"job_id": "job-3", "note": "x"}),
                   lambda: csv_logs.check_log(log)):
        with pytest.raises(UserError, match=r"line 3 of the log .* a quoted cell opened there is never closed"):
            action()
    assert log.read_bytes() == before


def test_append_row_once_appends_a_key_once(tmp_path):
    log = tmp_path / csv_logs.EVAL_LOG
    assert csv_logs.append_row_once(log, {"eval_name": "e1", "accuracy": 0.5}, key=("eval_name",))
    assert not csv_logs.append_row_once(log, {"eval_name": "e1", "accuracy": 0.7}, key=("eval_name",))
    assert csv_logs.append_row_once(log, {"eval_name": "e2", "accuracy": 0.7}, key=("eval_name",))
    assert [r["accuracy"] for r in csv_logs.find_rows(log, {})] == ["0.5", "0.7"]


# --- --overwrite and temporaries -------------------------------------------------------------

_SAVE = ("import sys, datasets\nfrom pathlib import Path\nfrom inherent_limits.core.atomic_files import save_dataset\n"
         "d = datasets.Dataset.from_dict({'text': [sys.argv[2]] * 4})\n"
         "save_dataset(datasets.DatasetDict(train=d, test=d), Path(sys.argv[1]))\n")


def _save_mixture(target, text, crash=None):
    env = dict(os.environ, **{CRASH_ENV: crash or ""})
    return subprocess.run([sys.executable, "-c", _SAVE, str(target), text], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_kill_between_the_overwrite_renames_is_recovered(tmp_path):
    from inherent_limits.training.lora import load_mixture
    target = tmp_path / "data" / "x_mixture"
    assert _save_mixture(target, "old").returncode == 0
    killed = _save_mixture(target, "new", crash="overwrite_between_renames")
    assert killed.returncode == KILLED, killed.stderr
    assert not target.exists() and len(leftovers(target)) == 2  # the complete old and new versions
    with pytest.raises(UserError, match=r"mixtures under \S+: none$"):  # hidden folders are no mixtures
        load_mixture(tmp_path, "y_mixture", None, 2, 42)
    train, _ = load_mixture(tmp_path, "x_mixture", None, 2, 42)  # the reader completes the overwrite
    assert set(train["text"]) == {"new"} and _hidden(target.parent) == []


def test_temporaries_of_killed_writers_are_removed_or_named(tmp_path, capsys):
    target = tmp_path / "out"
    script = ("import os, signal, sys\nfrom pathlib import Path\nfrom inherent_limits.core.atomic_files import atomic_dir\n"
              "with atomic_dir(Path(sys.argv[1])) as tmp:\n"
              "    (tmp / 'blob').write_bytes(bytes(2_000_000))\n"
              "    os.kill(os.getpid(), signal.SIGKILL)\n")
    killed = subprocess.run([sys.executable, "-c", script, str(target)], cwd=REPO, capture_output=True,
                            timeout=60)
    assert killed.returncode == KILLED
    [(orphan, kind, _, _)] = leftovers(target)
    assert kind == "tmp" and (orphan / "blob").is_file()
    foreign = tmp_path / ".out.tmp-otherhost-1-abcd"
    foreign.mkdir()
    with atomic_dir(target) as tmp:
        (tmp / "done").write_text("x")
    assert (target / "done").is_file() and not orphan.exists() and foreign.is_dir()
    printed = capsys.readouterr().out
    assert f"removed {orphan} (2.0 MB)" in printed and f"{foreign} was left by pid 1 on host otherhost" in printed


# --- correlate -------------------------------------------------------------------------------

def test_correlate_refuses_a_non_numeric_bertscore_cell(tmp_path):
    for name, value in (("e1", 55.0), ("e2", "n/a")):
        csv_logs.append_row(tmp_path / csv_logs.EVAL_LOG, {"job_id": "job-1", "seed": 42, "run_name": "m",
                                                            "test_task": "rte", "eval_name": name,
                                                            "accuracy": 50.0, "condition": "gold_pipeline",
                                                            "base_model": "m"}, leading=csv_logs.EVAL_COLUMNS)
        csv_logs.append_row(tmp_path / csv_logs.BERTSCORE_LOG, {"job_id": "job-1", "input_file": name,
                                                                "bertscore_accuracy": value},
                            leading=csv_logs.BERTSCORE_COLUMNS)
    with pytest.raises(UserError) as caught:
        corr.load_logs(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / csv_logs.BERTSCORE_LOG}, line 3, column bertscore_accuracy: "
                                        "'n/a' is not a number")
