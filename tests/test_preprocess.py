"""Preprocessing of hand-written raw rows in the hub's schema: exact canonical values."""
from inherent_limits.data.registry import TASKS


def pre(task, row):
    spec = TASKS[task]
    return spec.preprocess(row, spec)


def test_nli_label_mapping_and_renames():
    row = pre("anli_r1", {"uid": "u", "premise": "P.", "hypothesis": "H.", "label": 1, "reason": ""})
    assert (row["context"], row["label"]) == ("P.", "It's impossible to say")
    assert row["options_text"] == "Yes; It's impossible to say; No"
    assert pre("rte", {"sentence1": "a", "sentence2": "b", "label": 1, "idx": 0})["label"] == "no"
    assert pre("snli", {"premise": "a", "hypothesis": "b", "label": -1}) is None
    assert pre("cb", {"premise": "a", "hypothesis": "b", "idx": 0, "label": 2})["label"] == "it's impossible to say"


def test_quoting_as_the_reference():
    row = pre("qnli", {"question": "Who?", "sentence": "Him.", "label": 0, "idx": 0})
    assert (row["question"], row["sentence"], row["label"]) == ('"Who?"', '"Him."', "yes")
    assert pre("trec", {"text": "Why?", "coarse_label": 2, "fine_label": 24})["text"] == '"Why?"'


def test_wic_same_sense_is_true():
    row = {"word": "bank", "sentence1": "a", "sentence2": "b", "start1": 0, "start2": 0, "end1": 1,
           "end2": 1, "idx": 0}
    assert pre("wic", dict(row, label=1))["label"] == "True"
    assert pre("wic", dict(row, label=0))["label"] == "False"


def test_class_offsets_and_special_labels():
    assert pre("ag_news", {"label": 4, "title": "t", "description": "d"})["label"] == "Sci/Tech"
    assert pre("winogrande", {"sentence": "_ won.", "option1": "A", "option2": "B", "answer": "2"})["label"] == "B"
    assert pre("sentiment140", {"text": "x", "date": "", "user": "", "sentiment": 4, "query": ""})["label"] == "positive"
    assert pre("stsb", {"sentence1": "a", "sentence2": "b", "label": 3.8, "idx": 0})["label"] == "3"
    assert pre("bool_q", {"question": "q", "answer": False, "passage": "p"})["label"] == "False"


def test_letter_choices_keep_key_and_text():
    row = pre("arc", {"id": "x", "question": "Q?", "choices": {"text": ["a", "b", "c"], "label": ["1", "2", "3"]},
                      "answerKey": "3"})
    assert (row["label"], row["answer_key"], row["answer_letter"]) == ("c", "3", "C")
    obqa = pre("openbookqa", {"id": "1", "question_stem": "Sun is", "choices": {"text": ["hot", "cold"],
                                                                               "label": ["A", "B"]},
                              "answerKey": "A", "fact1": "f", "humanScore": 1.0, "clarity": 1.0,
                              "turkIdAnswer": "t"})
    assert (obqa["question_stem"], obqa["fact"], obqa["label"]) == ('"Sun is"', "f", "hot")


def test_choice_columns_and_endings():
    cosmos = pre("cosmos_qa", {"id": "i", "context": "c", "question": "Why?", "answer0": "Tired .",
                               "answer1": "b", "answer2": "c", "answer3": "d", "label": 0})
    assert cosmos["label"] == "Tired." and cosmos["question"] == '"Why?"'
    hs = pre("hellaswag", {"ind": 1, "activity_label": "a", "ctx_a": "x", "ctx_b": "y", "ctx": "x y",
                           "endings": ["one.", "two", "three.", "four"], "source_id": "s", "split": "train",
                           "split_type": "indomain", "label": "2"})
    assert (hs["context"], hs["endings"], hs["label"]) == ("x y", "one; two; three; four", "three")


def test_coreference_options():
    dpr = pre("dpr_raw", {"sentence": "The bee landed on the flower because it had pollen.", "pronoun": "it",
                          "candidates": ["The bee", "the flower"], "label": 1})
    assert dpr["options"] == ["The bee had pollen", "the flower had pollen"]
    assert dpr["label"] == "the flower had pollen"
    wsc = pre("wsc273", {"text": "The man lifted his son. He was strong.", "pronoun": "He", "pronoun_loc": 24,
                         "quote": "He was strong", "quote_loc": 24, "options": ["the man", "the son"],
                         "label": 0, "source": "s"})
    assert wsc["options"] == ["the man", "the son"] and wsc["label"] == "the man"
    assert wsc["options_text"] == "the man was strong; the son was strong"


def test_qa_targets():
    squad = {"id": "1", "title": "T", "context": "c", "question": "q",
             "answers": {"text": ["x", "y", "x"], "answer_start": [0, 0, 0]}}
    row = pre("squad", squad)
    assert (row["label"], row["references"]) == ("x", ["x", "y"])
    empty = pre("squad_v2", dict(squad, answers={"text": [], "answer_start": []}))
    assert empty["label"] == "unanswerable"
    record = pre("record", {"passage": "p", "query": "@placeholder won the cup.", "entities": ["Ann", "Bo"],
                            "entity_spans": {"text": [], "start": [], "end": []}, "answers": ["Bo"],
                            "idx": {"passage": 0, "query": 0}})
    assert record["options"] == ["Ann won the cup.", "Bo won the cup."] and record["label"] == "Bo won the cup."
    multirc = pre("multirc", {"paragraph": "p", "question": "q", "answer": "a",
                              "idx": {"paragraph": 3, "question": 4, "answer": 0}, "label": 1})
    assert (multirc["response"], multirc["label"], multirc["group_id"]) == ("a", "yes", "3-4")


def test_dialogue_tasks():
    coqa = pre("coqa", {"source": "s", "story": "S", "questions": ["A?", "B?"],
                        "answers": {"input_text": ["a", "b"], "answer_start": [0, 1], "answer_end": [1, 2]}})
    assert (coqa["text"], coqa["numbered_questions"], coqa["label"]) == ("S", "1. A? 2. B?", "1. a 2. b")
    quac = pre("quac", {"background": "b", "section_title": "s", "context": "c", "questions": ["q1", "q2"],
                        "answers": {"texts": [["a1", "a1b"], ["a2"]], "answer_starts": [[0, 0], [0]]}})
    assert (quac["question"], quac["label"], quac["references"]) == ("q1", "a1", ["a1", "a1b"])


def test_generation_inputs():
    math = pre("math_dataset", {"question": "b'Solve 2*x = 4 for x.\\n'", "answer": "b'2\\n'"})
    assert (math["question"], math["label"]) == ("Solve 2*x = 4 for x.", "2")
    fix = pre("fix_punct", {"utterance": "Well, I think so. Do you?", "corrupted_cased": "Well I think so Do"})
    assert fix["no_punct"] == "Well I think so Do you" and fix["label"] == "Well, I think so. Do you?"
    dart = pre("dart", {"tripleset": [["A", "B", "C"], ["[TABLECONTEXT]", "[TITLE]", "D"]],
                        "subtree_was_extended": False, "annotations": {"source": ["s"], "text": ["t1", "t2"]}})
    assert dart["tripleset"] == "A, B, C; , , D" and dart["references"] == ["t1", "t2"]
    web = pre("web_nlg", {"original_triple_sets": {"otriple_set": [["Aarhus_Airport | cityServed | Aarhus"]]},
                          "lex": {"text": ["Aarhus Airport serves Aarhus."]}})
    assert web["input_string"] == "Aarhus Airport, cityServed, Aarhus"
    e2e = pre("e2e_nlg", {"meaning_representation": "name[The Eagle], food[French]", "human_reference": "r"})
    assert e2e["meaning_representation"] == "name = The Eagle, food = French"
    cg = pre("common_gen", {"concept_set_idx": 0, "concepts": ["dog", "run"], "target": "Dogs run."})
    assert (cg["concepts"], cg["label"]) == ("dog; run", "Dogs run.")


def test_translation_language_order_follows_the_hub():
    row = pre("wmt16/de-en", {"translation": {"de": "Hallo Welt.", "en": "Hello world."}})
    assert (row["lang1"], row["lang2"], row["sent1"], row["sent2"]) == ("German", "English", "Hallo Welt.",
                                                                        "Hello world.")


def test_manual_download_rows():
    story = pre("story_cloze", {"InputStoryid": "x", "InputSentence1": "A.", "InputSentence2": "B.",
                                "InputSentence3": "C.", "InputSentence4": "D.", "RandomFifthSentenceQuiz1": "E1.",
                                "RandomFifthSentenceQuiz2": "E2.", "AnswerRightEnding": "2"})
    assert (story["context"], story["label"]) == ("A. B. C. D.", "E2.")
    movie = pre("opin_movie", {"_movie_name": "M", "_critics": {"1": "Good.", "2": "Bad."},
                               "_critic_consensus": "Mixed."})
    assert (movie["numbered_reviews"], movie["first_review"], movie["label"]) == ("0)Good. 1)Bad.", "Good.", "Mixed.")
    debate = pre("opin_idebate", {"_claim": "C.", "_argument_sentences": {"0": "It harms , really .", "1": "Yes ."},
                                  "_debate_name": "D"})
    assert debate["argument_sentences"] == "It harms, really. Yes."


def test_bigbench_and_gsm8k():
    row = {"inputs": "Q: Ann ate. Why?\n  choice: hungry\n  choice: sad\nA:", "targets": ["hungry"],
           "multiple_choice_targets": ["sad", "hungry"], "multiple_choice_scores": [0, 1], "idx": 0}
    social = pre("social_iqa", row)
    assert (social["text"], social["label"], social["adv_label"]) == ("Ann ate. Why?\n ", "hungry", "(b)")
    assert pre("tracking_shuffled_objects/five", row) is None
    gsm = {"question": "Q", "answer": "She had 3 + 4 = <<3+4=7>>7 and 10 more.\n#### 17"}
    first, second = pre("gsm8k", gsm), pre("gsm8k", gsm)
    assert first["label"] == "17" and "17" in first["options"] and first["options"] == second["options"]
    assert first["options"].count("17") == 1 and len(first["options"]) == 4
