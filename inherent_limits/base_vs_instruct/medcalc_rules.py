"""MedCalc-Bench's official correctness rules (ncbi-nlp/MedCalc-Bench evaluation), with safe parsing.

Dates (calculators 13, 68) match as dates; gestational age (69) as a (weeks, days) pair; integer
calculators when the rounded answer equals the truth; decimal calculators when the answer lies within
[Lower Limit, Upper Limit]. Numbers are read with regexes and float(), never eval().
"""
from __future__ import annotations

import re
from typing import Optional

DATE_CALCULATORS = frozenset({13, 68})
WEEKS_DAYS_CALCULATORS = frozenset({69})
INTEGER_CALCULATORS = frozenset({4, 15, 16, 17, 18, 20, 21, 25, 27, 28, 29, 32, 33, 36, 43, 45, 48, 51})
DECIMAL_CALCULATORS = frozenset({2, 3, 5, 6, 7, 8, 9, 10, 11, 19, 22, 23, 24, 26, 30, 31, 38, 39, 40, 44,
                                 46, 49, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67})

_DATE = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)")
_WEEKS_DAYS = re.compile(r"(\d+)\s*(?:weeks?)?[\"'\s]*,?[\"'\s]*(?:and\s*)?(\d+)\s*(?:days?)?", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_OUT_OF = re.compile(r"(\d+) out of")
_LIST = re.compile(r"-?\d+(?:, ?-?\d+)+")
_GFR = re.compile(r"(-?\d+(?:\.\d+)?)\s*mL/min/1\.73")
_PERCENT = re.compile(r"(-?\d+(?:\.\d+)?)%")


def output_kind(calculator_id: int) -> str:
    """date, weeks_days, integer or decimal, from the official calculator id lists."""
    for kind, ids in (("date", DATE_CALCULATORS), ("weeks_days", WEEKS_DAYS_CALCULATORS),
                      ("integer", INTEGER_CALCULATORS), ("decimal", DECIMAL_CALCULATORS)):
        if calculator_id in ids:
            return kind
    raise ValueError(f"unknown MedCalc calculator id {calculator_id}")


def parse_date(text: str) -> Optional[tuple[int, int, int]]:
    """(month, day, year) of the first MM/DD/YYYY date (leading zeros optional)."""
    match = _DATE.search(text)
    if not match:
        return None
    month, day, year = (int(g) for g in match.groups())
    return (month, day, year) if 1 <= month <= 12 and 1 <= day <= 31 else None


def parse_weeks_days(text: str) -> Optional[tuple[int, int]]:
    """(weeks, days) from "(38 weeks, 2 days)", "('38 weeks', '2 days')", "[38, 2]"."""
    match = _WEEKS_DAYS.search(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def marked_number(kind: str, text: str) -> Optional[float]:
    """The official readings that look past the last number: "N out of" (integer calculators),
    "N mL/min/1.73" and "N%" as N/100 (decimal calculators); None when none applies."""
    if kind == "integer":
        match = _OUT_OF.search(text)
        return float(match.group(1)) if match else None
    match = _GFR.search(text)
    if match:
        return float(match.group(1))
    percents = _PERCENT.findall(text)
    return float(percents[-1]) / 100 if percents else None


def parse_integer_answer(text: str) -> Optional[float]:
    """The official integer reading: "N out of", a list's length, else the last number."""
    count = marked_number("integer", text)
    if count is not None:
        return count
    match = _LIST.search(text)
    if match:
        return float(len(match.group(0).split(",")))
    numbers = _NUMBER.findall(text)
    return float(numbers[-1]) if numbers else None


def parse_decimal_answer(text: str) -> Optional[float]:
    """The official decimal reading: "N mL/min/1.73", "N%" (as N/100), else the last number."""
    marked = marked_number("decimal", text)
    if marked is not None:
        return marked
    numbers = _NUMBER.findall(text)
    return float(numbers[-1]) if numbers else None


def number_correct(kind: str, value: float, gold: str, lower: str, upper: str) -> bool:
    """The official comparison of a parsed number (integer: rounded; decimal: within the limits)."""
    if kind == "integer":
        return round(value) == round(float(gold))
    return float(lower) <= value <= float(upper)


def check(calculator_id: int, answer: str, gold: str, lower: str, upper: str) -> bool:
    """Official correctness of an extracted answer string."""
    kind = output_kind(calculator_id)
    if kind == "date":
        got, want = parse_date(answer), parse_date(gold)
        return got is not None and got == want
    if kind == "weeks_days":
        got, want = parse_weeks_days(answer.replace("[", "(").replace("]", ")")), parse_weeks_days(gold)
        return got is not None and got == want
    value = (parse_integer_answer if kind == "integer" else parse_decimal_answer)(answer)
    return value is not None and number_correct(kind, value, gold, lower, upper)
