"""Reading a model's answer out of its response, as the reference does for each model type.

- A tuned SampleGen model writes examples, then `Answer Solution: <answer>`: the answer is
  the rest of the line after the first `Answer Solution:`; without one the response is a
  hallucination and unparsable.
- A tuned Regular-Prompt model answers `Answer Solution: <answer>`; same rule.
- A base model answers on its first non-empty line: after `Answer:` / `Answer Solution:`
  when it writes one, else the whole line; an empty response is unparsable.

The answer is then matched to the item's options: a letter (`(b)`, `B)`) in the letter
formats (closed-adv, adv), else the option equal to it after normalisation (case, quotes,
a final period). Unlike the reference, every regex is escaped and raw and normalised
text are never mixed; an answer that matches no option is kept verbatim (it scores as
wrong for accuracy and as invalid for the class metrics).
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Optional, Sequence

LETTER_FORMATS = ("closed-adv", "adv")
_ANSWER_FORM = re.compile(r"Answer Solution:(.*)")
_BASE_ANSWER_FORM = re.compile(r"[aA]nswer(?: Solution)?:(.*)")
_LETTER = re.compile(r"^\(?([A-Za-z])(?:[).:`]|\s|$)")


@dataclass(frozen=True)
class Answer:
    text: str            # the processed answer ("" when unparsable)
    parsed: bool         # False: no answer could be read from the response


UNPARSABLE = Answer("", False)


def normalize(text: str) -> str:
    """Lower case, no surrounding quotes or spaces, no final period."""
    return text.strip().strip('"').strip().rstrip(".").strip().lower()


def first_line(response: str) -> str:
    for line in response.split("\n"):
        if line.strip():
            return line.strip()
    return ""


def letter_option(answer: str, options: Sequence[str]) -> Optional[str]:
    """`(b)`, `B)`, `b.` or a lone letter -> the option at that position."""
    match = _LETTER.match(answer.strip().lstrip("*"))
    if not match:
        return None
    index = string.ascii_lowercase.find(match.group(1).lower())
    return options[index] if 0 <= index < len(options) else None


def verbatim_option(answer: str, options: Sequence[str]) -> Optional[str]:
    wanted = normalize(answer)
    for option in options:
        if normalize(option) == wanted:
            return option
    return None


def _clean(answer: str) -> str:
    return answer.strip().strip("*").strip().strip('"').strip()


def extract_answer(response: str, *, base_model: bool, options: Sequence[str] = (),
                   letter_format: bool = False, numeric: bool = False) -> Answer:
    """The processed answer of one response.

    base_model: the response comes from a base model (first-line rules); else from a
    tuned model (`Answer Solution:` required). letter_format: the prompt showed lettered
    options. numeric: the answer is a number (GSM8K, STS-B): `$`, `%` and quotes dropped,
    and for STS-B a non-number is unparsable.
    """
    options = [o for o in options if o != ""]
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
