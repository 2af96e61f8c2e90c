"""Reading a model's answer out of its response, in one of two matching modes.

`reference` (the default) follows the reference's rules, with its listed bugs fixed:
- A tuned SampleGen model's answer is the rest of the line after its first `Answer Solution:`.
  A tuned Regular-Prompt (FLAN) model's is the text of the first line holding a literal `</s>`,
  up to it; without one, the rest of the line after `Answer Solution:`. Neither: unparsable.
- A base model's answer is its first non-empty line, or, where that line holds `Answer:` /
  `Answer Solution:`, the rest of it; an empty response is unparsable.
- `Answer Solution:` (and the spaces and `*` after it) and `Answer: ` are cut from the answer.
  Answers are then compared exactly: in the letter formats (closed-adv, adv) an answer that
  is a letter becomes that option; a base model's first line without `Answer:`, and the answer
  of logical_deduction, become the option they equal up to case, quotes and final periods; the
  plain format strips surrounding spaces and quotes. GSM8K drops `$`, `%` and quotes; an STS-B
  answer that is not a number is unparsable.

`normalised` compares every answer with the options up to case, quotes, spaces, `*` and a
final period, reads letters wherever the format shows them, and keeps `</s>` in the answer.

In both modes a letter is read only at the start of the answer (also wrapped in `( )`, `[ ]`,
quotes, backticks or `*`), and an initial `A`/`a` is an article, not the letter, only when
what follows it is an option's text or the start of one (`a red ball`; `A is correct` and
`A END_EXAMPLES` are option A); an answer that matches no option is kept verbatim (it scores
as wrong for accuracy and as invalid for the class metrics).
"""
from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass
from typing import Optional, Sequence

MATCHING_MODES = ("reference", "normalised")
_ANSWER_FORM = re.compile(r"Answer Solution:(.*)")
_BASE_ANSWER_FORM = re.compile(r"[aA]nswer(?: Solution)?:(.*)")
_LETTER = re.compile(r"[(\[]?([A-Za-z])(?![A-Za-z0-9])")
_ARTICLE = re.compile(r"[aA]\s+(?=\S)")
END_OF_SEQUENCE = "</s>"
# The reference's rules in its answer form: where it cuts, and which tasks match options.
_REFERENCE_FORM = re.compile(r"Answer Solution:.*")
_REFERENCE_BASE_FORM = re.compile(r"[aA]nswer(?: Solution)*:.*")
_REFERENCE_FORM_PREFIX = re.compile(r"[aA]nswer Solution:[ *]*")
_OPTION_SEARCH_TASKS = ("logical_deduction",)                # closed formats: the answer is matched to an option
_FIRST_LINE_KEPT_TASKS = ("gsm8k", "common_gen", "wmt16/")   # a base model's first line is never matched


@dataclass(frozen=True)
class Answer:
    text: str            # the processed answer ("" when unparsable)
    parsed: bool         # False: no answer could be read from the response


UNPARSABLE = Answer("", False)


def normalize(text: str) -> str:
    """Lower case, no surrounding quotes or spaces, no final period."""
    return text.strip().strip('"').strip().rstrip(".").strip().lower()


def reference_normalize(text: str) -> str:
    """The reference's option comparison: lower case, no quotes, no final periods."""
    return text.lower().replace('"', "").rstrip(".")


def first_line(response: str) -> str:
    for line in response.split("\n"):
        if line.strip():
            return line.strip()
    return ""


_LEADING_ARTICLE = re.compile(r"^(?:the|an?)\s+")


def _starts_an_option(text: str, options: Sequence[str]) -> bool:
    """`text` begins with an option's text (whole words) or is the start of one, leading articles aside."""
    text = _LEADING_ARTICLE.sub("", normalize(text))
    return bool(text) and any(
        (text.startswith(o) and not text[len(o):len(o) + 1].isalnum()) or o.startswith(text)
        for o in (_LEADING_ARTICLE.sub("", normalize(option)) for option in options) if o)


def letter_option(answer: str, options: Sequence[str]) -> Optional[str]:
    """`(b)`, `[b]`, `B)`, `b.`, `**B**`, `'B'`, `` `B` `` or a lone letter at the start -> the option
    at that position. An initial `A`/`a` is an article when the answer, or what follows the
    article, begins with an option's text (`a red ball`); `A is correct` is the letter."""
    text = answer.strip().lstrip(" *\"'`")
    match = _LETTER.match(text)
    if not match:
        return None
    if _ARTICLE.match(text) and _starts_an_option(text, options):
        return None
    index = string.ascii_lowercase.find(match.group(1).lower())
    return options[index] if 0 <= index < len(options) else None


def verbatim_option(answer: str, options: Sequence[str]) -> Optional[str]:
    wanted = normalize(answer)
    for option in options:
        if normalize(option) == wanted:
            return option
    return None


def reference_option(answer: str, options: Sequence[str]) -> Optional[str]:
    """The option the answer equals up to case, quotes and final periods (the last one, as the reference)."""
    wanted = reference_normalize(answer)
    equal = [o for o in options if reference_normalize(o) == wanted]
    return equal[-1] if equal else None


def text_before_end_of_sequence(response: str) -> Optional[str]:
    """The first line holding `</s>` after at least one character, up to that `</s>`."""
    for line in response.split("\n"):
        end = line.find(END_OF_SEQUENCE, 1)
        if end > 0:
            return line[:end]
    return None


def _clean(answer: str) -> str:
    return answer.strip().strip("*").strip().strip('"').strip()


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def extract_answer(response: str, *, base_model: bool, options: Sequence[str] = (),
                   letter_format: bool = False, numeric: bool = False, regression: bool = False,
                   regular_prompt: bool = False, matching: str = "reference",
                   bb_format: Optional[str] = None, task: str = "") -> Answer:
    """The processed answer of one response.

    base_model: the response comes from a base model (first-line rules); else from a tuned
    model (regular_prompt: a Regular-Prompt model, whose answer may end in `</s>`).
    letter_format: the prompt showed lettered options. numeric: the answer is a number
    (GSM8K, STS-B): `$`, `%` and quotes dropped (in `reference` mode for GSM8K only).
    regression: a non-number answer is unparsable (STS-B). bb_format and task select the
    reference's format and task rules (bb_format None: a FLAN task, the reference's closed).
    """
    options = [o for o in options if o != ""]
    if matching == "reference":
        answer = _reference_answer(response, base_model, options, letter_format, regular_prompt,
                                   bb_format, task)
        if answer.parsed and numeric and not regression:
            answer = Answer(answer.text.replace("$", "").replace("%", "").replace('"', ""), True)
    elif matching == "normalised":
        answer = _normalised_answer(response, base_model, options, letter_format, numeric)
    else:
        raise ValueError(f"answer matching {matching!r} is none of {MATCHING_MODES}")
    if answer.parsed and regression and not _is_number(answer.text):
        return Answer(answer.text, False)
    return answer


def _reference_answer(response: str, base_model: bool, options: Sequence[str], letter_format: bool,
                      regular_prompt: bool, bb_format: Optional[str], task: str) -> Answer:
    if base_model:
        line = first_line(response)
        form = _REFERENCE_BASE_FORM.search(line)
        if form is None:
            if not line:
                return UNPARSABLE
            if task.startswith(_FIRST_LINE_KEPT_TASKS):
                return Answer(line, True)
            return Answer(reference_option(line, options) or line, True)
        form_text = form.group()
    else:
        form_text = text_before_end_of_sequence(response) if regular_prompt else None
        if form_text is None:
            form = _REFERENCE_FORM.search(response)
            if form is None:
                return UNPARSABLE
            form_text = form.group()
    answer = _REFERENCE_FORM_PREFIX.sub("", form_text).replace("Answer: ", "").lstrip(" ")
    if letter_format:
        return Answer(letter_option(answer, options) or answer, True)
    if bb_format is None or bb_format == "closed" or bb_format.startswith("bad-prompt"):
        if task in _OPTION_SEARCH_TASKS:
            return Answer(reference_option(answer, options) or answer.lstrip(" ").strip('"'), True)
        return Answer(answer, True)
    return Answer(answer.strip(" ").strip('"'), True)


def _normalised_answer(response: str, base_model: bool, options: Sequence[str], letter_format: bool,
                       numeric: bool) -> Answer:
    if base_model:
        line = first_line(response)
        if not line:
            return UNPARSABLE
        form = _BASE_ANSWER_FORM.search(line)
        answer = _clean(form.group(1)) if form else line
    else:
        form = _ANSWER_FORM.search(response)
        if form is None:
            return UNPARSABLE
        answer = _clean(form.group(1))
    if numeric:
        answer = answer.replace("$", "").replace("%", "").replace('"', "").strip()
    if options:
        matched = letter_option(answer, options) if letter_format else None
        matched = matched or verbatim_option(answer, options)
        if matched is not None:
            return Answer(matched, True)
    return Answer(answer, True)
