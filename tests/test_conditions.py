"""Conditions from the reference's flags, and the test items each condition sees."""
import random

import pytest

from inherent_limits.core.errors import UserError
from inherent_limits.evaluation.test_sets import (
    condition_of,
    cut_after_answer,
    example_block,
    gold_examples,
    remove_instructions,
    renumber,
    sample_indices,
)

TRAIN_TEXT = ("<s>[INST] <<SYS>>\nsolve\n<</SYS>>\n\nPremise: p\nHypothesis: h[/INST]\n\n"
              "Example 1:\nPremise 1: a\nHypothesis 1: b\nAnswer 1: yes\n\n"
              "Example 2:\nPremise 2: c\nHypothesis 2: d\nAnswer 2: no\n\n"
              "Solution:\nPremise Solution: p\nHypothesis Solution: h\nAnswer Solution: no\nEND_EXAMPLES\n</s>")


@pytest.mark.parametrize("flags, condition", [
    (("base", False, None, "flan_prompts"), "base_zero_shot"),
    (("base", True, "train_data", "flan_prompts"), "gold_pipeline"),
    (("base", True, "model", "flan_prompts"), "samplegen_pipeline"),
    (("20241022_233143", False, None, "flan_prompts"), "flan_direct"),
    (("20241022_233143", False, None, "mix_prompts"), "samplegen_direct"),
])
def test_condition_of_reference_flags(flags, condition):
    assert condition_of(*flags) == condition


@pytest.mark.parametrize("flags, message", [
    (("base", True, None, None), "--sample_source"),
    (("run1", True, "model", "mix_prompts"), "--run_name base"),
    (("run1", False, None, None), "--test_prompt_format"),
])
def test_condition_errors(flags, message):
    with pytest.raises(UserError, match=message):
        condition_of(*flags)


def test_remove_instructions_leaves_the_item():
    text = "<s>[INST] <<SYS>>\nDo it.\n<</SYS>>\n\nPremise: p\nOptions: yes; no[/INST]"
    assert remove_instructions(text) == "\nPremise: p\nOptions: yes; no"


def test_gold_examples_from_training_text():
    block = example_block(TRAIN_TEXT)
    assert block.startswith("Example 1:\nPremise 1: a") and block.endswith("Answer 2: no")
    assert "Solution" not in block and "[INST]" not in block
    assert renumber("Example 1:\nPremise 1: a 1: b\nAnswer 1: yes", 3) == "Example 3:\nPremise 3: a 1: b\nAnswer 3: yes"
    two = gold_examples([TRAIN_TEXT, TRAIN_TEXT.replace("a\n", "z\n")], random.Random(0), 2)
    assert two.count("Example 1:") == 1 and two.count("Example 2:") == 1 and "Answer 2: yes" in two


def test_cut_after_first_answer_solution():
    response = "\nExample 1:\nQ 1: x\nAnswer 1: y\n\nSolution:\nQ Solution: z\nAnswer Solution: w\nEND"
    assert cut_after_answer(response).endswith("Q Solution: z\nAnswer Solution:")
    assert cut_after_answer("no marker") == "no marker"


def test_sample_indices_seeded_and_bounded():
    assert sample_indices(10, 4, 1) == sample_indices(10, 4, 1)
    assert sorted(sample_indices(3, 99, 1)) == [0, 1, 2]
    with pytest.raises(UserError, match="empty"):
        sample_indices(0, 5, 1)
    with pytest.raises(UserError, match="at least one"):
        sample_indices(10, 0, 1)
