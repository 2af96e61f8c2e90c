"""The task registry against the reference's facts."""
import subprocess
import sys

import pytest

from inherent_limits import config
from inherent_limits.errors import UserError
from reference_facts import (REFERENCE_CLUSTER_SIZES, REFERENCE_SOURCES, REFERENCE_TEST_TASKS,
                             TEST_SPLIT_FIXES, TRAIN_SPLIT_FIXES)


def test_task_lists_match_the_reference():
    assert len(config.TRAIN_TASKS) == 65
    assert "newsroom" in config.TRAIN_TASKS and config.cluster_of("newsroom") is None
    assert list(config.TEST_TASKS) == REFERENCE_TEST_TASKS
    assert {c: len(t) for c, t in config.TASK_CLUSTERS.items()} == REFERENCE_CLUSTER_SIZES
    assert sorted(config.CLUSTER_CATEGORIES) == ["nlg", "nlu"]
    assert sorted(c for cs in config.CLUSTER_CATEGORIES.values() for c in cs) == sorted(config.TASK_CLUSTERS)
    assert len(config.BIGBENCH_TASKS) == 8
    assert config.OTHER_TASKS == ("gsm8k",) and config.TRANSLATED_TASKS == ("social_iqa_translated",)
    every = set(config.TRAIN_TASKS) | set(config.TEST_TASKS) | set(config.BIGBENCH_TASKS) | {
        "gsm8k", "social_iqa_translated"}
    assert every == set(config.TASKS)


@pytest.mark.parametrize("task", sorted(REFERENCE_SOURCES))
def test_hub_source_and_splits_match_the_reference(task):
    spec = config.TASKS[task]
    path, name, train_split, test_split = REFERENCE_SOURCES[task]
    assert (spec.hub_path, spec.hub_name) == (path, name)
    if task == "social_iqa_translated":
        assert spec.manual is not None
        return
    assert spec.train_split == TRAIN_SPLIT_FIXES.get(task, train_split)
    assert spec.test_split == TEST_SPLIT_FIXES.get(task, test_split)
    assert (spec.manual is not None) == (path is None)


def test_split_fixes_only_where_the_reference_is_wrong():
    for task, split in TEST_SPLIT_FIXES.items():
        assert REFERENCE_SOURCES[task][3] != split


def test_entries_are_consistent():
    for spec in config.TASKS.values():
        assert spec.fields, spec.name
        assert set(spec.target_fields) <= set(spec.fields) | {"label"}, spec.name
        assert spec.metrics
        if spec.label_names:
            assert len(set(spec.label_names)) == len(spec.label_names)


def test_mixture_setups_are_data():
    default = config.mixture_tasks("default")
    assert not set(default) & set(config.ALWAYS_HELD_OUT)
    assert not set(default) & set(config.TASK_CLUSTERS["misc"] + config.TASK_CLUSTERS["summarization_nlg"])
    assert config.mixture_tasks("setup4") == ["mnli"]
    assert set(config.mixture_tasks("setup1")) <= {
        t for c in config.CLUSTER_CATEGORIES["nlg"] for t in config.TASK_CLUSTERS[c]}
    assert sorted(config.MIXTURE_SETUPS) == ["default"] + [f"setup{i}" for i in range(1, 8)]


def test_cluster_and_category_lookups():
    assert (config.cluster_of("wic"), config.category_of("misc")) == ("misc", "nlu")
    assert config.category_of(config.cluster_of("dart")) == "nlg"
    assert [config.group_of(t) for t in ("gsm8k", "social_iqa", "mnli_matched")] == ["other", "bigbench", "other"]


def test_unknown_task_suggests_close_names():
    with pytest.raises(UserError, match="anli_r1"):
        config.get_task("anli_r4")
    assert config.resolve_tasks(["coreference", "rte"]) == ["dpr_raw", "winogrande", "wsc273", "rte"]


def test_import_has_no_side_effects():
    code = ("import sys; sys.argv = ['x', '--definitely-not-a-flag'];"
            "import inherent_limits.config, inherent_limits.data_utils, inherent_limits.preprocess;"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
