"""The whole study on a real one-node SLURM cluster: scripts/ci brings it up, submit_study.sh
submits the DAG (job arrays over chunks of TASKS_PER_JOB tasks, afterok dependencies), and the
logs must carry the real job ids of the jobs that wrote them.

Needs root and Debian's slurm and munge packages (installed on first use); set
INHERENT_LIMITS_SKIP_SLURM=1 to skip it where neither is possible.
"""
import os
import re
import subprocess
from pathlib import Path

import pandas
import pytest

from inherent_limits.core import csv_logs

pytestmark = [pytest.mark.slow, pytest.mark.slurm]
REPO = Path(__file__).resolve().parent.parent
CI = REPO / "scripts" / "ci"
TASKS = ("cola", "aeslc", "logical_deduction")      # the smoke preset's TASKS
CHUNKS = (("cola", "aeslc"), ("logical_deduction",))  # array tasks of the tests: TASKS_PER_JOB=2
STAGES = ("gen_all_tasks", "train", "test_regularprompt", "test_samplegen+pipeline", "correlate")
CONDITIONS = {"test_regularprompt": {"base_zero_shot", "flan_direct"},
              "test_samplegen+pipeline": {"samplegen_direct", "gold_pipeline", "samplegen_pipeline"}}
STUDY_VARS = ("PRESET", "ROOT", "DRY_RUN", "GRAD_CKPT", "MODEL", "TASKS", "NUM_DATA", "NUM_TEST", "REG_RUN",
              "SG_RUN", "TRAIN_FORMATS", "NUM_TRAIN", "EPOCHS", "TRAIN_BATCH", "LR", "MAX_LENGTH", "TEST_BATCH", "MAX_NEW_TOKENS",
              "BERTSCORE_MODEL", "OVERWRITE", "DATA_DIR", "MANUAL_DIR", "TRAIN_ARGS", "TEST_ARGS",
              "CORRELATE_ARGS", "TASKS_PER_JOB", "BACKEND")


def _run(args, env, timeout):
    return subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """An environment whose SLURM_CONF points at a fresh cluster; torn down afterwards."""
    if os.environ.get("INHERENT_LIMITS_SKIP_SLURM") == "1":
        pytest.skip("INHERENT_LIMITS_SKIP_SLURM=1")
    if os.geteuid() != 0:
        pytest.fail("test_slurm needs root: it installs slurm and munge with apt-get and starts their "
                    "daemons. Run it as root (as CI does) or set INHERENT_LIMITS_SKIP_SLURM=1 to skip it.",
                    pytrace=False)
    ci_dir = tmp_path_factory.mktemp("slurm-ci")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLURM_", "SBATCH_", "BVI_")) and k not in STUDY_VARS}
    env.update(SLURM_CI_DIR=str(ci_dir), SLURM_CONF=str(ci_dir / "etc" / "slurm.conf"))
    try:
        up = _run([CI / "ci-slurm.sh", "up"], env, timeout=600)
        assert up.returncode == 0, f"ci-slurm.sh up failed:\n{up.stdout}\n{up.stderr}"
        yield env
    finally:
        _run([CI / "ci-slurm.sh", "down"], env, timeout=120)


def _jobs(env, job_id):
    """scontrol's records of a job or job array: [{JobId, ArrayJobId, ArrayTaskId, JobState}]."""
    out = _run(["scontrol", "-o", "show", "job", job_id], env, timeout=30).stdout
    fields = ("JobId", "ArrayJobId", "ArrayTaskId", "JobState")
    return [{f: (m.group(1) if (m := re.search(rf"(?:^| ){f}=(\S+)", line)) else None) for f in fields}
            for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def study(cluster, tmp_path_factory):
    """Submit the default study into a fresh ROOT and wait for every stage."""
    root = tmp_path_factory.mktemp("study")
    env = dict(cluster, ROOT=str(root), PRESET="smoke")
    out = _run([REPO / "scripts" / "with_slurm" / "submit_study.sh"], env, timeout=600)
    assert out.returncode == 0, f"submit_study.sh failed:\n{out.stdout}\n{out.stderr}"
    ids = dict(line.split() for line in out.stdout.splitlines())
    assert tuple(ids) == STAGES and len(set(ids.values())) == len(STAGES)
    waits = {stage: _run([CI / "wait_job.sh", job, 600], env, timeout=660) for stage, job in ids.items()}
    records = {stage: _jobs(env, job) for stage, job in ids.items()}
    return root, ids, waits, records


def _logs(root):
    """Every SLURM log's tail, for failure messages."""
    return "\n".join(f"== {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-15:])
                     for p in sorted((root / "slurm_logs").glob("*.out")))


def _array_ids(records):
    """{array index: the array task's own job id}"""
    return {int(r["ArrayTaskId"]): r["JobId"] for r in records}


def test_every_job_completes(study):
    root, ids, waits, records = study
    for stage, wait in waits.items():
        assert wait.returncode == 0, f"{stage} ({ids[stage]}): {wait.stdout}\n{_logs(root)}"
    assert {stage: {r["JobState"] for r in recs} for stage, recs in records.items()} == \
        {stage: {"COMPLETED"} for stage in STAGES}
    assert sorted(_array_ids(records["train"])) == [0, 1]
    for stage in CONDITIONS:
        assert sorted(_array_ids(records[stage])) == list(range(len(CHUNKS)))
        assert {r["ArrayJobId"] for r in records[stage]} == {ids[stage]}


def test_array_logs_are_named_by_array_and_index(study):
    root, ids, _, records = study
    names = {p.name for p in (root / "slurm_logs").glob("*.out")}
    assert {f"gen_all_tasks-{ids['gen_all_tasks']}.out", f"correlate-{ids['correlate']}.out"} <= names
    for stage in ("train", *CONDITIONS):
        for index, job in _array_ids(records[stage]).items():
            log = root / "slurm_logs" / f"{stage}-{ids[stage]}_{index}.out"
            first = log.read_text().splitlines()[0]
            assert first.startswith(f"job {job} (array {ids[stage]} index {index}): "), first


def test_eval_rows_carry_each_array_tasks_own_job_id(study):
    root, _, _, records = study
    log = csv_logs.read_log(root / "eval_logs.csv")
    assert len(log) == len(TASKS) * 5
    seen = set()
    for stage, conditions in CONDITIONS.items():
        for index, job in _array_ids(records[stage]).items():
            rows = log[log["job_id"] == f"job-{job}"]
            assert set(rows["test_task"]) == set(CHUNKS[index]) and set(rows["condition"]) == conditions
            assert len(rows) == len(CHUNKS[index]) * len(conditions)
            seen.add(job)
    assert len(seen) == 2 * len(CHUNKS)         # every array task is a job of its own
    sampled = log[log["condition"] == "samplegen_pipeline"]
    assert (sampled["samplegen_sample_source"] == "model").all()
    assert sampled["samplegen_file_name"].map(lambda name: isinstance(name, str) and name != "").all()
    scored = csv_logs.read_log(root / "bertscore_evals.csv")
    assert set(scored["job_id"]) <= {f"job-{j}" for j in seen} and "cola" in set(scored["test_task"])


def test_train_rows_carry_the_train_array_job_ids(study):
    root, _, _, records = study
    by_index = _array_ids(records["train"])
    log = csv_logs.read_log(root / "train_logs.csv")
    assert dict(zip(log["run_name"], log["job_id"])) == {"regular": f"job-{by_index[0]}",
                                                         "samplegen": f"job-{by_index[1]}"}
    for run in ("regular", "samplegen"):
        assert (root / "saved_models" / run / "adapter_model.safetensors").is_file()


def test_correlate_job_writes_the_report(study):
    root = study[0]
    report = (root / "analysis" / "report.md").read_text()
    assert all(task in report for task in TASKS)
    scores = pandas.read_csv(root / "analysis" / "scores_by_task.csv")
    assert set(scores["task"]) == set(TASKS) and len(scores) == len(TASKS) * 5
    assert (root / "analysis" / "correlations.csv").is_file() and any((root / "analysis" / "plots").glob("*.png"))
