"""Final-answer extraction from a model's continuation, with the answer's character span.

Every extractor first cuts the text at the stop strings (a base model runs on into a next
question after answering: `Q:` wherever it follows a space or newline, as lm-eval cuts, and
`Question:`/`Problem:`/`Patient note:` at a line or sentence start), then tries, per answer kind,
the markers below in order.
  gsm8k:   `#### N` (first, as lm-eval's strict match), "the answer is N" (last; when N starts a
           calculation, `N + M = ... = R`, the sentence's last number R), the last `\\boxed{}`
           (its last number), else the last number. LaTeX thousands separators (`104{,}000`,
           `104\\,000`) read as commas.
  math:    the last `\\boxed{}`/`\\fbox{}` (balanced braces), "the (final) answer is X" (last; X is
           its `$...$`, `\\(...\\)` or `\\[...\\]`, else the text before the first word of prose),
           else whichever ends later: the last inline math segment or the last number or fraction.
  medcalc: the last JSON object with an "answer" key (parsed with `json`, never eval), a loose
           `"answer": X` match, "the answer is X", else the last date, (weeks, days), `N out of M`
           or number.
Offsets are into the text as given, so `text[start:end]` is the answer (for JSON strings with
escapes and LaTeX thousands separators, `answer` is the decoded value).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Optional

_COMMON_STOPS = ("</s>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "\n\n\n")


def _run_on(*markers: str) -> tuple[str, ...]:
    """A next question's marker after a newline or a sentence's end ("Q:" after any space)."""
    return ("\nQ:", " Q:", *(f"{lead}{m}" for m in markers for lead in ("\n", ". ", "? ", "! ")))


STOP_STRINGS: dict[str, tuple[str, ...]] = {
    "gsm8k": (*_run_on("Question:"), *_COMMON_STOPS),
    "math": (*_run_on("Problem:", "Question:"), *_COMMON_STOPS),
    "medcalc": (*_run_on("Patient note:", "Question:"), *_COMMON_STOPS),
}


@dataclass(frozen=True)
class Extracted:
    """An extracted final answer and its character span [start, end) in the response."""
    answer: str
    start: int
    end: int


def cut_at_stops(text: str, stops) -> str:
    """`text` up to the earliest stop string (whole text when none occurs)."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=len(text))
    return text[:cut]


_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+")
_THOUSANDS = r"(?:,|\{,\}|\\,)"     # LaTeX writes 104{,}000 or 104\,000
_GSM8K_NUMBER = re.compile(rf"-?(?:\d{{1,3}}(?:{_THOUSANDS}\d{{3}})+|\d+)(?:\.\d+)?|-?\.\d+")
_CALCULATION = re.compile(r"\s*(?:[-+*/x×÷=]|\\times|\\cdot|\\div)\s*\$?\s*[-\d(.]")
_NUMBER_OR_FRACTION = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?|-?\.\d+")
_HASHES = re.compile(r"####\s*\$?\s*(-?[0-9][0-9.,]*)")
_ANSWER_IS = re.compile(r"answer\s+is\s*:?\s*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"\.(?=\s|$)|\s+I hope it is correct")
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BOX_SPACE = re.compile(r"\\boxed ([^\s$]+)")
_DATE = r"\d{1,2}/\d{1,2}/\d{4}"
_WEEKS_DAYS = r"\(?[\"']?\d+\s*weeks?[\"']?\s*,?\s*(?:and\s*)?[\"']?\d+\s*days?[\"']?\)?"
_OUT_OF = r"\d+\s+out\s+of\s+\d+"
_MEDCALC_TAIL = re.compile(rf"{_DATE}|{_WEEKS_DAYS}|{_OUT_OF}|{_NUMBER.pattern}", re.IGNORECASE)
_JSON_ANSWER_KEY = re.compile(r"\"answer\"\s*:\s*", re.IGNORECASE)
_LOOSE_JSON_ANSWER = re.compile(r"\"?answer\"?\s*:\s*\"?([^\"}\n]*)", re.IGNORECASE)
_LEAD = " \t\n*$:;,`\"'"
_TRAIL = _LEAD + "."


def _span(text: str, start: int, end: int) -> Optional[Extracted]:
    """Trim markdown/LaTeX wrappers off both ends of a span; None when nothing is left."""
    while start < end and (text[start] in _LEAD
                           or (text[start] == "." and not text[start + 1:start + 2].isdigit())):
        start += 1
    while end > start and text[end - 1] in _TRAIL:
        end -= 1
    return Extracted(text[start:end], start, end) if end > start else None


def last_boxed(text: str) -> Optional[Extracted]:
    """The content of the last `\\boxed{...}` (balanced braces) or `\\boxed X`."""
    best = None
    for match in _BOX.finditer(text):
        depth, i = 1, match.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            best = (match.end(), i - 1)
    spaced = list(_BOX_SPACE.finditer(text))
    if spaced and (best is None or spaced[-1].start() > best[0]):
        best = spaced[-1].span(1)
    return None if best is None else _span(text, *best)


_MATH_DELIMITERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_INLINE_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)


def _delimited(text: str, start: int, end: int) -> Optional[tuple[int, int]]:
    """The inside of the `$...$`, `$$...$$`, `\\(...\\)` or `\\[...\\]` that opens at `start`."""
    for opener, closer in _MATH_DELIMITERS:
        if text.startswith(opener, start):
            close = text.find(closer, start + len(opener), end)
            if close > 0:
                return start + len(opener), close
            return None
    return None


def _answer_is(text: str) -> Optional[tuple[int, int, bool]]:
    """(start, end, delimited) after the last "answer is": the math it opens with a delimiter
    (delimited True), else the rest of the sentence."""
    matches = list(_ANSWER_IS.finditer(text))
    if not matches:
        return None
    start = matches[-1].end()
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    inside = _delimited(text, start, end)
    if inside:
        return (*inside, True)
    sentence_end = _SENTENCE_END.search(text, start, end)
    return start, sentence_end.start() if sentence_end else end, False


def _last(pattern: re.Pattern, text: str, start: int = 0, end: Optional[int] = None) -> Optional[Extracted]:
    matches = list(pattern.finditer(text, start, len(text) if end is None else end))
    return None if not matches else _span(text, *matches[-1].span())


def _first(pattern: re.Pattern, text: str, start: int = 0, end: Optional[int] = None) -> Optional[Extracted]:
    match = pattern.search(text, start, len(text) if end is None else end)
    return None if match is None else _span(text, *match.span())


def _plain_number(found: Optional[Extracted]) -> Optional[Extracted]:
    """A GSM8K number with LaTeX thousands separators written as commas."""
    if found is None:
        return None
    return Extracted(found.answer.replace("{,}", ",").replace("\\,", ","), found.start, found.end)


def _gsm8k(text: str) -> Optional[Extracted]:
    hashes = _HASHES.search(text)
    if hashes:
        return _span(text, *hashes.span(1))
    span = _answer_is(text)
    if span:
        found = _first(_GSM8K_NUMBER, text, *span[:2])
        if found and _CALCULATION.match(text, found.end, span[1]):   # "is 124 + 162 = 286, ... = $858"
            found = _last(_GSM8K_NUMBER, text, *span[:2])
        if found:
            return _plain_number(found)
    boxed = last_boxed(text)
    if boxed:
        found = _last(_GSM8K_NUMBER, text, boxed.start, boxed.end)
        if found:
            return _plain_number(found)
    return _plain_number(_last(_GSM8K_NUMBER, text))


_PROSE_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}\b")   # not a LaTeX command


def _prose_words(text: str, start: int, end: int) -> list[int]:
    """Start offsets of the words of prose in text[start:end] (outside braces and `$...$`)."""
    out = []
    for word in _PROSE_WORD.finditer(text, start, end):
        before = text[start:word.start()]
        if before.count("{") == before.count("}") and before.count("$") % 2 == 0:
            out.append(word.start())
    return out


def _segment(match: re.Match) -> tuple[int, int]:
    return next(match.span(g) for g in range(1, 5) if match.group(g) is not None)


def _math_statement(text: str, start: int, end: int) -> Optional[Extracted]:
    """The math of a free-text answer: the text before its first word of prose (`10 because ...`
    -> `10`); a statement that opens with prose gives its first inline math, else its first word."""
    words = _prose_words(text, start, end)
    if words and not text[start:words[0]].strip():
        math = _INLINE_MATH.search(text, start, end)
        if math:
            return _span(text, *_segment(math))
        words = words[1:]
    return _span(text, start, words[0] if words else end)


def _math(text: str) -> Optional[Extracted]:
    boxed = last_boxed(text)
    if boxed:
        return boxed
    span = _answer_is(text)
    if span:
        start, end, delimited = span
        found = _span(text, start, end) if delimited else _math_statement(text, start, end)
        if found:
            return found
    segments = list(_INLINE_MATH.finditer(text))
    number = _last(_NUMBER_OR_FRACTION, text, segments[-1].end() if segments else 0)
    if number is None and segments:
        return _span(text, *_segment(segments[-1]))
    return number


def _json_answer(text: str) -> Optional[Extracted]:
    """The "answer" value of the last JSON object that has one (strings: inside the quotes)."""
    decoder, best, pos = json.JSONDecoder(), None, text.find("{")
    while pos >= 0:
        try:
            obj, end = decoder.raw_decode(text, pos)
        except ValueError:
            pos = text.find("{", pos + 1)
            continue
        if isinstance(obj, dict) and any(str(k).lower() == "answer" for k in obj):
            keys = list(_JSON_ANSWER_KEY.finditer(text, pos, end))
            if keys:
                start = keys[-1].end()
                value, value_end = decoder.raw_decode(text, start)
                if isinstance(value, str):
                    best = Extracted(value.strip(), start + 1, value_end - 1)
                elif value is not None:
                    best = Extracted(text[start:value_end], start, value_end)
        pos = text.find("{", end)
    return best


def _medcalc(text: str) -> Optional[Extracted]:
    found = _json_answer(text)
    if found and found.answer:
        return found
    loose = list(_LOOSE_JSON_ANSWER.finditer(text))
    if loose:
        found = _span(text, *loose[-1].span(1))
        if found:
            return found
    span = _answer_is(text)
    if span:
        found = _span(text, *span[:2])
        if found:
            return found
    return _last(_MEDCALC_TAIL, text)


_EXTRACTORS = {"gsm8k": _gsm8k, "math": _math, "medcalc": _medcalc}


def extract(answer_kind: str, text: str, stops: Optional[tuple[str, ...]] = None) -> Optional[Extracted]:
    """The final answer of `text` (cut at `stops`, default STOP_STRINGS[answer_kind]), or None."""
    cut = cut_at_stops(text, STOP_STRINGS[answer_kind] if stops is None else stops)
    return _EXTRACTORS[answer_kind](cut)


EXTRACTOR_NONE = "NONE"


def extractor_prompt(question: str, response: str) -> str:
    """The instruction for a small model that extracts the final answer (`--extractor MODEL`)."""
    return ("Below are a question and a response to it. Write only the final answer that the response "
            "gives (a number, expression, date or tuple), exactly as the response states it, without "
            f"units or explanation. If the response gives no final answer, write {EXTRACTOR_NONE}.\n\n"
            f"Question:\n{question.strip()}\n\nResponse:\n{response.strip()}\n\nFinal answer:")


_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL)
_ANSWER_PREFIX = re.compile(r"^\s*(?:the\s+)?(?:final\s+)?answer\s*(?:is)?\s*:?\s*", re.IGNORECASE)


def parse_extractor_output(text: str) -> Optional[str]:
    """The extractor model's answer: thinking removed, first non-empty line, wrappers stripped."""
    text = _THINK.sub("", text)
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    line = _ANSWER_PREFIX.sub("", line.strip())
    boxed = last_boxed(line)
    answer = boxed.answer if boxed else line.strip(_TRAIL)
    if not answer or answer.upper() == EXTRACTOR_NONE:
        return None
    return answer
