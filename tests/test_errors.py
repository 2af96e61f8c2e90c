"""Bad input: one clear line on stderr, a non-zero exit, nothing written."""
import dataclasses
import json
import time

import pytest

from inherent_limits.core.errors import UserError
from inherent_limits.data import registry
from inherent_limits.data.loading import canonical_rows, load_task, read_raw


def _fails_cleanly(cli, args, root, expect):
    out = cli(["-m", "inherent_limits.demo", "--root", str(root), *args])
    lines = [l for l in out.stderr.splitlines() if l.strip()]
    assert out.returncode == 2, out.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    for text in expect:
        assert text in lines[0], lines[0]
    assert not (root / "data").exists() or not any((root / "data").rglob("*.arrow"))
    return lines[0]


def test_unknown_task_suggests_names(cli, tmp_path):
    _fails_cleanly(cli, ["--tasks", "wmt16/ro-em"], tmp_path, ["unknown task 'wmt16/ro-em'", "wmt16/ro-en"])


def test_missing_local_file_names_the_path(cli, tmp_path):
    data = tmp_path / "raw"
    data.mkdir()
    _fails_cleanly(cli, ["--tasks", "wmt16/ro-en", "--data_dir", str(data)], tmp_path / "out",
                   [str(data / "wmt16" / "ro-en" / "train.jsonl")])


def test_malformed_jsonl_names_file_and_line(cli, tmp_path):
    folder = tmp_path / "raw" / "rte"
    folder.mkdir(parents=True)
    good = json.dumps({"sentence1": "a", "sentence2": "b", "label": 0, "idx": 0})
    (folder / "train.jsonl").write_text(good + "\n" + good + "\n{not json\n")
    _fails_cleanly(cli, ["--tasks", "rte", "--data_dir", str(tmp_path / "raw")], tmp_path / "out",
                   [str(folder / "train.jsonl") + ":3", "malformed JSON"])


def test_missing_required_column_names_task_and_column(cli, tmp_path):
    folder = tmp_path / "raw" / "rte"
    folder.mkdir(parents=True)
    (folder / "train.jsonl").write_text(json.dumps({"sentence1": "a", "label": 0, "idx": 0}) + "\n")
    _fails_cleanly(cli, ["--tasks", "rte", "--data_dir", str(tmp_path / "raw")], tmp_path / "out",
                   ["task rte", "'sentence2'"])


def test_missing_manual_download_says_what_and_where(cli, tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    _fails_cleanly(cli, ["--tasks", "story_cloze", "--manual_dir", str(manual)], tmp_path / "out",
                   ["story_cloze", str(manual / "story_cloze" / "cloze_test_spring2016.tsv"), "rochester"])


def test_bad_label_value_is_reported_with_row():
    spec = registry.TASKS["rte"]
    with pytest.raises(UserError, match=r"task rte: row 2 of f.jsonl"):
        canonical_rows(spec, "f.jsonl", [(1, {"sentence1": "a", "sentence2": "b", "label": 0}),
                                         (2, {"sentence1": "a", "sentence2": "b", "label": 7})])


def test_hub_offline_fails_fast_with_the_alternative():
    start = time.time()
    with pytest.raises(UserError) as err:
        load_task("anli_r2", "test")
    assert time.time() - start < 30
    message = str(err.value)
    assert "anli" in message and "'test_r2'" in message and "--data_dir" in message


def test_hub_path_streams_a_hub_style_dataset(tmp_path):
    """The hub branch is real: load_dataset (streaming) on a folder laid out like a hub repo."""
    repo = tmp_path / "repo"
    repo.mkdir()
    rows = [{"premise": f"p{i}", "hypothesis": f"h{i}", "label": i % 3} for i in range(5)]
    (repo / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = dataclasses.replace(registry.TASKS["snli"], hub_path=str(repo))
    source, numbered = read_raw(spec, "train", data_dir=None, manual_dir=None)
    out = canonical_rows(spec, source, numbered)
    assert source.startswith("hub:") and [r["label"] for r in out][:3] == list(registry.NLI3)
