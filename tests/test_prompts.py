"""Prompt assembly: exact texts with user-supplied template files, and the built datasets."""
import random
from pathlib import Path

import pytest
from datasets import load_from_disk

from inherent_limits.data.loading import load_task_rows, split_halves
from inherent_limits.data.registry import TASKS
from inherent_limits.prompts.builder import PromptBuilder, Variant
from inherent_limits.prompts.task_datasets import BuildRequest, build_rows, build_task, num_datapoints

FIXTURES = Path(__file__).parent / "fixtures"
RAW = {
    "rte": {"sentence1": "A cat sat.", "sentence2": "An animal sat.", "label": 0, "idx": 0},
    "arc": {"id": "x", "question": "Which is a mammal?", "answerKey": "B",
            "choices": {"text": ["Shark", "Whale", "Trout"], "label": ["A", "B", "C"]}},
    "squad": {"id": "1", "title": "Moon", "context": "The Moon orbits Earth.", "question": "What orbits Earth?",
              "answers": {"text": ["The Moon"], "answer_start": [0]}},
    "wmt16/de-en": {"translation": {"de": "Guten Morgen.", "en": "Good morning."}},
    "coqa": {"source": "s", "story": "Ann has a dog.", "questions": ["Who has a dog?", "What pet?"],
             "answers": {"input_text": ["Ann", "a dog"], "answer_start": [0, 8], "answer_end": [3, 13]}},
    "record": {"passage": "Ann met Bo in Rome.", "query": "@placeholder was happy.", "entities": ["Ann", "Bo", "Rome"],
               "entity_spans": {"text": [], "start": [], "end": []}, "answers": ["Bo"],
               "idx": {"passage": 0, "query": 0}},
}
# Expected texts derived by hand from the reference's assembly rules, for pinned template 0.
REGULAR_INPUT = {
    "rte": ("P: A cat sat.\nH: An animal sat.\nEntailed? yes; no", "yes"),
    "arc": ("Which is a mammal?\nChoices: Shark; Whale; Trout", "Whale"),
    "squad": ("Title: Moon\nThe Moon orbits Earth.\nQ: What orbits Earth?", "The Moon"),
    "wmt16/de-en": ("German to English: Guten Morgen.", "Good morning."),
    "coqa": ("Ann has a dog.\n\nAnswer these: 1. Who has a dog? 2. What pet?", "1. Ann 2. a dog"),
    "record": ("Ann met Bo in Rome.\n@placeholder was happy.\nPick: Ann was happy.; Bo was happy.; Rome was happy.",
               "Bo was happy."),
}
GOLD_PIPELINE = {
    "rte": "\nPremise Solution: A cat sat.\nHypothesis Solution: An animal sat.\nOptions Solution: yes; no\n",
    "arc": "\nQuestion Solution: Which is a mammal?\nOptions Solution: Shark; Whale; Trout\n",
    "squad": "\nTitle Solution: Moon\nContext Solution: The Moon orbits Earth.\nQuestion Solution: What orbits Earth?\n",
    "wmt16/de-en": "\nLang1 Solution: German\nLang2 Solution: English\nSent1 Solution: Guten Morgen.\n",
    "coqa": "\nText Solution: Ann has a dog.\nNumbered_questions Solution: 1. Who has a dog? 2. What pet?\n",
    "record": ("\nPassage Solution: Ann met Bo in Rome.\nQuery Solution: @placeholder was happy.\n"
               "Options Solution: Ann was happy.; Bo was happy.; Rome was happy.\n"),
}


def builder(**variant):
    return PromptBuilder.from_files(FIXTURES / "flan_fixture.py", FIXTURES / "templates_fixture.json",
                                    Variant(template_index=0, **variant))


def canonical(task):
    spec = TASKS[task]
    return spec, spec.preprocess(RAW[task], spec)


@pytest.mark.parametrize("task", list(RAW))
def test_regular_and_gold_pipeline_texts_are_exact(task):
    spec, row = canonical(task)
    rng = random.Random(0)
    source, label = REGULAR_INPUT[task]
    assert builder().regular(spec, row, rng, test=False) == (
        f"<SYS-F>{source}</SYS-F>\nAnswer Solution: {label}</s>", label)
    assert builder().regular(spec, row, rng, test=True) == (f"<SYS-F>{source}</SYS-F>", label)
    assert builder().gold_pipeline(spec, row, rng) == (GOLD_PIPELINE[task] + "Answer Solution: ", label)


def test_letter_answers_and_unified_labels():
    spec, row = canonical("arc")
    text, label = builder(convert_letter_choices=False).regular(spec, row, random.Random(0), test=False)
    assert label == "B" and text.endswith("Answer Solution: B</s>")
    spec, row = canonical("rte")
    assert builder(unify=True).gold_pipeline(spec, row, random.Random(0))[0] == (
        "\nInput 1 Solution: A cat sat.\nInput 2 Solution: An animal sat.\nInput 3 Solution: yes; no\n"
        "Answer Solution: ")


def test_samplegen_text_is_exact():
    spec, row = canonical("rte")
    other = spec.preprocess({"sentence1": "X.", "sentence2": "Y.", "label": 1, "idx": 1}, spec)
    text, label = builder().samplegen(spec, row, [(spec, other)], random.Random(0))
    assert text == ("<SYS-G>P: A cat sat.\nH: An animal sat.\nEntailed? yes; no</SYS-G>\n"
                    "\nExample 1:\nPremise 1: X.\nHypothesis 1: Y.\nOptions 1: yes; no\nAnswer 1: no\n"
                    "\nSolution:\nPremise Solution: A cat sat.\nHypothesis Solution: An animal sat.\n"
                    "Options Solution: yes; no\nAnswer Solution: yes\nEND_EXAMPLES\n</s>")
    corrupt, _ = builder(corrupt=True).samplegen(spec, row, [(spec, other)], random.Random(0))
    assert "\nExample 1:\n(blank)\nAnswer 1: \n(blank)\n" in corrupt and "Premise Solution: None" in corrupt
    no_answer, _ = builder(no_answer=True).samplegen(spec, row, [(spec, other)], random.Random(0))
    assert no_answer.endswith("Answer Solution: \nEND_EXAMPLES\n</s>")


def test_translation_target_follows_the_template():
    spec, row = canonical("wmt16/de-en")
    pinned = PromptBuilder.from_files(FIXTURES / "flan_fixture.py", FIXTURES / "templates_fixture.json",
                                      Variant(template_index=1))
    text, label = pinned.regular(spec, row, random.Random(0), test=True)
    assert (text, label) == ("<SYS-F>Good morning. (English) in German?</SYS-F>", "Guten Morgen.")
    assert "Sent2 Solution: Good morning." in pinned.gold_pipeline(spec, row, random.Random(0))[0]


def test_validation_split_arithmetic():
    assert [num_datapoints(n) for n in (10, 100, 30000)] == [13, 125, 37500]


SHAPES = ["rte", "arc", "squad", "wmt16/ro-en", "coqa", "record", "opin_movie"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    b = PromptBuilder.from_files()
    common = dict(num_data=8, data_dir="bundled", manual_dir="bundled")
    kinds = {"flan": BuildRequest(custom=False, dataset_type="train+val", **common),
             "mix": BuildRequest(custom=True, dataset_type="train+val", **common),
             "flan_test": BuildRequest(custom=False, dataset_type="test", **common),
             "mix_test": BuildRequest(custom=True, dataset_type="test", **common),
             "gold": BuildRequest(custom=True, dataset_type="test", gold_pipeline=True, **common)}
    return {(kind, task): load_from_disk(str(build_task(task, root, request, b)))
            for kind, request in kinds.items() for task in SHAPES}


@pytest.mark.parametrize("task", SHAPES)
def test_built_datasets_carry_the_protocol_markers(built, task):
    flan, mix = built[("flan", task)], built[("mix", task)]
    assert sorted(flan) == ["test", "train"] and len(flan["train"]) + len(flan["test"]) == num_datapoints(8)
    for row in flan["train"]:
        assert row["text"].endswith(f"Answer Solution: {row['labels']}</s>")
    for row in mix["train"]:
        text = row["text"]
        assert "Example 1:" in text and "Example 2:" in text and "Example 3:" not in text
        assert "\nSolution:" in text and text.endswith("END_EXAMPLES\n</s>")
        assert f"Answer Solution: {row['labels']}\nEND_EXAMPLES" in text
    for row in built[("gold", task)]:
        assert row["text"].endswith("Answer Solution: ") and "Example" not in row["text"]
    for row in built[("mix_test", task)]:
        assert "Answer Solution:" not in row["text"].split("<</SYS>>")[-1]
    for kind in ("flan_test", "mix_test", "gold"):
        for row in built[(kind, task)]:
            if row["gold_options"] != [""]:
                assert row["labels"] in row["gold_options"]


def test_opinion_target_never_leaks_into_components(built):
    for row in built[("gold", "opin_movie")]:
        assert "Critic_consensus" not in row["text"]


def test_samplegen_examples_come_from_the_other_half():
    spec = TASKS["anli_r1"]
    rows = load_task_rows("anli_r1", data_dir="bundled")
    first, second = split_halves(rows)
    request = BuildRequest(custom=True, dataset_type="train+val", num_data=8, data_dir="bundled")
    columns = build_rows(spec, request, PromptBuilder.from_files())
    own = {r["hypothesis"] for r in first}
    other = {r["hypothesis"] for r in second}
    for text in columns["text"]:
        examples = [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Hypothesis ")
                    and not line.startswith("Hypothesis Solution")]
        main = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Hypothesis Solution"))
        assert main in own and examples and all(e in other for e in examples)


def test_same_seed_same_datasets_and_other_seed_differs():
    spec = TASKS["anli_r1"]
    request = BuildRequest(custom=True, dataset_type="train+val", num_data=8, data_dir="bundled")
    a = build_rows(spec, request, PromptBuilder.from_files())
    assert a == build_rows(spec, request, PromptBuilder.from_files())
    other = BuildRequest(custom=True, dataset_type="train+val", num_data=8, data_dir="bundled", seed=7)
    assert a != build_rows(spec, other, PromptBuilder.from_files())


def test_relevance_examples_come_from_another_cluster_of_the_same_category():
    from inherent_limits.data.registry import category_of, cluster_of
    from inherent_limits.prompts.task_datasets import relevance_task
    for seed in range(20):
        other = relevance_task(TASKS["rte"], random.Random(seed))
        assert cluster_of(other) != "nli" and category_of(cluster_of(other)) == "nlu"
    request = BuildRequest(custom=True, dataset_type="train+val", relevance=True, num_data=8,
                           data_dir="bundled", manual_dir="bundled")
    texts = build_rows(TASKS["wmt16/ro-en"], request, PromptBuilder.from_files())["text"]
    assert texts and all("Example 2:" in t and "\nLang1 1:" not in t for t in texts)
