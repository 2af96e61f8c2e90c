"""The study scripts: presets, --dry-run, online by default, and submissions that fail loudly.

The scripts run with a stand-in venv (a `python` that execs this interpreter, with setup_env.sh's
stamp) so that nothing is installed, and with a fake `sbatch` / `scancel` on PATH.
"""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SETTINGS_VARS = ("PRESET", "ROOT", "DRY_RUN", "SLURM_JOB_ID", "SLURM_ARRAY_TASK_ID", "MODEL", "TASKS", "LR",
                 "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


@pytest.fixture
def env(tmp_path):
    """An environment with a stand-in .venv (nothing installs), no study settings and no offline variables."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/usr/bin/env bash\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    digest = hashlib.sha256(b"".join((REPO / p).read_bytes() for p in
                                     ("pyproject.toml", "requirements-lock.txt", "scripts/setup_env.sh")))
    (venv / ".inherent_limits_installed").write_text(f"{digest.hexdigest()}-upgrade=0\n")
    out = {k: v for k, v in os.environ.items()
           if k not in SETTINGS_VARS and not k.startswith(("SLURM_", "SBATCH_", "BVI_"))}
    out["INHERENT_LIMITS_VENV"] = str(venv)
    return out


def _bash(args, env, cwd=REPO, **extra):
    return subprocess.run(["bash", *map(str, args)], cwd=cwd, env=dict(env, **extra), capture_output=True,
                          text=True, timeout=120)


def test_setup_env_leaves_the_hub_online(env):
    out = _bash(["-c", "source scripts/setup_env.sh; env"], env)
    assert out.returncode == 0, out.stderr
    names = {line.split("=", 1)[0] for line in out.stdout.splitlines()}
    assert not names & {"HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"}
    for script in ("demo.sh", "test.sh"):     # the two commands that stay offline set it themselves
        assert "export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1" in (REPO / "scripts" / script).read_text()


def test_paper_preset_dry_run_prints_the_papers_settings(env, tmp_path):
    root = tmp_path / "study"
    out = _bash(["scripts/without_slurm/run_study.sh", "--dry-run"], env, PRESET="paper", ROOT=str(root))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    commands = [line for line in lines if line.startswith("+ python ")]
    create = [c for c in commands if "create_prompts.py" in c]
    train = [c for c in commands if "train.py" in c]
    test = [c for c in commands if " test.py " in c]
    bvi = [c for c in commands if "base_vs_instruct.py" in c]
    assert len(create) == 7 and all("--num_datapoints 30000" in c for c in create)
    assert all("--num_datapoints 30000" in c for c in commands if "make_mixtures.py" in c)
    assert len(train) == 2 and all(
        "--model meta-llama/Llama-2-13b-hf" in c and "--num_train 20000 --num_epochs 1 --batch_size 2 "
        "--learning_rate 5e-5 --max_length 4096 --gradient_checkpointing True" in c and "--load_in_4bit True" in c
        for c in train)
    assert len(test) == 2 and all("--backend vllm --num_test 2500 --batch_size 10 --bertscore_model roberta-large"
                                  in c and "--max_new_tokens" not in c and "--data_dir" not in c for c in test)
    tasks = test[0].split("--test_task ")[1].split(" --")[0].split()
    assert len(tasks) == 37 + 8 + 1 and {"gsm8k", "logical_deduction", "cola", "wmt16/de-en"} <= set(tasks)
    assert len(bvi) == 1 and all(flag in bvi[0] for flag in (
        "--cot_k 20", "--num_samples 20", "--temperature 0.05", "--max_new_tokens 8192",
        "--no_chat_template False", "--backend vllm", "--base meta-llama/Llama-3.2-3B"))
    assert "--num_items" not in bvi[0] and "--n_shots" not in bvi[0]
    assert "LR=5e-5" in lines and "preset paper" in lines[0]
    assert not root.exists()                  # a dry run writes nothing


def test_environment_overrides_one_preset_value(env, tmp_path):
    out = _bash(["scripts/without_slurm/train.sh", "--dry-run"], env, PRESET="paper", LR="1e-4",
                ROOT=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("--learning_rate 1e-4 ") == 2 and "--num_train 20000" in out.stdout


@pytest.mark.parametrize("extra, message", [
    ({}, "PRESET is not set"),
    ({"PRESET": "nope"}, "PRESET=nope: no file"),
    ({"PRESET": "smoke", "TASKS": "cola no_such_task"}, "unknown task 'no_such_task'"),
])
def test_bad_presets_stop_with_one_error_line(env, tmp_path, extra, message):
    out = _bash(["scripts/without_slurm/train.sh", "--dry-run"], env, ROOT=str(tmp_path), **extra)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("error:") == 1 and message in out.stderr


def test_own_preset_with_a_typo_or_a_missing_setting_is_refused(env, tmp_path):
    own = tmp_path / "mine.env"
    own.write_text((REPO / "scripts/presets/smoke.env").read_text().replace("LR=3e-3", "LR=7e-4"))
    out = _bash([REPO / "scripts/without_slurm/run_study.sh", "--dry-run"], env, cwd=tmp_path, PRESET="mine.env",
                ROOT=str(tmp_path / "study"))                 # a relative path, from where the script is called
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"preset {own} ") and out.stdout.count("--learning_rate 7e-4 ") == 2
    own.write_text((REPO / "scripts/presets/smoke.env").read_text().replace("NUM_TRAIN=", "NUM_TRIAN="))
    out = _bash(["scripts/without_slurm/train.sh", "--dry-run"], env, PRESET=str(own), ROOT=str(tmp_path))
    assert out.returncode == 2 and "unknown setting NUM_TRIAN" in out.stderr
    own.write_text("MODEL=tiny\n")
    out = _bash(["scripts/without_slurm/train.sh", "--dry-run"], env, PRESET=str(own), ROOT=str(tmp_path))
    assert out.returncode == 2 and "sets no TASKS" in out.stderr


def test_later_stages_need_a_named_root_and_the_first_makes_a_fresh_one(env):
    out = _bash(["scripts/without_slurm/train.sh", "--dry-run"], env, PRESET="smoke")
    assert out.returncode == 2 and "ROOT is not set" in out.stderr
    out = _bash(["scripts/without_slurm/gen_all_tasks.sh", "--dry-run"], env, PRESET="smoke", SLURM_JOB_ID="77")
    assert out.returncode == 0, out.stderr
    assert f"study root: {REPO / 'study_77'}" in out.stdout and "demo_run" not in out.stdout
    assert not (REPO / "study_77").exists()


@pytest.fixture
def fake_slurm(tmp_path):
    """A bin folder with an sbatch that queues ids 101, 102, ... and fails from call FAIL_AT on."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(
        "#!/usr/bin/env bash\n"
        f'n=$(($(cat {tmp_path}/count 2>/dev/null || echo 0) + 1)); echo $n > {tmp_path}/count\n'
        'if [ "$n" -ge "$FAIL_AT" ]; then echo "sbatch: error: Unable to contact slurm controller" >&2; exit 1; fi\n'
        'echo "10$n"\n')
    (bin_dir / "scancel").write_text(f'#!/usr/bin/env bash\necho "$@" >> {tmp_path}/cancelled\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    return bin_dir


def test_a_failed_sbatch_stops_the_submission_and_cancels_what_was_queued(env, tmp_path, fake_slurm):
    out = _bash(["scripts/with_slurm/submit_study.sh"], env, PRESET="smoke", ROOT=str(tmp_path / "study"),
                FAIL_AT="3", PATH=f"{fake_slurm}:{env['PATH']}")
    assert out.returncode == 1, out.stderr
    assert "error: submitting stage test_regularprompt failed" in out.stderr
    assert "Unable to contact slurm controller" in out.stderr
    assert (tmp_path / "cancelled").read_text().split() == ["101", "102"]
    assert "test_regularprompt" not in out.stdout and "correlate" not in out.stdout


def test_a_failed_first_sbatch_says_nothing_was_queued(env, tmp_path, fake_slurm):
    out = _bash(["scripts/with_slurm/submit_study.sh"], env, PRESET="smoke", ROOT=str(tmp_path / "study"),
                FAIL_AT="1", PATH=f"{fake_slurm}:{env['PATH']}")
    assert out.returncode == 1 and "stage gen_all_tasks failed" in out.stderr and "nothing was queued" in out.stderr
    assert not (tmp_path / "cancelled").exists()


def test_submission_dry_run_lists_every_stage_array_and_command(env, tmp_path, fake_slurm):
    out = _bash(["scripts/with_slurm/submit_study.sh", "--dry-run"], env, PRESET="smoke",
                ROOT=str(tmp_path / "study"), FAIL_AT="1", PATH=f"{fake_slurm}:{env['PATH']}")
    assert out.returncode == 0, out.stderr
    stages = [line for line in out.stdout.splitlines() if line.startswith("== stage ")]
    assert stages == ["== stage gen_all_tasks: one job", "== stage train: array of 2 jobs",
                      "== stage test_regularprompt: array of 2 jobs",
                      "== stage test_samplegen+pipeline: array of 2 jobs", "== stage correlate: one job"]
    assert out.stdout.count("+ python test.py --test_task logical_deduction ") == 2
    assert not (tmp_path / "count").exists() and not (tmp_path / "study").exists()
