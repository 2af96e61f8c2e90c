"""The graders of a sample: `standard` (the anchors' rules), `math_verify` and `math_verify_response`.

standard
  gsm8k:   lm-eval's exact match: drop `,`, `$`, everything up to `#### `, a final `.`; ignore case.
  math:    Hendrycks `is_equiv` (string equality after `strip_string`).
  medcalc: the official MedCalc-Bench rules (dates, (weeks, days), rounding, lower/upper limits).
math_verify
  `verify(parse(gold), parse(prediction))` with the math-verify library; the prediction is the
  extracted answer (wrapped in `\\boxed{}`; MedCalc: as is), or, when extraction found none, the
  response cut at the stop strings (math-verify's own extraction). MedCalc: dates and (weeks, days)
  keep the official rule, and so do the official readings that look past the last number ("N out
  of", "N%" as N/100, "N mL/min/1.73"); other numbers are parsed by math-verify and compared by the
  official rounding / limits.
math_verify_response
  The same, but math-verify always reads the response cut at the stop strings, never the extracted
  answer (as lm-eval's minerva_math and math-verify's README do); MedCalc dates and (weeks, days)
  still go by the official rule on the extracted answer.
Timeouts (see mathverify.py) grade wrong with timed_out=True.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from inherent_limits.base_vs_instruct import mathverify, medcalc_rules
from inherent_limits.base_vs_instruct.benchmarks import MathBench
from inherent_limits.base_vs_instruct.extraction import STOP_STRINGS, cut_at_stops
from inherent_limits.base_vs_instruct.hendrycks import is_equiv
from inherent_limits.base_vs_instruct.items import Item
from inherent_limits.core.errors import UserError

GRADERS = ("standard", "math_verify", "math_verify_response")
DEFAULT_GRADERS = ("standard", "math_verify")


@dataclass(frozen=True)
class Grade:
    correct: bool
    timed_out: bool = False
    note: str = ""


def check_grader(grader: str) -> str:
    if grader not in GRADERS:
        raise UserError(f"unknown grader {grader!r}; choose from {', '.join(GRADERS)}")
    return grader


# ---------------------------------------------------------------------------------------------
# standard

_GSM8K_IGNORE = (re.compile(r","), re.compile(r"\$"), re.compile(r"(?s).*#### "), re.compile(r"\.$"))


def gsm8k_normalise(text: str) -> str:
    """lm-eval's GSM8K exact-match normalisation (regexes_to_ignore, ignore_case), whitespace trimmed."""
    for pattern in _GSM8K_IGNORE:
        text = pattern.sub("", text)
    return text.strip().lower()


def _medcalc_fields(item: Item) -> tuple[int, str, str]:
    return item.meta["calculator_id"], item.meta["lower_limit"], item.meta["upper_limit"]


def _standard(bench: MathBench, item: Item, extracted: Optional[str]) -> Grade:
    if extracted is None:
        return Grade(False, note="no answer extracted")
    if bench.answer_kind == "gsm8k":
        return Grade(gsm8k_normalise(extracted) == gsm8k_normalise(item.gold))
    if bench.answer_kind == "math":
        return Grade(is_equiv(extracted, item.gold))
    calculator, lower, upper = _medcalc_fields(item)
    try:
        return Grade(medcalc_rules.check(calculator, extracted, item.gold, lower, upper))
    except ValueError as err:  # unknown calculator id or unreadable limits in the data
        return Grade(False, note=f"medcalc rule failed: {err}")


# ---------------------------------------------------------------------------------------------
# math_verify

def _gold_text(bench: MathBench, item: Item) -> str:
    gold = item.gold.replace(",", "") if bench.answer_kind != "math" else item.gold
    return f"\\boxed{{{gold}}}"


def _pred_text(bench: MathBench, response: str, extracted: Optional[str]) -> str:
    """The extracted answer, or (None: the whole response) the response cut at the stop strings."""
    if extracted is not None:   # MedCalc answers carry units: math-verify reads the number out of them
        return extracted if bench.answer_kind == "medcalc" else f"\\boxed{{{extracted}}}"
    return cut_at_stops(response, STOP_STRINGS[bench.answer_kind])


def _failed(status: str) -> Grade:
    """A timed-out answer is graded wrong and flagged; one whose worker process crashed is wrong."""
    if status == "timeout":
        return Grade(False, True, f"math-verify timed out ({mathverify.TIMEOUT_S} s)")
    return Grade(False, False, "math-verify worker process died (out of memory?)")


def _math_verify(bench: MathBench, item: Item, response: str, extracted: Optional[str],
                 whole_response: bool) -> Grade:
    pred = _pred_text(bench, response, None if whole_response else extracted)
    note = ("" if extracted is not None or whole_response
            else "no answer extracted; math-verify read the response")
    if bench.answer_kind == "medcalc":
        calculator, lower, upper = _medcalc_fields(item)
        try:
            kind = medcalc_rules.output_kind(calculator)
        except ValueError as err:
            return Grade(False, note=f"medcalc rule failed: {err}")
        if kind in ("date", "weeks_days"):
            return Grade(extracted is not None and medcalc_rules.check(calculator, extracted, item.gold,
                                                                       lower, upper),
                         note="official rule (not a number)")
        marked = None if whole_response or extracted is None else medcalc_rules.marked_number(kind, extracted)
        if marked is not None:
            return Grade(medcalc_rules.number_correct(kind, marked, item.gold, lower, upper),
                         note="official rule (N out of, N%, N mL/min/1.73)")
        status, value = mathverify.math_verify_call("number", "", pred)
        if status != "ok":
            return _failed(status)
        if value is None:
            return Grade(False, note=note or "math-verify found no number")
        return Grade(medcalc_rules.number_correct(kind, value, item.gold, lower, upper), note=note)
    status, value = mathverify.math_verify_call("verify", _gold_text(bench, item), pred)
    if status != "ok":
        return _failed(status)
    return Grade(bool(value), note=note)


def grade(grader: str, bench: MathBench, item: Item, response: str, extracted: Optional[str]) -> Grade:
    """Grade one sample: `extracted` is the final answer found in `response` (None if none)."""
    if check_grader(grader) == "standard":
        return _standard(bench, item, extracted)
    return _math_verify(bench, item, response, extracted, whole_response=grader == "math_verify_response")
