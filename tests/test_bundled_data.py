"""Every registered task loads from the bundled data into valid canonical rows."""
import pytest

from inherent_limits.data import registry
from inherent_limits.data.loading import load_task, split_halves

ROLES = {"train": 16, "test": 8}
TEST_ONLY = set(registry.TEST_TASKS) - set(registry.TRAIN_TASKS)  # mnli_matched, mnli_mismatched


def _load(task, role):
    return load_task(task, role, data_dir="bundled", manual_dir="bundled")


@pytest.mark.parametrize("task", list(registry.TASKS))
def test_task_loads_with_valid_labels(task):
    spec = registry.TASKS[task]
    for role, minimum in ROLES.items():
        minimum = ROLES["test"] if task in TEST_ONLY else minimum
        data = _load(task, role)
        assert len(data) >= minimum, f"{task}/{role}: {len(data)} rows"
        for column in (*spec.input_fields, "options", "options_text", "label", "references"):
            assert column in data.column_names, f"{task}: no column {column}"
        for row in data:
            assert isinstance(row["label"], str) and row["label"].strip(), row
            assert row["label"] in row["references"]
            for name in spec.input_fields:
                assert isinstance(row[name], str), (name, row)
            for name in spec.target_fields:
                assert str(row[name]).strip(), (name, row)
            if spec.label_names:
                assert row["options"] == list(spec.label_names)
            if row["options"]:
                assert row["label"] in row["options"], row
                assert row["options_text"]
        if spec.label_names and role == "train":
            assert len({r["label"] for r in data}) >= 2, f"{task}: one class only"


def test_loading_is_deterministic():
    a, b = _load("record", "train"), _load("record", "train")
    assert a.to_list() == b.to_list()
    g1, g2 = _load("gsm8k", "test"), _load("gsm8k", "test")
    assert g1["options"] == g2["options"]


def test_halves_are_disjoint_and_seeded():
    data = _load("anli_r1", "train").to_list()
    first, second = split_halves(data)
    assert len(first) + len(second) == len(data) and abs(len(first) - len(second)) <= 1
    assert not {r["hypothesis"] for r in first} & {r["hypothesis"] for r in second}
    again, _ = split_halves(data)
    assert first == again


def test_tracking_objects_filtered_by_option_count():
    for task, n in (("tracking_shuffled_objects/three", 3), ("tracking_shuffled_objects/five", 5),
                    ("tracking_shuffled_objects/seven", 7)):
        data = _load(task, "test")
        assert {len(o) for o in data["options"]} == {n}


def test_snli_drops_unlabelled_rows():
    from inherent_limits.data.loading import BUNDLED_RAW, read_jsonl
    raw = [r for _, r in read_jsonl(BUNDLED_RAW / "snli" / "train.jsonl")]
    assert any(r["label"] == -1 for r in raw)
    assert len(_load("snli", "train")) == sum(r["label"] != -1 for r in raw)
