"""Row-level preprocessing: raw hub rows -> canonical rows.

Every function takes one raw row (a dict in the hub's schema) and the task's
registry entry, and returns a canonical row, or None to drop the row (the
reference filters SNLI's unlabelled rows and BigBench's tracking tasks by
option count). A canonical row holds the task's input fields (strings), plus

    options       list[str]  the gold options ([] for generation tasks)
    options_text  str        what an `{options_}` placeholder renders to
    label         str        the target text
    references    list[str]  every acceptable target (metrics use these)

and task-specific extras (e.g. `answer_key`, `group_id`, `adv_label`).
Which function a task uses, and with which label names, lives in its
registry entry (config.py); nothing here branches on task names.
"""
from __future__ import annotations

import random
import re
import string
from typing import Any, Callable, Optional

Row = dict[str, Any]
Preprocessor = Callable[[Row, Any], Optional[Row]]

OPTION_SEP = "; "
LANGUAGE_NAMES = {
    "cs": "Czech", "en": "English", "es": "Spanish", "de": "German", "fi": "Finnish",
    "fr": "French", "ro": "Romanian", "ru": "Russian", "tr": "Turkish",
}


class RowError(ValueError):
    """A raw row that cannot be turned into a canonical row."""


def get_path(row: Row, path: str) -> Any:
    """Read a (possibly dotted) column, e.g. ``answers.text``."""
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise RowError(f"missing column {path!r}")
        value = value[part]
    return value


def canonical(spec, values: Row, options: list[str], label: Any,
              references: Optional[list[str]] = None,
              options_text: Optional[str] = None, **extras: Any) -> Row:
    """Assemble a canonical row in the registry's field order."""
    row: Row = {}
    for field in spec.input_fields:
        value = values[field]
        row[field] = value if isinstance(value, str) else str(value)
    label = str(label)
    row["options"] = [str(o) for o in options]
    row["options_text"] = OPTION_SEP.join(row["options"]) if options_text is None else options_text
    row["label"] = label
    row["references"] = [str(r) for r in references] if references else [label]
    row.update(extras)
    return row


def _renamed(row: Row, spec) -> Row:
    """Raw row with the registry's renames applied (dotted sources allowed)."""
    values = dict(row)
    for source, target in spec.renames.items():
        values[target] = get_path(row, source)
    return values


def _first(value: Any) -> Any:
    """The reference keeps the first element of list-valued targets."""
    while isinstance(value, list):
        if not value:
            return ""
        value = value[0]
    return value


def class_index(value: Any) -> int:
    """A class label as an int: ints, integral floats (1.0) and digit strings; anything else a RowError."""
    if isinstance(value, bool):
        raise RowError(f"class label {value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    raise RowError(f"class label {value!r} is not an integer")


def _quoted(text: str) -> str:
    return f'"{text}"'


# --- generic shapes -------------------------------------------------------

def class_label(row: Row, spec) -> Optional[Row]:
    """Integer class index -> option text from ``spec.label_names``."""
    values = _renamed(row, spec)
    index = class_index(values["label"]) + spec.label_offset
    if index < 0:
        return None  # unlabelled rows (-1), dropped as the reference does
    if index >= len(spec.label_names):
        raise RowError(f"label {values['label']!r} outside 0..{len(spec.label_names) - 1}")
    for field in spec.quote_fields:
        values[field] = _quoted(values[field])
    return canonical(spec, values, list(spec.label_names), spec.label_names[index])


def choice_columns(row: Row, spec) -> Row:
    """Options stored in separate columns (copa, piqa, cosmos_qa, winogrande)."""
    values = _renamed(row, spec)
    options = [str(values[c]).replace(" .", ".") if spec.fix_spaced_period else str(values[c])
               for c in spec.option_columns]
    index = class_index(values["label"]) + spec.label_offset
    for field in spec.quote_fields:
        values[field] = _quoted(values[field])
    return canonical(spec, values, options, options[index])


def generation(row: Row, spec) -> Row:
    """Free-text target; list-valued targets keep all references, first is the label."""
    values = _renamed(row, spec)
    target = values["label"]
    references = [r for r in target if r] if isinstance(target, list) else None
    return canonical(spec, values, [], _first(target), references)


def template_target(row: Row, spec) -> Row:
    """Targets chosen by the template (summaries, translations): label = primary target."""
    values = _renamed(row, spec)
    return canonical(spec, values, [], values[spec.target_fields[0]])


# --- task-specific shapes -------------------------------------------------

def sentiment140(row: Row, spec) -> Row:
    values = _renamed(row, spec)
    label = "negative" if class_index(values["sentiment"]) in (0, 1, 2) else "positive"
    return canonical(spec, values, list(spec.label_names), label)


def bool_q(row: Row, spec) -> Row:
    values = _renamed(row, spec)
    return canonical(spec, values, list(spec.label_names), "True" if values["label"] else "False")


def stsb(row: Row, spec) -> Row:
    values = _renamed(row, spec)
    score = float(values["label"])
    return canonical(spec, values, list(spec.label_names), int(score), score=score)


def letter_choice(row: Row, spec) -> Row:
    """ARC / OpenBookQA: options from choices.text, answer key A-D (or 1-4)."""
    values = _renamed(row, spec)
    options = [str(o).strip() for o in values["options"]]
    keys = list(get_path(row, "choices.label"))
    key = str(values["answer_key"])
    if key not in keys:
        raise RowError(f"answerKey {key!r} not among choice labels {keys}")
    for field in spec.quote_fields:
        if '"' not in values[field]:
            values[field] = _quoted(values[field])
    letter = string.ascii_uppercase[keys.index(key)]
    return canonical(spec, values, options, options[keys.index(key)], answer_key=key,
                     answer_letter=letter)


def hellaswag(row: Row, spec) -> Row:
    values = _renamed(row, spec)
    options = [e.rstrip(".") for e in values["endings"]]
    values["endings"] = OPTION_SEP.join(options)
    return canonical(spec, values, options, options[class_index(values["label"])])


def trivia_qa(row: Row, spec) -> Row:
    values = _renamed(row, spec)
    answer = row["answer"]
    references = [answer["normalized_value"], *answer.get("aliases", []),
                  *answer.get("normalized_aliases", [])]
    return canonical(spec, values, [], answer["normalized_value"], list(dict.fromkeys(references)))


def squad(row: Row, spec) -> Row:
    values = _renamed(row, spec)
    texts = list(values["label"])
    if not texts:
        if not spec.allow_unanswerable:
            raise RowError("answers.text is empty")
        return canonical(spec, values, [], "unanswerable")
    return canonical(spec, values, [], texts[0], list(dict.fromkeys(texts)))


def multirc(row: Row, spec) -> Row:
    values = _renamed(row, spec)
    idx = row["idx"]
    return canonical(spec, values, list(spec.label_names), spec.label_names[class_index(row["label"])],
                     group_id=f"{idx['paragraph']}-{idx['question']}")


def record(row: Row, spec) -> Row:
    values = _renamed(row, spec)
    if "@placeholder" not in values["query"]:
        raise RowError("query has no @placeholder")
    suffix = values["query"].split("@placeholder")[1]
    options = [e + suffix for e in values["entities"]]
    answers = [a + suffix for a in values["answers"]]
    if not answers:
        raise RowError("answers is empty")
    return canonical(spec, values, options, answers[0], list(dict.fromkeys(answers)))


def dpr_raw(row: Row, spec) -> Row:
    values = _renamed(row, spec)
    parts = values["sentence"].split(" " + values["pronoun"] + " ")
    suffix = " " + parts[-1].rstrip(".")
    options = [c + suffix for c in values["candidates"]]
    return canonical(spec, values, options, options[class_index(values["label"])])


def wsc273(row: Row, spec) -> Row:
    """Options shown as the quote with the pronoun replaced; gold options stay the candidates."""
    values = _renamed(row, spec)
    candidates = list(values["options"])
    possessive = any(p in values["quote"] for p in ("his ", "her ", "its "))
    pattern = re.compile(r"(?<![A-Za-z])" + re.escape(values["pronoun"]))
    shown = [pattern.sub(lambda _m, c=c: c + ("'s" if possessive else ""), values["quote"])
             for c in candidates]
    return canonical(spec, values, candidates, candidates[class_index(values["label"])],
                     options_text=OPTION_SEP.join(shown))


def story_cloze(row: Row, spec) -> Row:
    values = dict(row)
    values["context"] = " ".join(str(row[f"InputSentence{i}"]) for i in range(1, 5))
    options = [row["RandomFifthSentenceQuiz1"], row["RandomFifthSentenceQuiz2"]]
    return canonical(spec, values, options, options[class_index(row["AnswerRightEnding"]) - 1])


def coqa(row: Row, spec) -> Row:
    values = _renamed(row, spec)
    questions = list(values["questions"])
    answers = list(get_path(row, "answers.input_text"))
    values["numbered_questions"] = " ".join(f"{i}. {q}" for i, q in enumerate(questions, 1))
    label = " ".join(f"{i}. {a}" for i, a in enumerate(answers, 1))
    return canonical(spec, values, [], label)


def quac(row: Row, spec) -> Row:
    values = _renamed(row, spec)
    values["question"] = _first(values["questions"])
    answers = get_path(row, "answers.texts")
    first = answers[0] if answers else []
    return canonical(spec, values, [], _first(answers), [a for a in first if a] or None)


def trec(row: Row, spec) -> Row:
    values = _renamed(row, spec)
    values["text"] = _quoted(values["text"])
    return canonical(spec, values, list(spec.label_names), spec.label_names[class_index(row["coarse_label"])])


def wic(row: Row, spec) -> Row:
    """1 = same sense = "True" (the reference maps 1 to "False": fixed here)."""
    values = _renamed(row, spec)
    return canonical(spec, values, list(spec.label_names), "True" if class_index(row["label"]) == 1 else "False")


def _strip_bytes_repr(text: str) -> str:
    return text.replace("b'", "").replace("\\n'", "").replace("\n", "")


def math_dataset(row: Row, spec) -> Row:
    values = _renamed(row, spec)
    values["question"] = _strip_bytes_repr(values["question"])
    return canonical(spec, values, [], _strip_bytes_repr(values["label"]))


def fix_punct(row: Row, spec) -> Row:
    """Re-append the last word that the hub's corrupted text drops (as the reference does)."""
    values = dict(row)
    match = re.search(r"\S+.$", row["utterance"])
    last_word = re.sub(r"[.,?!]", "", match.group()) if match else ""
    base = row["corrupted_cased"]
    values["no_punct"] = f"{base.rstrip()} {last_word}" if last_word else base
    return canonical(spec, values, [], row["utterance"])


def common_gen(row: Row, spec) -> Row:
    values = _renamed(row, spec)
    values["concepts"] = OPTION_SEP.join(values["concepts"])
    return canonical(spec, values, [], values["label"])


def dart(row: Row, spec) -> Row:
    """Triples as "s, p, o" joined by "; " (the reference runs triples together)."""
    values = _renamed(row, spec)
    triples = [", ".join(t for t in triple) for triple in values["tripleset"]]
    text = re.sub(r"\[(.*?)\]", "", OPTION_SEP.join(triples)).replace("\t", "")
    values["tripleset"] = re.sub(r" {2,}", " ", text).strip()
    texts = [t for t in get_path(row, "annotations.text") if t]
    return canonical(spec, values, [], _first(texts), texts or None)


def e2e_nlg(row: Row, spec) -> Row:
    values = _renamed(row, spec)
    mr = values["meaning_representation"].replace("[", " = ").replace("]", "")
    values["meaning_representation"] = mr
    return canonical(spec, values, [], values["label"])


def web_nlg(row: Row, spec) -> Row:
    values = _renamed(row, spec)
    triple_sets = values["input_string"]
    triples = [t for triple_set in triple_sets for t in triple_set]
    text = OPTION_SEP.join(triples).replace("_", " ").replace(" | ", ", ").replace("|", ",")
    values["input_string"] = text
    texts = [t for t in values["label"] if t]
    return canonical(spec, values, [], _first(texts), texts or None)


def translation(row: Row, spec) -> Row:
    """wmt16 / para_crawl: language order as the hub's translation dict gives it."""
    pair = row["translation"]
    if not isinstance(pair, dict) or len(pair) != 2:
        raise RowError("translation must be a dict of two languages")
    (code1, sent1), (code2, sent2) = pair.items()
    values = {"lang1": LANGUAGE_NAMES[code1], "lang2": LANGUAGE_NAMES[code2],
              "sent1": sent1, "sent2": sent2}
    return canonical(spec, values, [], values[spec.target_fields[0]])


def opin_idebate(row: Row, spec) -> Row:
    def untokenise(line: str) -> str:
        return line.replace(" ,", ",").replace(" .", ".").replace(" ;", ";")
    values = {"claim": row["_claim"], "debate_name": row["_debate_name"],
              "argument_sentences": " ".join(untokenise(s) for s in row["_argument_sentences"].values())}
    return canonical(spec, values, [], values["claim"])


def opin_movie(row: Row, spec) -> Row:
    reviews = list(row["_critics"].values())
    values = {"movie": row["_movie_name"], "critic_consensus": row["_critic_consensus"],
              "numbered_reviews": " ".join(f"{i}){r}" for i, r in enumerate(reviews)),
              "first_review": reviews[0] if reviews else ""}
    return canonical(spec, values, [], values["critic_consensus"])


def bigbench(row: Row, spec) -> Optional[Row]:
    """BigBench: inputs/targets/multiple_choice_targets; optional option-count filter.

    The text keeps the whitespace its clean-up leaves, as in the reference (the test formats use it).
    """
    options = [str(o) for o in row["multiple_choice_targets"]]
    if spec.num_choices and len(options) != spec.num_choices:
        return None
    text = str(row[spec.text_column])
    for pattern in spec.text_cleanup:
        text = re.sub(pattern, "", text, flags=re.DOTALL)
    label = _first(row[spec.label_column])
    if label not in options:
        raise RowError(f"target {label!r} not among multiple_choice_targets")
    letter = f"({string.ascii_lowercase[options.index(label)]})"
    return canonical(spec, {"text": text}, options, label, adv_label=letter)


def gsm8k(row: Row, spec, rng: Optional[random.Random] = None) -> Row:
    """Split the rationale from the answer; distractors are other numbers of the rationale."""
    if "####" not in row["answer"]:
        raise RowError("answer has no '####' final-answer marker")
    explanation, answer = row["answer"].split("####", 1)
    explanation, answer = explanation.rstrip(" "), answer.strip()
    rng = rng or random.Random(f"{spec.name}:{row['question']}")
    numbers = [n for n in re.findall(r"[0-9]+", explanation) if n != answer]
    rng.shuffle(numbers)
    options = list(dict.fromkeys(numbers))[:3] + [answer]
    rng.shuffle(options)
    return canonical(spec, {"text": row["question"]}, options, answer, explanation=explanation)
