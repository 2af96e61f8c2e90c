"""CSV logs: header union, quoting, exact floats, atomic rewrites, many concurrent writers."""
import csv
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inherent_limits.core.csv_logs import EVAL_COLUMNS, EVAL_LOG, append_row, log_lock, read_log
from inherent_limits.core.errors import UserError

REPO = Path(__file__).resolve().parent.parent


def _records(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle, strict=True))


def _leftovers(folder, log_name):
    return sorted(name for name in os.listdir(folder) if name not in (log_name, f"{log_name}.lock"))


def test_new_file_header_is_leading_then_row_keys(tmp_path):
    log = tmp_path / "sub" / EVAL_LOG
    append_row(log, {"accuracy": 0.5, "job_id": "job-1", "test_task": "cola"}, leading=EVAL_COLUMNS)
    header, row = _records(log)
    assert header == [*EVAL_COLUMNS, "accuracy"]
    assert row[0] == "job-1" and row[3] == "cola" and row[-1] == "0.5"
    assert row.count("") == len(EVAL_COLUMNS) - 2


def test_header_union_keeps_every_value_under_its_column(tmp_path):
    log = tmp_path / EVAL_LOG
    append_row(log, {"job_id": "job-1", "test_task": "cola", "accuracy": 0.75}, leading=["job_id", "seed"])
    append_row(log, {"job_id": "job-2", "test_task": "dart", "bleu": 12.5, "rouge1": 0.25})
    append_row(log, {"job_id": "job-3", "accuracy": 0.5, "test_task": "copa"})  # fits: plain append
    append_row(log, {"rouge1": 0.125, "job_id": "job-4", "bertscore": 0.875, "test_task": "dart"})
    assert _records(log)[0] == ["job_id", "seed", "test_task", "accuracy", "bleu", "rouge1", "bertscore"]
    frame = read_log(log)
    assert list(frame["job_id"]) == ["job-1", "job-2", "job-3", "job-4"]
    assert list(frame["test_task"]) == ["cola", "dart", "copa", "dart"]
    expected = {"accuracy": [0.75, None, 0.5, None], "bleu": [None, 12.5, None, None],
                "rouge1": [None, 0.25, None, 0.125], "bertscore": [None, None, None, 0.875],
                "seed": [None] * 4}
    for column, values in expected.items():
        got = [None if math.isnan(value) else value for value in frame[column]]
        assert got == values, column
    assert _leftovers(tmp_path, EVAL_LOG) == []


def test_quoting_none_bools_and_exact_floats_round_trip(tmp_path):
    log = tmp_path / "train_logs.csv"
    tricky = ['a, b', 'say "hi"', "two\nlines", "carriage\rreturn", "crlf\r\nend", " padded ", "ünïcode"]
    floats = [0.1 + 0.2, 1 / 3, 1e-300, 123456789.123456789, -2.5e17, 5e-324]
    np = pytest.importorskip("numpy")
    for i, text in enumerate(tricky):
        append_row(log, {"i": i, "text": text, "f": floats[i % len(floats)], "flag": i % 2 == 0,
                         "missing": None, "npf": np.float32(0.1) if i == 0 else np.float64(2 / 3)})
    records = _records(log)
    assert records[0] == ["i", "text", "f", "flag", "missing", "npf"]
    assert [record[1] for record in records[1:]] == tricky
    assert [record[3] for record in records[1:4]] == ["True", "False", "True"]
    assert all(record[4] == "" for record in records[1:])
    assert [float(record[2]) for record in records[1:]] == [floats[i % len(floats)] for i in range(len(tricky))]
    frame = read_log(log)
    assert list(frame["text"]) == tricky
    assert list(frame["f"]) == [floats[i % len(floats)] for i in range(len(tricky))]
    assert frame["npf"][0] == float(np.float32(0.1)) and frame["npf"][1] == 2 / 3
    assert frame["missing"].isna().all()


def test_missing_empty_and_header_only_files(tmp_path):
    assert read_log(tmp_path / "nowhere" / EVAL_LOG).empty
    log = tmp_path / EVAL_LOG
    assert read_log(log).empty
    log.write_text("")
    assert read_log(log).empty
    log.write_text("job_id,accuracy\n")
    frame = read_log(log)
    assert list(frame.columns) == ["job_id", "accuracy"] and len(frame) == 0
    append_row(log, {"job_id": "job-1", "accuracy": 1.0})
    assert _records(log) == [["job_id", "accuracy"], ["job-1", "1.0"]]


def test_torn_last_line_does_not_swallow_the_next_row(tmp_path):
    log = tmp_path / EVAL_LOG
    log.write_text("job_id,accuracy\njob-1,0.5\njob-2")  # a writer died mid-line
    append_row(log, {"job_id": "job-3", "accuracy": 0.25})
    assert _records(log)[1:] == [["job-1", "0.5"], ["job-2"], ["job-3", "0.25"]]
    append_row(log, {"job_id": "job-4", "bleu": 3.0})  # a rewrite pads the short row
    assert _records(log)[1:] == [["job-1", "0.5", ""], ["job-2", "", ""], ["job-3", "0.25", ""],
                                 ["job-4", "", "3.0"]]


@pytest.mark.parametrize("content, fragment", [
    ("\njob-1,0.5\n", "empty column name"),
    ("job_id,,accuracy\n", "empty column name"),
    ("job_id,accuracy,job_id\n", "duplicate columns ['job_id']"),
    ('job_id,"acc\n', "cannot parse the header"),
    (b"job_id,acc\xff\n", "cannot parse the header"),
])
def test_unparsable_header_is_a_user_error_naming_the_file(tmp_path, content, fragment):
    log = tmp_path / EVAL_LOG
    log.write_bytes(content if isinstance(content, bytes) else content.encode())
    for action in (lambda: append_row(log, {"job_id": "job-1"}), lambda: read_log(log)):
        with pytest.raises(UserError, match=str(log)) as caught:
            action()
        assert fragment in str(caught.value)
    assert _leftovers(tmp_path, EVAL_LOG) == []


@pytest.mark.parametrize("content, line", [("job_id,accuracy\njob-1,0.5,surplus\n", 2),
                                           ("job_id,accuracy\njob-1,0.5\njob-2,1,surplus\n", 3)])
def test_overlong_row_stops_a_rewrite_and_leaves_the_file_alone(tmp_path, content, line):
    log = tmp_path / EVAL_LOG
    log.write_text(content)
    with pytest.raises(UserError, match=rf"line {line} of the log .* has 3 cells but the header has 2"):
        append_row(log, {"job_id": "job-2", "bleu": 1.0})
    with pytest.raises(UserError, match="cannot parse the log"):
        read_log(log)
    assert log.read_text() == content
    assert _leftovers(tmp_path, EVAL_LOG) == []


def test_rewrite_keeps_file_mode_and_lock_is_a_sibling_that_excludes_others(tmp_path):
    log = tmp_path / EVAL_LOG
    append_row(log, {"job_id": "job-1"})
    os.chmod(log, 0o640)
    append_row(log, {"job_id": "job-2", "accuracy": 0.5})
    assert (log.stat().st_mode & 0o777) == 0o640
    assert (tmp_path / f"{EVAL_LOG}.lock").exists()
    with log_lock(log):
        append_row(log, {"job_id": "job-3"})  # reentrant in the holding thread
        probe = subprocess.run(
            [sys.executable, "-c", "import sys; from inherent_limits.core.csv_logs import log_lock\n"
             "with log_lock(sys.argv[1], timeout=0.2): pass", str(log)],
            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "timed out after 0.2 s waiting for the lock" in probe.stderr
    assert [record[0] for record in _records(log)[1:]] == ["job-1", "job-2", "job-3"]


def test_bad_column_names_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="non-empty strings"):
        append_row(tmp_path / EVAL_LOG, {"": 1})
    with pytest.raises(ValueError, match="non-empty strings"):
        append_row(tmp_path / EVAL_LOG, {1: 1})
    assert not (tmp_path / EVAL_LOG).exists()


_WORKER = r"""
import os, sys, time
from inherent_limits.core.csv_logs import EVAL_COLUMNS, append_row
log, k, rows, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
open(f"{go}.ready-{k}", "w").close()
while not os.path.exists(go):
    time.sleep(0.001)
for i in range(rows):
    row = {"job_id": f"job-{k}", "proc": k, "row": i, "accuracy": k + i / 1000,
           f"metric_{k}": f"p{k}r{i}", f"phase_{k}_{i // 10}": i,
           "note": f'p{k}, r{i} "q"\nend'}
    append_row(log, row, leading=EVAL_COLUMNS)
"""


@pytest.mark.parametrize("procs, rows", [(8, 50)])
def test_concurrent_writers_lose_and_misalign_nothing(tmp_path, procs, rows):
    """8 processes x 50 rows; each process brings its own metric columns (and a new column every
    10 rows, forcing rewrites while others append)."""
    log, go = tmp_path / EVAL_LOG, tmp_path / "go"
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, str(log), str(k), str(rows), str(go)],
                                cwd=REPO, stderr=subprocess.PIPE, text=True) for k in range(procs)]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"go.ready-{k}").exists() for k in range(procs)):
        assert time.monotonic() < deadline and all(w.poll() is None for w in workers), "workers did not start"
        time.sleep(0.01)
    go.touch()
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err

    records = _records(log)
    header, body = records[0], records[1:]
    phases = [f"phase_{k}_{p}" for k in range(procs) for p in range((rows + 9) // 10)]
    metrics = [f"metric_{k}" for k in range(procs)]
    assert header[:len(EVAL_COLUMNS)] == list(EVAL_COLUMNS)
    assert sorted(header) == sorted([*EVAL_COLUMNS, "proc", "row", "accuracy", "note", *metrics, *phases])
    assert len(body) == procs * rows and all(len(record) == len(header) for record in body)
    seen = set()
    for record in body:
        cells = dict(zip(header, record))
        k, i = int(cells["proc"]), int(cells["row"])
        seen.add((k, i))
        expected = {"job_id": f"job-{k}", "proc": str(k), "row": str(i), "accuracy": repr(k + i / 1000),
                    f"metric_{k}": f"p{k}r{i}", f"phase_{k}_{i // 10}": str(i), "note": f'p{k}, r{i} "q"\nend'}
        assert {name: value for name, value in cells.items() if value} == expected
    assert seen == {(k, i) for k in range(procs) for i in range(rows)}

    frame = read_log(log)
    assert len(frame) == procs * rows and list(frame.columns) == header
    for k in range(procs):
        mine = frame[frame["proc"] == k]
        assert sorted(mine["row"]) == list(range(rows))
        assert list(mine[f"metric_{k}"]) == [f"p{k}r{i}" for i in mine["row"]]
        assert list(mine["accuracy"]) == [k + i / 1000 for i in mine["row"]]
        others = [name for name in metrics if name != f"metric_{k}"]
        assert mine[others].isna().all().all()
    assert _leftovers(tmp_path, EVAL_LOG) == sorted(["go", *(f"go.ready-{k}" for k in range(procs))])
