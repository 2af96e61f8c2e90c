"""BigBench and GSM8K test-time items: every format, the Gold Pipeline, the Gaelic set, GSM8K options.

The templates are tests/fixtures/bigbench_templates_fixture.json: own wording, laid out as the
reference's templates.json, so the expected texts check how items are assembled.
"""
import json
import random
from pathlib import Path

import pytest

from inherent_limits.core.errors import UserError
from inherent_limits.data.registry import BB_FORMATS, TASKS
from inherent_limits.evaluation.test_sets import bigbench_items
from inherent_limits.prompts.bigbench_format import format_item, gold_pipeline_item

TEMPLATES = json.loads((Path(__file__).parent / "fixtures" / "bigbench_templates_fixture.json").read_text())

RAW = {
    "social_iqa": {"inputs": "Q: Sam lost the keys. What will Sam do?\n  choice: look for them\n  choice: sing\nA:",
                   "targets": ["look for them"], "multiple_choice_targets": ["sing", "look for them"]},
    "strange_stories": {"inputs": 'Context: In the rain Tom says, "Lovely day!"\nQ: Why does Tom say this?\n'
                                  "  choice: He is joking.\n  choice: He likes rain.\nA:",
                        "targets": ["He is joking."], "multiple_choice_targets": ["He likes rain.", "He is joking."]},
    "causal_judgment": {"inputs": 'How would a typical person answer?\n\n\nQ: Jo shouted "stop" and the car stopped. '
                                  "Did Jo cause the stop?\nOptions:\n- Yes\n- No\nA:",
                        "targets": ["Yes"], "multiple_choice_targets": ["Yes", "No"]},
    "gsm8k": {"question": "Ann has 3 apples and buys 4 more. How many apples does she have?",
              "answer": "She has 3 + 4 = <<3+4=7>>7 apples.\n#### 7"},
}
GOLD = {
    "social_iqa": [
        {"inputs": "Q: Kim won the race. How does Kim feel?\n  choice: proud\n  choice: bored\nA:",
         "targets": ["proud"], "multiple_choice_targets": ["proud", "bored"]},
        {"inputs": "Q: Lee spilled tea. What will Lee do next?\n  choice: wipe it up\n  choice: sleep\nA:",
         "targets": ["wipe it up"], "multiple_choice_targets": ["sleep", "wipe it up"]}],
    "strange_stories": [
        {"inputs": 'Context: Mia burns the toast. Her dad says, "Nice and crispy."\nQ: What does he mean?\n'
                   "  choice: He is teasing her.\n  choice: He loves burnt toast.\nA:",
         "targets": ["He is teasing her."], "multiple_choice_targets": ["He is teasing her.", "He loves burnt toast."]},
        {"inputs": "Context: Ben gets a sweater he dislikes and smiles.\nQ: Why does Ben smile?\n"
                   "  choice: To be polite.\n  choice: He is cold.\nA:",
         "targets": ["To be polite."], "multiple_choice_targets": ["He is cold.", "To be polite."]}],
    "causal_judgment": [
        {"inputs": "How would a typical person answer?\n\n\nQ: Max left the gate open and the dog ran off. "
                   "Did Max cause the escape?\nOptions:\n- Yes\n- No\nA:",
         "targets": ["Yes"], "multiple_choice_targets": ["Yes", "No"]},
        {"inputs": "How would a typical person answer?\n\n\nQ: Ava wore red socks and her team won. "
                   "Did the socks cause the win?\nOptions:\n- Yes\n- No\nA:",
         "targets": ["No"], "multiple_choice_targets": ["Yes", "No"]}],
    "gsm8k": [
        {"question": "Bo has 2 bags of 5 pens. How many pens?", "answer": "Bo has 2 * 5 = <<2*5=10>>10 pens.\n#### 10"},
        {"question": "A box has 12 eggs and 3 break. How many are left?",
         "answer": "12 - 3 = <<12-3=9>>9 eggs are left.\n#### 9"}],
}

# (question as every format but bad-prompt shows it, as bad-prompt shows it, quoted options, letters A), (a))
SHOWN = {
    "social_iqa": ("Sam lost the keys. What will Sam do?\n ", "Sam lost the keys. What will Sam do?",
                   '"sing", "look for them"', 'A) "sing", B) "look for them"', '(a) "sing", (b) "look for them"'),
    "strange_stories": ('Context: In the rain Tom says, "Lovely day!"\nWhy does Tom say this?\n ',
                        'Context: In the rain Tom says, "Lovely day!"\nWhy does Tom say this?',
                        '"He likes rain", "He is joking"', 'A) "He likes rain", B) "He is joking"',
                        '(a) "He likes rain", (b) "He is joking"'),
    "causal_judgment": ('How would a typical person answer?\n\n\nQ: Jo shouted "stop" and the car stopped. '
                        "Did Jo cause the stop?\nOptions:\n- Yes\n- No\nA:",
                        'How would a typical person answer?\n\n\nQ: Jo shouted "stop" and the car stopped. '
                        "Did Jo cause the stop?\nOptions:\n- Yes\n- No\nA:",
                        '"Yes", "No"', 'A) "Yes", B) "No"', '(a) "Yes", (b) "No"'),
    "gsm8k": ("Ann has 3 apples and buys 4 more. How many apples does she have?",
              "Ann has 3 apples and buys 4 more. How many apples does she have?",
              '"7", "4", "3"', 'A) "7", B) "4", C) "3"', '(a) "7", (b) "4", (c) "3"'),
}


def pre(task, raw):
    spec = TASKS[task]
    return spec.preprocess(raw, spec)


def expected(task, fmt):
    question, stripped, options, upper, lower = SHOWN[task]
    if fmt.startswith("bad-prompt"):
        n = fmt.rsplit("-", 1)[1]
        return f"Wordy {n}: {stripped} Choose {n}: {options}"
    return {"closed": f"Question: {question}\nPick:\n{options}",
            "closed-adv": f"Question: {question}\nLetters: {upper}",
            "plain": question,
            "adv": f"{question}\n{lower}\nSay None."}[fmt]


@pytest.mark.parametrize("task", list(RAW))
@pytest.mark.parametrize("fmt", BB_FORMATS)
def test_every_format(task, fmt):
    assert format_item(pre(task, RAW[task]), fmt, TASKS[task], TEMPLATES) == expected(task, fmt)


def test_bad_prompt_drops_trailing_spaces_then_newlines():
    row = pre("logical_deduction", {"inputs": "Who is first? \n", "targets": ["Ann"], "multiple_choice_targets": ["Ann", "Bo"]})
    spec = TASKS["logical_deduction"]
    assert format_item(row, "bad-prompt-2", spec, TEMPLATES) == 'Wordy 2: Who is first?  Choose 2: "Ann", "Bo"'
    assert format_item(row, "closed", spec, TEMPLATES) == 'Question: Who is first? \n\nPick:\n"Ann", "Bo"'


def test_tuned_models_see_the_item_inside_their_system_prompt():
    row = pre("social_iqa", RAW["social_iqa"])
    wrapped = format_item(row, "closed", TASKS["social_iqa"], TEMPLATES, TEMPLATES["sys-prompt-bigbench-flan"])
    assert wrapped == f"<SYS-B>{expected('social_iqa', 'closed')}</SYS-B>"


def test_unknown_format_and_missing_template_are_refused():
    row, spec = pre("social_iqa", RAW["social_iqa"]), TASKS["social_iqa"]
    with pytest.raises(UserError, match="bb_test_prompt_format"):
        format_item(row, "open", spec, TEMPLATES)
    with pytest.raises(UserError, match="'bigbench-closed'"):
        format_item(row, "closed", spec, {})


def gold_item(task, fmt, unified=False):
    gold = [pre(task, g) for g in GOLD[task]]
    # random.Random(0).sample(range(2), 2) == [1, 0]: the second gold row is Example 1
    return gold_pipeline_item(pre(task, RAW[task]), gold, 2, random.Random(0), TASKS[task], TEMPLATES, fmt, unified)


GOLD_EXPECTED = {
    ("social_iqa", "closed"):
        'Example 1:\nQuestion 1: Lee spilled tea. What will Lee do next?\nPick:\nOptions 1: "sleep", "wipe it up"\n'
        "Answer 1: wipe it up\n\n"
        'Example 2:\nQuestion 2: Kim won the race. How does Kim feel?\nPick:\nOptions 2: "proud", "bored"\n'
        "Answer 2: proud\n\n"
        'Solution:\nQuestion Solution: Sam lost the keys. What will Sam do?\nPick:\n'
        'Options Solution: "sing", "look for them"\nAnswer Solution:',
    # the reference's examples drop the space before `Options N:` and keep no answer in bad-prompt formats
    ("social_iqa", "bad-prompt-1"):
        'Example 1:\nWordy 1: Lee spilled tea. What will Lee do next? Choose 1:Options 1: "sleep", "wipe it up"\n\n'
        'Example 2:\nWordy 1: Kim won the race. How does Kim feel? Choose 1:Options 2: "proud", "bored"\n\n'
        'Solution:\nWordy 1: Sam lost the keys. What will Sam do? Choose 1: '
        'Options Solution: "sing", "look for them"\nAnswer Solution:',
    # closed-adv (the reference crashes): the item keeps its letters inside `Options Solution:`
    ("social_iqa", "closed-adv"):
        'Example 1:\nQuestion 1: Lee spilled tea. What will Lee do next?\nPick:\nOptions 1: "sleep", "wipe it up"\n'
        "Answer 1: wipe it up\n\n"
        'Example 2:\nQuestion 2: Kim won the race. How does Kim feel?\nPick:\nOptions 2: "proud", "bored"\n'
        "Answer 2: proud\n\n"
        'Solution:\nQuestion Solution: Sam lost the keys. What will Sam do?\nLetters: '
        'Options Solution: A) "sing", B) "look for them"\nAnswer Solution:',
    # strange_stories: only quotes opening a line are options in the examples; the item's speech stays as it is
    ("strange_stories", "closed"):
        'Example 1:\nQuestion 1: Ben gets a sweater he dislikes and smiles.\nWhy does Ben smile?\nPick:\n'
        'Options 1: "He is cold", "To be polite"\nAnswer 1: To be polite.\n\n'
        'Example 2:\nQuestion 2: Mia burns the toast. Her dad says, "Nice and crispy."\nWhat does he mean?\nPick:\n'
        'Options 2: "He is teasing her", "He loves burnt toast"\nAnswer 2: He is teasing her.\n\n'
        'Solution:\nQuestion Solution: Context: In the rain Tom says, "Lovely day!"\nWhy does Tom say this?\nPick:\n'
        'Options Solution: "He likes rain", "He is joking"\nAnswer Solution:',
    # causal_judgment: `Options:` of the raw text is relabelled too, and equal option runs are labelled twice
    ("causal_judgment", "closed"):
        "Example 1:\nQuestion 1: How would a typical person answer?\n\nAva wore red socks and her team won. "
        'Did the socks cause the win?\nOptions 1:\n- Yes\n- No\nA:\nPick:\nOptions 1:Options 2: "Yes", "No"\n'
        "Answer 1: No\n\n"
        "Example 2:\nQuestion 2: How would a typical person answer?\n\nMax left the gate open and the dog ran off. "
        'Did Max cause the escape?\nOptions 2:\n- Yes\n- No\nA:\nPick:\nOptions 1:Options 2: "Yes", "No"\n'
        "Answer 2: Yes\n\n"
        'Solution:\nQuestion Solution: How would a typical person answer?\n\nQ: Jo shouted "stop" and the car '
        'stopped. Did Jo cause the stop?\nOptions:\n- Yes\n- No\nA:\nPick:\nOptions Solution: "Yes", "No"\n'
        "Answer Solution:",
    ("gsm8k", "closed"):
        'Example 1:\nQuestion 1: A box has 12 eggs and 3 break. How many are left?\nPick:\nOptions 1: "12", "3", "9"\n'
        "Answer 1: 9\n\n"
        'Example 2:\nQuestion 2: Bo has 2 bags of 5 pens. How many pens?\nPick:\nOptions 2: "5", "2", "10"\n'
        "Answer 2: 10\n\n"
        "Solution:\nQuestion Solution: Ann has 3 apples and buys 4 more. How many apples does she have?\nPick:\n"
        'Options Solution: "7", "4", "3"\nAnswer Solution:',
}


@pytest.mark.parametrize("task, fmt", list(GOLD_EXPECTED))
def test_gold_pipeline_item(task, fmt):
    assert gold_item(task, fmt) == GOLD_EXPECTED[task, fmt]


def test_gold_pipeline_item_with_unified_labels():
    assert gold_item("gsm8k", "closed", unified=True) == (
        GOLD_EXPECTED["gsm8k", "closed"].replace("Question", "Input 1").replace("Options", "Input 2"))


@pytest.mark.parametrize("fmt, missing", [("plain", "bigbench-plain-samplegen"), ("adv", "bigbench-adv-samplegen")])
def test_gold_pipeline_needs_an_example_template(fmt, missing):
    with pytest.raises(UserError, match=missing):
        gold_item("social_iqa", fmt)


def test_gold_pipeline_needs_the_options_shown():
    templates = dict(TEMPLATES, **{"bigbench-plain-samplegen": TEMPLATES["bigbench-closed-samplegen"]})
    gold = [pre("social_iqa", g) for g in GOLD["social_iqa"]]
    with pytest.raises(UserError, match="does not show the options"):
        gold_pipeline_item(pre("social_iqa", RAW["social_iqa"]), gold, 2, random.Random(0), TASKS["social_iqa"],
                           templates, "plain")


def gaelic(text, options, label):
    spec = TASKS["social_iqa_translated"]
    return spec.preprocess({"text": text, "labels": label, "multiple_choice_targets": options}, spec)


def test_gaelic_set():
    spec = TASKS["social_iqa_translated"]
    row = gaelic("Chaill Sam na h-iuchraichean.\nseinn; lorg iad", ["seinn", "lorg iad"], "lorg iad")
    assert format_item(row, "closed", spec, TEMPLATES) == 'Ceist: Chaill Sam na h-iuchraichean.\nTagh:\n"seinn", "lorg iad"'
    assert (format_item(row, "bad-prompt-3", spec, TEMPLATES)
            == 'Briathrach 3: Chaill Sam na h-iuchraichean. Tagh 3: "seinn", "lorg iad"')
    gold = [gaelic("Bhuannaich Kim an rèis.", ["moiteil", "sgìth"], "moiteil"),
            gaelic("Dhòirt Lee tì.", ["cadal", "sguab e"], "sguab e")]
    assert gold_pipeline_item(row, gold, 2, random.Random(0), spec, TEMPLATES, "closed") == (
        'Eisimpleir 1:\nCeist: Dhòirt Lee tì.\nTagh:\nRoghainnean 1: "cadal", "sguab e"\nFuasgladh Freagairt: sguab e\n\n'
        'Eisimpleir 2:\nCeist: Bhuannaich Kim an rèis.\nTagh:\nRoghainnean 2: "moiteil", "sgìth"\n'
        "Fuasgladh Freagairt: moiteil\n\n"
        'Fuasgladh:\nCeist: Chaill Sam na h-iuchraichean.\nTagh:\nFuasgladh Roghainnean: "seinn", "lorg iad"\n'
        "Fuasgladh Freagairt:")


def test_gaelic_gold_pipeline_never_shows_the_item_its_own_question(tmp_path):
    """With the reference's data the gold and test rows are one file: each item's examples leave it out."""
    bundled = Path(__file__).parents[1] / "inherent_limits" / "data" / "bundled" / "raw" / "social_iqa_translated"
    (tmp_path / "social_iqa_translated").mkdir()
    for split in ("test", "validation"):
        (tmp_path / "social_iqa_translated" / f"{split}.jsonl").write_bytes((bundled / "test.jsonl").read_bytes())
    spec = TASKS["social_iqa_translated"]
    rows = [json.loads(line) for line in (bundled / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    items = bigbench_items(spec, "gold_pipeline", "closed", TEMPLATES, None, 0, str(tmp_path), None,
                           len(rows) - 1, False)
    assert len(items) == len(rows)
    for item in items:
        question = item.text.split("Fuasgladh:\nCeist: ")[1].split("\n")[0]
        assert item.text.count(question) == 1
    row = gaelic("Chaill Sam na h-iuchraichean.", ["seinn", "lorg iad"], "lorg iad")
    with pytest.raises(UserError, match="1 gold rows other than the item to draw 2"):
        gold_pipeline_item(row, [row, gaelic("Dhòirt Lee tì.", ["cadal", "sguab e"], "sguab e")], 2,
                           random.Random(0), spec, TEMPLATES, "closed")


def test_gsm8k_options_follow_the_rule_and_are_seeded_per_item():
    first = pre("gsm8k", RAW["gsm8k"])
    assert first["options"] == ["7", "4", "3"]
    assert pre("gsm8k", RAW["gsm8k"])["options"] == first["options"]
    # the same explanation under another question: its own draw (the answer, then up to three other numbers)
    other = pre("gsm8k", dict(RAW["gsm8k"], question="Ann has 3 pears and buys 4 more. How many pears?"))
    assert other["options"] == ["4", "7", "3"]
    many = pre("gsm8k", {"question": "Q", "answer": "1 + 2 + 3 + 4 + 5 = <<1+2+3+4+5=15>>15, 15 + 15 = 30\n#### 30"})
    assert many["options"].count("30") == 1 and len(many["options"]) == 4
    assert set(many["options"]) - {"30"} <= {"1", "2", "3", "4", "5", "15"}


def test_bigbench_items_rerun_gives_the_same_gsm8k_options():
    def items():
        return bigbench_items(TASKS["gsm8k"], "base_zero_shot", "closed", TEMPLATES, 5, 3, "bundled", "bundled", 2, False)
    first, again = items(), items()
    assert [i.text for i in first] == [i.text for i in again] and len({i.text for i in first}) == 5
    assert all(i.target in i.options and len(set(i.options)) == len(i.options) for i in first)
    gold = bigbench_items(TASKS["gsm8k"], "gold_pipeline", "closed", TEMPLATES, 5, 3, "bundled", "bundled", 2, False)
    # the Gold Pipeline sees the same items with the same options
    assert [g.text.rsplit("\nPick:\nOptions Solution: ", 1)[1] for g in gold] == [
        i.text.split("\nPick:\n")[1] + "\nAnswer Solution:" for i in first]
