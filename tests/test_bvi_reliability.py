"""The second study under kills, reruns and bad input: nothing lost, nothing reused from other data,
summary rows once per group, a report folder never replaces what is not a report of the same pair.

Tiny model on both sides, bundled GSM8K, 2 items, zero-shot, 2 samples per side, 4 new tokens.
"""
import csv
import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli
from test_bad_inputs import refused, refused_read_only, tree

from inherent_limits.base_vs_instruct.runner import SUMMARY_LOG, StudyRequest, rescore, run_study
from inherent_limits.base_vs_instruct.samples import read_samples, sample_key
from inherent_limits.core.crash_points import CRASH_ENV

SETTINGS = dict(base="tiny", instruct="tiny", no_chat_template=True, datasets=("gsm8k",), promptings=("zero_shot",),
                data_dir="bundled", num_items=2, cot_k=2, num_samples=2, max_new_tokens=4, progress=False,
                job="rel", out_name="pair")
ARGS = ["--base", "tiny", "--instruct", "tiny", "--no_chat_template", "--datasets", "gsm8k", "--prompting",
        "zero_shot", "--data_dir", "bundled", "--num_items", "2", "--cot_k", "2", "--num_samples", "2",
        "--max_new_tokens", "4", "--progress", "False", "--out_name", "pair", "--slurm_job_id", "rel"]
GROUPS = 2 * 2  # sides x graders


@pytest.fixture(scope="module")
def done(tiny_model, tmp_path_factory):
    """A finished run: its root and rows."""
    root = tmp_path_factory.mktemp("bvi_rel") / "root"
    result = run_study(StudyRequest(root=root, **SETTINGS))
    return root, read_samples(result["samples"])


def _copy(done, tmp_path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(done[0], root)
    return root


def _samples(root: Path) -> Path:
    return root / "base_vs_instruct" / "pair" / "samples.csv"


def _summary(root: Path) -> list[dict]:
    with open(root / SUMMARY_LOG, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _keys(rows):
    return sorted(sample_key(r) for r in rows)


def _responses(rows):
    return {sample_key(r): r["response"] for r in rows}


# --- the resume key and the summary log ---------------------------------------------------------------

def test_a_rerun_on_other_data_is_refused_not_served_old_samples(done, tmp_path, capsys):
    root = _copy(done, tmp_path)
    other = tmp_path / "other" / "gsm8k"
    other.mkdir(parents=True)
    rows = [{"question": f"What is {n} + {n}?", "answer": f"Add them.\n#### {2 * n}"} for n in (3, 4)]
    (other / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    argv = ["--root", root, *ARGS]
    argv[argv.index("bundled")] = tmp_path / "other"
    refused(capsys, "base_vs_instruct", argv, root, r"samples\.csv holds base samples of gsm8k item test-0 .*"
            r"another prompt or gold answer.*--out_name")


def test_a_plain_rerun_keeps_one_summary_row_per_group(done, tmp_path):
    root = _copy(done, tmp_path)
    assert len(_summary(root)) == GROUPS
    again = run_study(StudyRequest(root=root, **SETTINGS))
    assert again["written"] == 0 and again["summary_rows"] == GROUPS
    summary = _summary(root)
    assert len(summary) == GROUPS and len({(r["model_kind"], r["grader"]) for r in summary}) == GROUPS


def test_a_grader_named_twice_is_logged_once(done, tmp_path):
    root = _copy(done, tmp_path)
    run_study(StudyRequest(root=root, **{**SETTINGS, "graders": ("standard", "standard")}))
    summary = _summary(root)
    assert sorted(r["grader"] for r in summary if r["model_kind"] == "base") == ["math_verify", "standard"]
    assert len(summary) == GROUPS


def test_a_kill_before_the_summary_reruns_to_the_same_rows(done, tmp_path):
    root = tmp_path / "root"
    killed = run_cli(["base_vs_instruct.py", "--root", str(root), *ARGS], env_extra={CRASH_ENV: "bvi_before_summary"})
    assert killed.returncode == -9, killed.stderr
    assert not (root / SUMMARY_LOG).exists()
    rerun = run_cli(["base_vs_instruct.py", "--root", str(root), *ARGS], env_extra={CRASH_ENV: ""})
    assert rerun.returncode == 0, rerun.stderr
    assert "0 new samples" in rerun.stdout and f"{GROUPS} summary rows" in rerun.stdout
    assert _responses(read_samples(_samples(root))) == _responses(done[1])
    assert len(_summary(root)) == GROUPS
    assert (root / "base_vs_instruct" / "pair" / "report" / "report.md").is_file()


def test_a_kill_while_the_summary_is_rewritten_leaves_the_old_rows_and_a_rerun_one_each(done, tmp_path):
    root = _copy(done, tmp_path)
    before = (root / SUMMARY_LOG).read_bytes()
    argv = ["base_vs_instruct.py", "--root", str(root), *ARGS]
    killed = run_cli(argv, env_extra={CRASH_ENV: "log_replace_rows"})
    assert killed.returncode == -9, killed.stderr
    assert (root / SUMMARY_LOG).read_bytes() == before and list(root.glob(f".{SUMMARY_LOG}.tmp-*"))
    rerun = run_cli(argv, env_extra={CRASH_ENV: ""})
    assert rerun.returncode == 0, rerun.stderr
    assert len(_summary(root)) == GROUPS and not list(root.glob(f".{SUMMARY_LOG}.tmp-*"))


def test_a_torn_last_row_is_dropped_with_its_line_and_generated_again(done, tmp_path, capsys):
    root = _copy(done, tmp_path)
    log = _samples(root)
    text = log.read_text(encoding="utf-8")
    log.write_text(text[:-40], encoding="utf-8")  # the last row cut mid-way, as by a kill mid-write
    line = text[:text.rstrip("\n").rindex('\njob-rel,') + 1].count("\n") + 1  # where the last row starts
    capsys.readouterr()
    again = run_study(StudyRequest(root=root, **SETTINGS))
    assert f"note: {log} line {line}: a row cut short by a killed run, dropped" in capsys.readouterr().out
    assert again["written"] == 1
    rows = read_samples(log)
    assert _keys(rows) == _keys(done[1]) and _responses(rows) == _responses(done[1])


def test_rescore_drops_a_torn_row_that_repeats_a_sample(done, tmp_path, capsys):
    root = _copy(done, tmp_path)
    log = _samples(root)
    header, first = _records(log)[:2]
    with open(log, "a", newline="", encoding="utf-8") as handle:  # the first row again, cut after its key
        csv.writer(handle, lineterminator="\n").writerow(first[:header.index("sample_index") + 2])
    result = rescore(StudyRequest(root=root, **SETTINGS))
    assert result["rescored"] == len(done[1])
    assert "a row cut short by a killed run, dropped" in capsys.readouterr().out
    assert _keys(read_samples(log)) == _keys(done[1])


# --- the report folder ------------------------------------------------------------------------------

def test_report_only_refuses_a_folder_that_is_not_a_report(done, tmp_path, capsys):
    root = _copy(done, tmp_path)
    mine = root / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me", encoding="utf-8")
    refused(capsys, "base_vs_instruct", ["--report_only", _samples(root), "--report_dir", mine], root,
            r"report folder .*mine holds files that are not a report.*pass a new folder")
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_report_only_refuses_a_file(done, tmp_path, capsys):
    root = _copy(done, tmp_path)
    (root / "file.md").write_text("keep me", encoding="utf-8")
    refused(capsys, "base_vs_instruct", ["--report_only", _samples(root), "--report_dir", root / "file.md"], root,
            r"report folder .*file\.md is a file")


def test_report_only_replaces_its_own_report_but_not_another_pairs(done, tmp_path, capsys):
    root = _copy(done, tmp_path)
    out = root / "rep"
    stage_args = ["--report_only", _samples(root), "--report_dir", out]
    from test_bad_inputs import stage
    stage("base_vs_instruct").main([str(a) for a in stage_args])
    stage("base_vs_instruct").main([str(a) for a in stage_args])  # a previous report of the same pair
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["pairs"] == ["tiny vs tiny"]
    info = json.loads((out / "report.json").read_text(encoding="utf-8"))
    (out / "report.json").write_text(json.dumps({**info, "pairs": ["a vs b"]}), encoding="utf-8")
    refused(capsys, "base_vs_instruct", stage_args, root, r"holds the report of a vs b")


def test_a_run_refuses_a_report_folder_of_other_files_before_generating(done, tmp_path, capsys):
    root = _copy(done, tmp_path)
    report = root / "base_vs_instruct" / "pair" / "report"
    (report / "report.json").unlink()
    log = _samples(root)
    log.write_text(log.read_text(encoding="utf-8").split("\n", 1)[0] + "\n", encoding="utf-8")  # header only
    refused(capsys, "base_vs_instruct", ["--root", root, *ARGS], root, r"report folder .*report holds files that "
            r"are not a report")


# --- bad input: one error line, nothing written ---------------------------------------------------------

def _records(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _write_records(path: Path, records: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(records)


def _bad_index(path: Path) -> None:
    records = _records(path)
    records[1][records[0].index("sample_index")] = "x"
    _write_records(path, records)


def _long_row(path: Path) -> None:
    records = _records(path)
    records[1].append("extra")
    _write_records(path, records)


def _bad_bytes(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\xff" + data[100:])


@pytest.mark.parametrize("damage, expect", [
    (_bad_bytes, r"is not UTF-8 text: byte 0xff at offset 100"),
    (_bad_index, r"line 2 .*sample_index 'x' is not a whole number"),
    (_long_row, r"line 2 .*cells but the header has"),
])
@pytest.mark.parametrize("mode", ["--report_only", "--rescore"])
def test_a_damaged_per_sample_log_is_one_error_line(done, tmp_path, capsys, damage, expect, mode):
    root = _copy(done, tmp_path)
    log = _samples(root)
    damage(log)
    argv = [mode, log] if mode == "--report_only" else ["--root", root, *ARGS, "--rescore"]
    refused(capsys, "base_vs_instruct", argv, root, expect)


def test_a_damaged_summary_log_is_found_before_generating(tiny_model, tmp_path, capsys):
    root = tmp_path / "root"
    root.mkdir()
    (root / SUMMARY_LOG).write_text('job_id,seed\n"job-1,42\n', encoding="utf-8")
    refused(capsys, "base_vs_instruct", ["--root", root, *ARGS], root, r"line 2 of the log .*never closed")


def test_a_null_question_is_refused_before_generating(tiny_model, tmp_path, capsys):
    root = tmp_path / "root"
    root.mkdir()
    data = tmp_path / "data" / "gsm8k"
    data.mkdir(parents=True)
    rows = [{"question": "1 + 1?", "answer": "#### 2"}, {"question": None, "answer": "#### 3"}]
    (data / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    argv = ["--root", root, *ARGS]
    argv[argv.index("bundled")] = tmp_path / "data"
    refused(capsys, "base_vs_instruct", argv, root, r"row 2 of .*test\.jsonl has no question text")


def test_a_read_only_root_is_refused(tiny_model, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    refused_read_only(["base_vs_instruct.py", "--root", root, *ARGS], root, "is read-only")


def test_vllm_backend_without_vllm_leaves_no_folder(tiny_model, tmp_path, capsys):
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    root = tmp_path / "root"
    root.mkdir()
    refused(capsys, "base_vs_instruct", ["--root", root, *ARGS, "--backend", "vllm"], root, "vLLM is not installed")
    assert tree(root) == {}
