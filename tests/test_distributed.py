"""Two-process CPU training under torchrun (gloo): one adapter, one run_info.json, one log row."""
import json
import re
import subprocess
import sys

import pandas as pd
import pytest
from conftest import REPO

from inherent_limits.prompts.builder import PromptBuilder
from inherent_limits.prompts.mixtures import make_mixture
from inherent_limits.prompts.task_datasets import BuildRequest, build_task


@pytest.mark.slow
def test_torchrun_two_processes_save_and_log_once(tmp_path, tiny_model):
    build_task("mnli", tmp_path, BuildRequest(custom=False, dataset_type="train+val", num_data=8,
                                              data_dir="bundled", manual_dir="bundled"), PromptBuilder.from_files())
    make_mixture(tmp_path, "flan_prompts", "setup4", num_datapoints=8)
    out = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "train.py", "--root", str(tmp_path), "--dataset", "flan_prompts_mixture_setup4", "--model", "tiny",
         "--run_name", "ddp", "--num_train", "4", "--num_val", "0", "--lora_r", "4", "--max_length", "128"],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    run = tmp_path / "saved_models" / "ddp"
    assert (run / "adapter_model.safetensors").is_file() and not list(run.glob(".final-*"))
    assert json.loads((run / "run_info.json").read_text())["world_size"] == 2
    log = pd.read_csv(tmp_path / "train_logs.csv")
    assert len(log) == 1 and log["world_size"].tolist() == [2] and log["run_name"].tolist() == ["ddp"]
    # the logged loss is the Trainer's own figure (averaged over both ranks), not rank 0's alone
    trainer_loss = [float(m) for m in re.findall(r"'train_loss': '?([0-9.]+)", out.stdout + out.stderr)]
    assert len(trainer_loss) == 1, (out.stdout + out.stderr)[-3000:]
    assert log["train_loss"].iloc[0] == pytest.approx(trainer_loss[0], abs=1e-3)   # the Trainer prints 3 decimals
