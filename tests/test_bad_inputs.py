"""User mistakes, one test each: exit 2, one `error:` line on stderr, no traceback, nothing written.

The stage scripts run in-process (their main(argv) under run_cli); a read-only root is a real
read-only mount (a private bind mount under `unshare -m` when running as root) or chmod otherwise.
"""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from inherent_limits.core.errors import run_cli
from inherent_limits.prompts.builder import PromptBuilder
from inherent_limits.prompts.mixtures import make_mixture
from inherent_limits.prompts.task_datasets import BuildRequest, build_task

REPO = Path(__file__).resolve().parent.parent
BUNDLED = REPO / "inherent_limits" / "data" / "bundled" / "raw"
PROGRESS = re.compile(r"\d+%\|")  # a tqdm progress bar, not a message


def stage(name: str):
    """A stage script as a module (test.py by path: `test` is a standard-library package)."""
    spec = importlib.util.spec_from_file_location(f"stage_{name}", REPO / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tree(root: Path) -> dict:
    """Every path under root with its size and modification time (a log's empty .lock file aside)."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
            if not (p.name.endswith(".csv.lock") and p.stat().st_size == 0)}


def refused(capsys, name: str, argv: list, root: Path, expect: str) -> str:
    """Run a stage; assert exit 2, one error line matching `expect`, no traceback, root unchanged."""
    before = tree(root)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        run_cli(lambda: stage(name).main([str(a) for a in argv]))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not PROGRESS.search(line)]
    assert exited.value.code == 2, err
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert re.search(expect, lines[0]), lines[0]
    assert tree(root) == before
    return lines[0]


def refused_read_only(argv: list, root: Path, expect: str) -> None:
    """Run a stage script with `root` read-only: a bind mount as root, chmod otherwise."""
    command = [sys.executable, *map(str, argv)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if os.geteuid() == 0:  # root ignores permission bits: make the folder a read-only mount
        if shutil.which("unshare") is None:
            pytest.skip("running as root without unshare: cannot make a read-only folder")
        script = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && shift && exec "$@"'
        probe = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(root), "true"],
                               capture_output=True)
        if probe.returncode != 0:
            pytest.skip(f"cannot make a read-only mount here: {probe.stderr.decode().strip()}")
        command = ["unshare", "-m", "sh", "-c", script, "sh", str(root), *command]
    else:
        root.chmod(0o555)
    before = tree(root)
    try:
        out = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    finally:
        root.chmod(0o755)
    lines = [line for line in out.stderr.splitlines() if line.strip() and not PROGRESS.search(line)]
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert len(lines) == 1 and re.search(expect, lines[0]), out.stderr
    assert tree(root) == before


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """mnli built (8 rows, Regular), its setup4 mixture, and cola's Regular test set."""
    root = tmp_path_factory.mktemp("bad_inputs")
    builder = PromptBuilder.from_files()
    build_task("mnli", root, BuildRequest(custom=False, dataset_type="train+val", num_data=8,
                                          data_dir="bundled", manual_dir="bundled"), builder)
    build_task("cola", root, BuildRequest(custom=False, dataset_type="test", data_dir="bundled",
                                          manual_dir="bundled"), builder)
    make_mixture(root, "flan_prompts", "setup4", num_datapoints=8)
    return root


TRAIN = ["--dataset", "flan_prompts_mixture_setup4", "--model", "tiny", "--run_name", "r"]


# --- train.py ---------------------------------------------------------------

@pytest.mark.parametrize("flag, value, expect", [
    ("--batch_size", "0", "--batch_size must be at least 1"),
    ("--gradient_accumulation_steps", "0", "--gradient_accumulation_steps must be at least 1"),
    ("--learning_rate", "-1", "--learning_rate must be greater than 0"),
    ("--max_length", "0", "--max_length must be at least 2"),
    ("--lora_r", "0", "--lora_r must be at least 1"),
    ("--lora_dropout", "1.5", r"--lora_dropout must be in \[0, 1\)"),
])
def test_train_refuses_bad_hyperparameters(capsys, root, flag, value, expect):
    refused(capsys, "train", ["--root", root, *TRAIN, flag, value], root, expect)


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed here")
def test_train_refuses_a_logger_that_is_not_installed(capsys, root):
    refused(capsys, "train", ["--root", root, *TRAIN, "--report_to", "wandb"], root,
            "--report_to wandb: the wandb package is not installed")


def test_train_names_a_corrupt_adapter_config(capsys, root, tiny_model, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    (model / "adapter_config.json").write_text('{"r": 4,')
    refused(capsys, "train", ["--root", root, "--dataset", "flan_prompts_mixture_setup4", "--model", model,
                              "--run_name", "r"], root,
            f"{model / 'adapter_config.json'}:1: corrupt adapter config .*train.py writes it")


def test_train_says_a_read_only_root_is_read_only(root):
    refused_read_only(["train.py", "--root", root, *TRAIN], root, "is read-only")


# --- test.py ----------------------------------------------------------------

def _run(root: Path, name: str, run_info: str, weights: bytes) -> None:
    run = root / "saved_models" / name
    run.mkdir(parents=True)
    (run / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "base_model_name_or_path": "tiny"}))
    (run / "adapter_model.safetensors").write_bytes(weights)
    (run / "run_info.json").write_text(run_info)


EVAL = ["--test_task", "cola", "--test_prompt_format", "flan_prompts", "--num_test", "2", "--bertscore", "False",
        "--data_dir", "bundled", "--manual_dir", "bundled"]


def test_test_names_truncated_adapter_weights(capsys, tmp_path, root, tiny_model):
    shutil.copytree(root / "data", tmp_path / "data")
    _run(tmp_path, "cut", json.dumps({"base_model": "tiny"}), b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a")
    refused(capsys, "test", ["--root", tmp_path, "--run_name", "cut", *EVAL], tmp_path,
            "adapter_model.safetensors: corrupt adapter weights .*train.py writes them")


def test_test_names_an_empty_run_info(capsys, tmp_path, root):
    shutil.copytree(root / "data", tmp_path / "data")
    _run(tmp_path, "empty", "", b"")
    refused(capsys, "test", ["--root", tmp_path, "--run_name", "empty", *EVAL], tmp_path,
            "run_info.json is empty or corrupt; train.py writes it")


def test_test_checks_the_log_before_generating(capsys, tmp_path, root):
    shutil.copytree(root / "data", tmp_path / "data")
    (tmp_path / "eval_logs.csv").write_text("job_id,job_id\n")
    refused(capsys, "test", ["--root", tmp_path, "--run_name", "base", "--model", "tiny", *EVAL], tmp_path,
            "eval_logs.csv has duplicate columns")


def test_test_says_a_read_only_root_is_read_only(root):
    refused_read_only(["test.py", "--root", root, "--run_name", "base", "--model", "tiny", *EVAL], root,
                      "is read-only")


# --- create_prompts.py ------------------------------------------------------

def _cola(tmp_path: Path, lines: bytes) -> Path:
    folder = tmp_path / "raw" / "cola"
    folder.mkdir(parents=True)
    (folder / "train.jsonl").write_bytes(lines)
    return tmp_path / "raw"


PROMPTS = ["--tasks", "cola", "--num_datapoints", "4"]


def test_prompts_name_file_and_line_of_non_utf8_bytes(capsys, tmp_path):
    good = json.dumps({"sentence": "A fine sentence.", "label": 1, "idx": 0}).encode()
    raw = _cola(tmp_path, b"\xef\xbb\xbf" + good + b"\n" + '{"sentence": "Caf\xe9", "label": 1}\n'.encode("latin-1"))
    out = tmp_path / "out"
    refused(capsys, "create_prompts", ["--root", out, *PROMPTS, "--data_dir", raw], out,
            f"{raw / 'cola' / 'train.jsonl'}:2: not UTF-8 \\(byte 0xe9")


def test_prompts_refuse_a_float_class_label(capsys, tmp_path):
    raw = _cola(tmp_path, (json.dumps({"sentence": "A fine sentence.", "label": 1.5}) + "\n").encode())
    out = tmp_path / "out"
    refused(capsys, "create_prompts", ["--root", out, *PROMPTS, "--data_dir", raw], out,
            f"task cola: row 1 of {raw / 'cola' / 'train.jsonl'} .*class label 1.5 is not an integer")


def test_prompts_refuse_an_empty_required_field(capsys, tmp_path):
    rows = [{"sentence": "A fine sentence.", "label": 1}, {"sentence": "  ", "label": 0}]
    raw = _cola(tmp_path, "".join(json.dumps(r) + "\n" for r in rows).encode())
    out = tmp_path / "out"
    refused(capsys, "create_prompts", ["--root", out, *PROMPTS, "--data_dir", raw], out,
            f"task cola: row 2 of {raw / 'cola' / 'train.jsonl'} has an empty required field 'sentence'")


def test_prompts_refuse_a_root_that_is_a_file(capsys, tmp_path):
    (tmp_path / "root").write_text("")
    refused(capsys, "create_prompts", ["--root", tmp_path / "root", *PROMPTS, "--data_dir", "bundled"], tmp_path,
            "is a file, not a folder")


def test_prompts_say_a_read_only_root_is_read_only(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    refused_read_only(["create_prompts.py", "--root", out, *PROMPTS, "--data_dir", "bundled"], out, "is read-only")


def test_prompts_groups_leave_out_what_test_py_formats(capsys, tmp_path):
    refused(capsys, "create_prompts", ["--root", tmp_path, "--tasks", "bigbench", "--data_dir", "bundled"], tmp_path,
            "no task this stage builds")
    stage("create_prompts").main(["--root", str(tmp_path), "--tasks", "all", "--num_datapoints", "2",
                                  "--data_dir", "bundled", "--manual_dir", "bundled"])
    out = capsys.readouterr().out
    assert re.search(r"left out 10 task\(s\) that test.py formats at test time: .*logical_deduction.*gsm8k", out)
    built = {p.parent.relative_to(tmp_path / "data" / "flan_prompts").as_posix()
             for p in (tmp_path / "data" / "flan_prompts").rglob("2")}
    from inherent_limits.data import registry
    assert built == {t for t in registry.TASKS if registry.get_task(t).template_family is not None}


def test_prompts_warn_when_num_datapoints_exceeds_the_rows(capsys, tmp_path):
    stage("create_prompts").main(["--root", str(tmp_path), "--tasks", "cola", "--num_datapoints", "1000",
                                  "--data_dir", "bundled"])
    err = capsys.readouterr().err
    assert "warning: task cola: --num_datapoints 1000 wants 1250 rows, the source gives 22: built 22" in err
    info = json.loads((tmp_path / "data" / "flan_prompts" / "cola" / "1000" / "build_info.json").read_text())
    assert info == {"data_source": "bundled", "num_datapoints": 1000, "rows_wanted": 1250, "rows_built": 22,
                    "train_rows": 17, "validation_rows": 5}


def test_demo_collects_the_short_source_warnings_into_one_note(capsys, tmp_path):
    from inherent_limits.demo import build_prompt_datasets
    build_prompt_datasets(["cola", "copa"], tmp_path, "bundled", "bundled")
    out, err = capsys.readouterr()
    assert "wants" not in err and "wants" not in out
    assert out.count("note: ") == 1 and re.search(r"note: [1-9]\d* train\+val datasets hold fewer rows than "
                                                 r"--num_datapoints 16 asks for", out)


# --- make_mixtures.py -------------------------------------------------------

MIX = ["--prompt_format", "flan_prompts", "--setup", "4", "--num_datapoints", "8"]


def test_mixing_refuses_temperature_zero(capsys, root):
    refused(capsys, "make_mixtures", ["--root", root, *MIX, "--temperature", "0", "--overwrite"], root,
            "--temperature must be greater than 0")


def test_mixing_names_a_corrupt_input_and_how_to_rebuild_it(capsys, tmp_path, root):
    shutil.copytree(root / "data" / "flan_prompts", tmp_path / "data" / "flan_prompts")
    arrow = next((tmp_path / "data" / "flan_prompts" / "mnli" / "8" / "train").glob("*.arrow"))
    arrow.write_bytes(b"not an arrow file")
    refused(capsys, "make_mixtures", ["--root", tmp_path, *MIX], tmp_path,
            r"flan_prompts/mnli/8/train is corrupt \(.*\): rebuild it with `python create_prompts.py "
            r"--num_datapoints 8 --create_custom_prompts False --dataset_type train\+val --tasks mnli")


def test_mixing_only_reads_its_inputs(tmp_path):
    build_task("mnli", tmp_path, BuildRequest(custom=False, dataset_type="train+val", num_data=8,
                                              data_dir="bundled", manual_dir="bundled"), PromptBuilder.from_files())
    inputs = tmp_path / "data" / "flan_prompts"
    before = tree(inputs)
    make_mixture(tmp_path, "flan_prompts", "setup4", num_datapoints=8)
    assert tree(inputs) == before


# --- bertscore.py -----------------------------------------------------------

def test_bertscore_refuses_a_device_that_does_not_exist(capsys, tmp_path):
    refused(capsys, "bertscore", ["--root", tmp_path, "--response_file", tmp_path / "r.csv", "--device", "gpu9"],
            tmp_path, "--device 'gpu9' is not a torch device")


# --- empty strings, every stage ---------------------------------------------

@pytest.mark.parametrize("name, argv, flag", [
    ("train", ["--dataset", "flan_prompts_mixture_setup4", "--model", "tiny", "--run_name", ""], "--run_name"),
    ("test", ["--run_name", "base", "--model", "tiny", "--test_task", ""], "--test_task"),
    ("create_prompts", ["--tasks", "cola", "", "--data_dir", "bundled"], "--tasks"),
    ("make_mixtures", [*MIX, "--setup", ""], "--setup"),
    ("bertscore", ["--response_file", ""], "--response_file"),
])
def test_empty_strings_are_refused(capsys, root, name, argv, flag):
    refused(capsys, name, ["--root", root, *argv], root, f"{flag} is empty")
