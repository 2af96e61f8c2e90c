"""Mixing rates, the setups' task sets, and a real mixture built from bundled-data datasets."""
import json

import pytest
from datasets import load_from_disk
from reference_facts import REFERENCE_DEFAULT_MIXTURE, REFERENCE_SETUP_SIZES

from inherent_limits.core.errors import UserError
from inherent_limits.data import registry
from inherent_limits.prompts.builder import PromptBuilder
from inherent_limits.prompts.mixtures import make_mixture, mixing_rates, source_summary
from inherent_limits.prompts.task_datasets import BuildRequest, build_task


def test_rates_follow_the_formula():
    assert mixing_rates([5000, 1000, 3000]) == pytest.approx([3 / 7, 1 / 7, 3 / 7])
    assert sum(mixing_rates([10, 20, 30], temperature=2.0)) == pytest.approx(1.0)


def test_setups_yield_the_reference_task_sets():
    assert registry.mixture_tasks("default") == REFERENCE_DEFAULT_MIXTURE
    assert {s: len(registry.mixture_tasks(s)) for s in REFERENCE_SETUP_SIZES} == REFERENCE_SETUP_SIZES
    assert registry.mixture_tasks("setup4") == ["mnli"]
    assert "dpr_raw" in registry.mixture_tasks("setup7") and "winogrande" not in registry.mixture_tasks("setup6")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix")
    request = BuildRequest(custom=False, dataset_type="train+val", num_data=8, data_dir="bundled",
                           manual_dir="bundled")
    builder = PromptBuilder.from_files()
    for task in registry.mixture_tasks("setup1"):
        build_task(task, root, request, builder)
    return root


def test_mixture_is_built_seeded_and_split(root):
    path, rates = make_mixture(root, "flan_prompts", "1", num_datapoints=8)
    assert path == root / "data" / "flan_prompts_mixture_setup1"
    assert [t for t, _ in rates] == registry.mixture_tasks("setup1")
    assert sum(r for _, r in rates) == pytest.approx(1.0)
    mixed = load_from_disk(str(path))
    assert sorted(mixed) == ["test", "train"] and len(mixed["test"]) >= 1
    sources = json.loads((path / "build_info.json").read_text())["data_sources"]
    assert sources == {t: "bundled" for t in registry.mixture_tasks("setup1")}
    assert source_summary(path) == f"bundled ({len(sources)} tasks)"
    again, _ = make_mixture(root, "flan_prompts", "setup1", num_datapoints=8, overwrite=True)
    assert load_from_disk(str(again))["train"]["text"] == mixed["train"]["text"]


def test_missing_inputs_and_empty_setups_are_user_errors(root):
    with pytest.raises(UserError, match="create_prompts.py --num_datapoints 8 --create_custom_prompts True"):
        make_mixture(root, "mix_prompts", "setup1", num_datapoints=8)
    with pytest.raises(UserError, match=r"30000/train not found \(--num_datapoints 30000\); \w+ is built with "
                                        r"--num_datapoints 8: pass --num_datapoints 8 to mix those"):
        make_mixture(root, "flan_prompts", "setup1", overwrite=True)   # the default 30000 after 8-row datasets
    with pytest.raises(UserError, match="selects no task"):
        make_mixture(root, "flan_prompts", "setup3", num_datapoints=8)
    with pytest.raises(UserError, match="unknown mixture setup"):
        make_mixture(root, "flan_prompts", "setup9", num_datapoints=8)
