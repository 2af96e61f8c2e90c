"""The task registry against the reference's facts."""
import subprocess
import sys

import pytest
from reference_facts import (
    REFERENCE_CLUSTER_SIZES,
    REFERENCE_SOURCES,
    REFERENCE_TEST_TASKS,
    TEST_SPLIT_FIXES,
    TRAIN_SPLIT_FIXES,
)

from inherent_limits.core.errors import UserError
from inherent_limits.data import registry


def test_task_lists_match_the_reference():
    assert len(registry.TRAIN_TASKS) == 65
    assert "newsroom" in registry.TRAIN_TASKS and registry.cluster_of("newsroom") is None
    assert list(registry.TEST_TASKS) == REFERENCE_TEST_TASKS
    assert {c: len(t) for c, t in registry.TASK_CLUSTERS.items()} == REFERENCE_CLUSTER_SIZES
    assert sorted(registry.CLUSTER_CATEGORIES) == ["nlg", "nlu"]
    assert sorted(c for cs in registry.CLUSTER_CATEGORIES.values() for c in cs) == sorted(registry.TASK_CLUSTERS)
    assert len(registry.BIGBENCH_TASKS) == 8
    assert registry.OTHER_TASKS == ("gsm8k",) and registry.TRANSLATED_TASKS == ("social_iqa_translated",)
    every = set(registry.TRAIN_TASKS) | set(registry.TEST_TASKS) | set(registry.BIGBENCH_TASKS) | {
        "gsm8k", "social_iqa_translated"}
    assert every == set(registry.TASKS)


@pytest.mark.parametrize("task", sorted(REFERENCE_SOURCES))
def test_hub_source_and_splits_match_the_reference(task):
    spec = registry.TASKS[task]
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
    for spec in registry.TASKS.values():
        assert spec.fields, spec.name
        assert set(spec.target_fields) <= set(spec.fields) | {"label"}, spec.name
        assert spec.metrics
        if spec.label_names:
            assert len(set(spec.label_names)) == len(spec.label_names)


def test_mixture_setups_are_data():
    default = registry.mixture_tasks("default")
    assert not set(default) & set(registry.ALWAYS_HELD_OUT)
    assert not set(default) & set(registry.TASK_CLUSTERS["misc"] + registry.TASK_CLUSTERS["summarization_nlg"])
    assert registry.mixture_tasks("setup4") == ["mnli"]
    assert set(registry.mixture_tasks("setup1")) <= {
        t for c in registry.CLUSTER_CATEGORIES["nlg"] for t in registry.TASK_CLUSTERS[c]}
    assert sorted(registry.MIXTURE_SETUPS) == ["default"] + [f"setup{i}" for i in range(1, 8)]


def test_cluster_and_category_lookups():
    assert (registry.cluster_of("wic"), registry.category_of("misc")) == ("misc", "nlu")
    assert registry.category_of(registry.cluster_of("dart")) == "nlg"
    assert [registry.group_of(t) for t in ("gsm8k", "social_iqa", "mnli_matched")] == ["other", "bigbench", "other"]


def test_unknown_task_suggests_close_names():
    with pytest.raises(UserError, match="anli_r1"):
        registry.get_task("anli_r4")
    assert registry.resolve_tasks(["coreference", "rte"]) == ["dpr_raw", "winogrande", "wsc273", "rte"]


def test_import_has_no_side_effects():
    code = ("import sys; sys.argv = ['x', '--definitely-not-a-flag'];"
            "import inherent_limits.data.registry, inherent_limits.data.loading, inherent_limits.data.preprocess;"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
