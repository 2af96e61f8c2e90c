"""scripts/gpu_check.sh on CPU: the same checks run (float32), the vLLM ones skipped where vLLM is
missing, and one summary table; a failure is a FAIL row, not a crash."""
import importlib.util
import os
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


def _table(stdout):
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("check "))
    return [[cell.strip() for cell in line.split(" | ")] for line in lines[start:] if " | " in line]


def _run(tmp_path, *flags):
    out = subprocess.run(["bash", "scripts/gpu_check.sh", "--tasks", "cola", "--num_test", "2", "--deadline", "1800",
                          "--workdir", str(tmp_path), *flags], cwd=REPO, capture_output=True, text=True,
                         timeout=2400, env={**os.environ, "GPU_CHECK_PYTHON": sys.executable,
                                            "GPU_CHECK_TIMEOUT": "2100"})
    assert out.returncode == 0, out.stderr[-3000:]
    rows = _table(out.stdout)
    assert rows[0] == ["check", "status", "figure", "detail"]
    assert [r[0] for r in rows[1:]] == ["device", "train", "parity", "study_engine", "cot_vllm"]
    assert rows[1][1:3] == ["ok", "cpu"]
    train = rows[2]
    assert train[1] == "ok" and train[2].endswith("tokens/s") and float(train[2].split()[0].replace(",", "")) > 0
    assert "float32" in train[3]
    return rows


def test_gpu_check_runs_on_cpu_and_prints_one_table(tiny_model, tmp_path):
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("this environment has vLLM: test_gpu_check_vllm_checks_run_on_vllm_cpu covers it")
    rows = _run(tmp_path, "--skip", "study_engine")
    assert rows[4][1:] == ["skipped", "-", "--skip"]
    for row in (rows[3], rows[5]):
        assert row[1:] == ["skipped", "-", "vllm not installed"]


@pytest.mark.vllm
def test_gpu_check_vllm_checks_run_on_vllm_cpu(tiny_model, tmp_path):
    rows = _run(tmp_path)
    parity, study, cot = rows[3], rows[4], rows[5]
    assert parity[1:3] == ["ok", "base_zero_shot 2/2; flan_direct 2/2"]
    assert study[1] == "ok" and study[3].endswith("5/5 response files identical")
    assert cot[1] == "ok" and cot[2] == "20/20 branches"


def test_a_failing_preparation_is_a_fail_row(tmp_path, cli):
    out = cli(["benchmarks/gpu_check.py", "--model", str(tmp_path / "no-such-model"), "--tasks", "cola",
               "--workdir", str(tmp_path)])
    assert out.returncode == 1
    rows = _table(out.stdout)
    assert [r[0] for r in rows[1:]] == ["device", "prepare"] and rows[2][1] == "FAIL"
