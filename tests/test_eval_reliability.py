"""test.py, create_prompts.py and make_mixtures.py under kills and bad input: a multi-task call checks
every request's inputs first and never evaluates a finished evaluation twice; readers complete an
--overwrite a kill interrupted; bad flags, data and templates are one `error:` line, nothing written."""
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli
from test_bad_inputs import refused

from inherent_limits.core import csv_logs
from inherent_limits.core.atomic_files import pid_alive
from inherent_limits.core.crash_points import CRASH_ENV
from inherent_limits.prompts.builder import PromptBuilder
from inherent_limits.prompts.task_datasets import BuildRequest, build_task

TEST = ["--model", "tiny", "--num_test", "2", "--batch_size", "2", "--max_new_tokens", "4", "--bertscore", "False",
        "--slurm_job_id", "9"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Regular test sets of cola and rte; mnli's Regular train+val set (8 rows)."""
    import datasets
    datasets.disable_progress_bars()
    root = tmp_path_factory.mktemp("eval_rel")
    builder, common = PromptBuilder.from_files(), dict(data_dir="bundled", manual_dir="bundled")
    for task in ("cola", "rte"):
        build_task(task, root, BuildRequest(custom=False, dataset_type="test", **common), builder)
    build_task("mnli", root, BuildRequest(custom=False, dataset_type="train+val", num_data=8, **common), builder)
    return root


@pytest.fixture
def root(built, tmp_path):
    target = tmp_path / "root"
    shutil.copytree(built / "data", target / "data")
    return target


def _eval_rows(root: Path) -> list[dict]:
    return csv_logs.find_rows(root / csv_logs.EVAL_LOG, {})


def _response_files(root: Path) -> list[Path]:
    return sorted((root / "saved_models").rglob("*.csv"))


# --- multi-task calls -----------------------------------------------------------------------------------

def test_a_kill_after_an_evaluation_finished_does_not_evaluate_it_again(root, tiny_model):
    argv = ["test.py", "--root", str(root), "--test_task", "cola", "rte", *TEST]
    killed = run_cli(argv, env_extra={CRASH_ENV: "eval_done"})
    assert killed.returncode == -9, killed.stderr
    assert [r["test_task"] for r in _eval_rows(root)] == ["cola"]
    rerun = run_cli(argv, env_extra={CRASH_ENV: ""})
    assert rerun.returncode == 0, rerun.stderr
    assert "done by the interrupted call" in rerun.stdout
    assert sorted(r["test_task"] for r in _eval_rows(root)) == ["cola", "rte"]
    assert len(_response_files(root)) == 2
    assert not list(root.glob(".partial-call-*")) and not list((root / "saved_models").rglob(".partial-*"))


@pytest.mark.parametrize("argv, expect", [
    (["--test_task", "cola", "wic"], r"no test set for base_zero_shot at .*data/flan_prompts_test/wic/test_data"),
    (["--test_task", "cola", "--run_name", "base", "--condition", "base_zero_shot", "samplegen_pipeline"],
     r"needs --samplegen_model"),
    (["--test_task", "cola", "--condition", "base_zero_shot", "gold_pipeline"],
     r"no test set for gold_pipeline at .*gold_pipeline_test/cola/test_data"),
])
def test_a_multi_task_call_checks_every_input_before_the_first_evaluation(root, tiny_model, capsys, argv, expect):
    refused(capsys, "test", ["--root", root, *argv, *TEST], root, expect)
    assert not list(root.glob(".partial-call-*"))


# --- test.py flags and test sets ------------------------------------------------------------------------

@pytest.mark.parametrize("argv, expect", [
    (["--test_task", "cola", "--max_new_tokens", "0"], "--max_new_tokens must be at least 1, got 0"),
    (["--test_task", ","], "--test_task names no task"),
    (["--test_task", "cola", "--condition", ""], "--condition names no condition"),
    (["--test_task", "cola", "--bigbench_test_task", "1"], "--bigbench_test_task and --test_task both name tasks"),
    (["--test_task", "cola", "--num_inner", "0"], "--num_inner must be at least 1, got 0"),
])
def test_test_refuses_flags_that_would_evaluate_nothing_or_something_else(root, capsys, argv, expect):
    refused(capsys, "test", ["--root", root, "--model", "tiny", *argv], root, expect)


def test_test_names_a_truncated_test_set(root, capsys):
    arrow = next((root / "data" / "flan_prompts_test" / "cola" / "test_data").glob("*.arrow"))
    arrow.write_bytes(arrow.read_bytes()[:300])
    refused(capsys, "test", ["--root", root, "--test_task", "cola", *TEST], root,
            r"cola/test_data is corrupt \(ArrowInvalid.*--overwrite")


def test_test_names_a_test_set_without_its_state_file(root, capsys):
    (root / "data" / "flan_prompts_test" / "rte" / "test_data" / "state.json").unlink()
    refused(capsys, "test", ["--root", root, "--test_task", "cola", "rte", *TEST], root, r"rte/test_data not found")
    assert not (root / csv_logs.EVAL_LOG).exists()


# --- an --overwrite killed between its renames: readers complete it ------------------------------------

def _killed_overwrite(root: Path, *args) -> None:
    killed = run_cli(["create_prompts.py", "--root", str(root), *args, "--data_dir", "bundled", "--manual_dir",
                      "bundled", "--overwrite", "True"], env_extra={CRASH_ENV: "overwrite_between_renames"})
    assert killed.returncode == -9, killed.stderr


def test_test_completes_a_test_set_overwrite_a_kill_interrupted(root, tiny_model):
    target = root / "data" / "flan_prompts_test" / "cola" / "test_data"
    _killed_overwrite(root, "--tasks", "cola", "--dataset_type", "test")
    assert not target.exists()
    done = run_cli(["test.py", "--root", str(root), "--test_task", "cola", *TEST], env_extra={CRASH_ENV: ""})
    assert done.returncode == 0, done.stderr
    assert f"completed the replacement of {target}" in done.stdout
    assert target.is_dir() and not [p for p in target.parent.iterdir() if p.name.startswith(".")]


def test_mixing_completes_a_task_set_overwrite_a_kill_interrupted(root):
    target = root / "data" / "flan_prompts" / "mnli" / "8"
    _killed_overwrite(root, "--tasks", "mnli", "--num_datapoints", "8")
    assert not target.exists()
    done = run_cli(["make_mixtures.py", "--root", str(root), "--prompt_format", "flan_prompts", "--setup", "setup4",
                    "--num_datapoints", "8"], env_extra={CRASH_ENV: ""})
    assert done.returncode == 0, done.stderr
    assert f"completed the replacement of {target}" in done.stdout
    assert (root / "data" / "flan_prompts_mixture_setup4" / "dataset_dict.json").is_file()


# --- create_prompts.py: data and templates ------------------------------------------------------------

def _raw(tmp_path: Path, task: str, split: str, rows: list) -> Path:
    folder = tmp_path / "raw" / task
    folder.mkdir(parents=True)
    (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return tmp_path / "raw"


def test_prompts_refuse_a_null_field_instead_of_writing_none(tmp_path, capsys):
    raw = _raw(tmp_path, "cola", "train", [{"sentence": "A fine sentence.", "label": 1},
                                           {"sentence": None, "label": 0}])
    out = tmp_path / "out"
    refused(capsys, "create_prompts", ["--root", out, "--tasks", "cola", "--num_datapoints", "4", "--data_dir", raw],
            out, r"row 2 of .*train\.jsonl has an empty required field 'sentence'")


@pytest.mark.parametrize("placeholder", ["{sentence.__init__.__globals__}", "{sentence.__class__.__mro__}",
                                         "{sentence[0]}", "{sentence!r}"])
def test_prompts_refuse_a_template_that_does_more_than_name_a_field(tmp_path, capsys, placeholder):
    from inherent_limits.prompts.templates import read_patterns
    patterns = read_patterns()
    patterns["cola"] = [(f"{placeholder} Is this grammatical?", "{answer}")] * 5
    templates = tmp_path / "templates.py"
    templates.write_text(f"PATTERNS = {patterns!r}\n", encoding="utf-8")
    out = tmp_path / "out"
    refused(capsys, "create_prompts", ["--root", out, "--tasks", "cola", "--num_datapoints", "4", "--data_dir",
                                       "bundled", "--flan_templates", templates], out,
            f"placeholder {re.escape(placeholder)} may only name a field")


def test_prompts_name_the_byte_offset_of_a_non_utf8_template_file(tmp_path, capsys):
    templates = tmp_path / "templates.py"
    templates.write_bytes(b"PATTERNS = {'cola': [('Caf\xe9 {sentence}', '{answer}')]}\n")
    out = tmp_path / "out"
    refused(capsys, "create_prompts", ["--root", out, "--tasks", "cola", "--data_dir", "bundled", "--flan_templates",
                                       templates], out, rf"{templates} is not UTF-8 text: byte 0xe9 at offset 26")


def test_prompts_name_the_byte_offset_of_a_non_utf8_manual_download(tmp_path, capsys):
    from inherent_limits.data.loading import BUNDLED_MANUAL
    manual = tmp_path / "manual"
    shutil.copytree(BUNDLED_MANUAL, manual)
    tsv = manual / "story_cloze" / "cloze_test_spring2016.tsv"
    data = tsv.read_bytes()
    offset = data.index(b"\n") + 5
    tsv.write_bytes(data[:offset] + b"\xff" + data[offset:])
    out = tmp_path / "out"
    refused(capsys, "create_prompts", ["--root", out, "--tasks", "story_cloze", "--dataset_type", "test",
                                       "--manual_dir", manual], out,
            rf"{tsv} is not UTF-8 text: byte 0xff at offset {offset}")


def test_prompts_refuse_samplegen_prompts_without_examples(tmp_path, capsys):
    out = tmp_path / "out"
    refused(capsys, "create_prompts", ["--root", out, "--tasks", "cola", "--create_custom_prompts", "True",
                                       "--num_inner", "0", "--data_dir", "bundled"], out,
            "--num_inner must be at least 1, got 0")


# --- temporaries of dead writers ----------------------------------------------------------------------

def test_a_zombie_writer_counts_as_dead():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(100):  # exited but not reaped: a zombie
            if Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
            time.sleep(0.05)
        else:
            pytest.fail("the child did not become a zombie")
        assert not pid_alive(child.pid)
    finally:
        child.wait()
    assert pid_alive(os.getpid())
