"""Answer extraction and both graders on hand-written cases, including the anchors' known pitfalls."""
import threading

import pytest

from inherent_limits.base_vs_instruct import mathverify
from inherent_limits.base_vs_instruct.benchmarks import get_bench
from inherent_limits.base_vs_instruct.extraction import (
    STOP_STRINGS,
    cut_at_stops,
    extract,
    extractor_prompt,
    parse_extractor_output,
)
from inherent_limits.base_vs_instruct.graders import DEFAULT_GRADERS, grade
from inherent_limits.base_vs_instruct.hendrycks import is_equiv, strip_string
from inherent_limits.base_vs_instruct.items import Item
from inherent_limits.core.errors import UserError

GSM8K, MATH, MEDCALC = get_bench("gsm8k"), get_bench("math500"), get_bench("medcalc")


def _item(gold, **meta):
    return Item("t-1", "question?", gold, "", meta)


def _medcalc_item(calculator_id, gold, lower=None, upper=None):
    return _item(gold, calculator_id=calculator_id, lower_limit=lower or gold, upper_limit=upper or gold)


def _grades(bench, item, response, stops=None):
    """{grader: correct} for a response, extracting the answer as the runner does."""
    found = extract(bench.answer_kind, response, stops)
    return {g: grade(g, bench, item, response, found.answer if found else None).correct for g in DEFAULT_GRADERS}


# --- extraction ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, text, answer", [
    ("gsm8k", "3 * 4 = 12 eggs.\n#### 1,000\n", "1,000"),
    ("gsm8k", "So the answer is **73**.", "73"),
    ("gsm8k", "The total is $1,000.", "1,000"),
    ("gsm8k", "Prices rose by 10%.", "10"),
    ("gsm8k", "He owes -5 dollars in the end", "-5"),
    ("gsm8k", "Thus $\\boxed{\\$42}$.", "42"),
    ("math", "so $\\boxed{\\frac{1}{2}}$ and done", "\\frac{1}{2}"),
    ("math", "we get \\boxed{\\left( 5, \\frac{3\\pi}{2} \\right)}.", "\\left( 5, \\frac{3\\pi}{2} \\right)"),
    ("math", "hence \\boxed 7.", "7"),
    ("math", "Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}"),
    ("math", "x equals 3/4", "3/4"),
    ("math", "So the answer is $5$, since $x = 2$.", "5"),
    ("medcalc", "The answer is 23.5 kg/m^2. This is overweight.", "23.5 kg/m^2"),
    ("medcalc", '{"step_by_step_thinking": "BMI = 82 / 1.78^2 {kg}", "answer": "25.9"}', "25.9"),
    ("medcalc", '```json\n{"step_by_step_thinking": "MAP", "answer": 110}\n```', "110"),
    ("medcalc", '{"step_by_step_thinking": "x", "answer": ["10 weeks", "6 days"]}', '["10 weeks", "6 days"]'),
    ("medcalc", '{"step_by_step_thinking": "broken JSON, "answer": "04/11/2024"}', "04/11/2024"),
    ("medcalc", "The estimated gestational age is (12 weeks, 3 days)", "(12 weeks, 3 days)"),
    ("medcalc", "Counting up, the due date is 03/05/2024", "03/05/2024"),
])
def test_extraction_and_its_character_span(kind, text, answer):
    found = extract(kind, text)
    assert found is not None and found.answer == answer
    assert text[found.start:found.end] == answer


def test_nothing_to_extract_is_none():
    assert extract("gsm8k", "I do not know.") is None
    assert extract("math", "") is None


def test_run_on_continuation_is_cut_at_the_stop_string():
    text = "She has 72 apples. The answer is 72.\nQ: Tom has 3 cars and buys 2. The answer is 5."
    assert cut_at_stops(text, STOP_STRINGS["gsm8k"]) == "She has 72 apples. The answer is 72."
    assert extract("gsm8k", text).answer == "72"
    assert extract("gsm8k", text, stops=()).answer == "5"   # the pitfall without cutting
    assert _grades(GSM8K, _item("72"), text) == {"standard": True, "math_verify": True}
    assert _grades(GSM8K, _item("72"), text, stops=()) == {"standard": False, "math_verify": False}


def test_extractor_model_hook():
    prompt = extractor_prompt("How many?", "I think 4 + 3 = 7.")
    assert "How many?" in prompt and "4 + 3 = 7" in prompt and prompt.endswith("Final answer:")
    assert parse_extractor_output("<think>4 + 3 is 7</think>\n\n$\\boxed{7}$") == "7"
    assert parse_extractor_output(" The final answer is: 3.5 kg.\nmore") == "3.5 kg"
    assert parse_extractor_output("NONE") is None
    assert parse_extractor_output("<think>unfinished") is None


# --- standard grader ------------------------------------------------------------------------------

@pytest.mark.parametrize("response, gold, standard, math_verify", [
    ("The total is $1,000.", "1,000", True, True),
    ("So the answer is **73**.", "73", True, True),
    ("It grew by 10%.", "10", True, True),
    ("#### 18\n", "18", True, True),
    ("She pays 7 dollars, so 19", "18", False, False),
])
def test_gsm8k_graders(response, gold, standard, math_verify):
    assert _grades(GSM8K, _item(gold), response) == {"standard": standard, "math_verify": math_verify}


@pytest.mark.parametrize("response, gold, standard, math_verify", [
    ("so $\\boxed{0.5}$", "\\frac{1}{2}", True, True),            # strip_string turns 0.5 into \frac{1}{2}
    ("so $\\boxed{0.25}$", "\\frac{1}{4}", False, True),          # ... but no other decimal: graders disagree
    ("so $\\boxed{\\dfrac12}$", "\\frac{1}{2}", True, True),
    ("so $\\boxed{10\\%}$", "10", True, True),
    ("The answer is 10%.", "10", False, True),                    # a bare % is not stripped by Hendrycks
    ("\\boxed{(5,\\frac{3\\pi}{2})}", "\\left( 5, \\frac{3\\pi}{2} \\right)", True, True),
    ("\\boxed{x = 5}", "5", True, True),
    ("\\boxed{90^\\circ}", "90", True, True),
    ("\\boxed{\\frac{2}{4}}", "\\frac{1}{2}", False, True),
    ("\\boxed{\\frac{1}{3}}", "\\frac{1}{2}", False, False),
])
def test_math_graders(response, gold, standard, math_verify):
    assert _grades(MATH, _item(gold), response) == {"standard": standard, "math_verify": math_verify}


def test_strip_string_rules():
    assert strip_string("\\dfrac12") == strip_string("\\tfrac{1}{2}") == "\\frac{1}{2}"
    assert strip_string("\\frac1{72}") == "\\frac{1}{72}"
    assert strip_string("3/4") == "\\frac{3}{4}"
    assert strip_string("\\sqrt3") == "\\sqrt{3}"
    assert strip_string(".5") == "\\frac{1}{2}"
    assert strip_string("5\\text{ cm}") == "5"
    assert strip_string("\\$ 12") == "12"
    assert is_equiv(None, None) and not is_equiv("1", None)


@pytest.mark.parametrize("calculator, gold, lower, upper, answer, correct", [
    (13, "04/11/2024", None, None, "4/11/2024", True),                 # dates: leading zeros ignored
    (13, "04/11/2024", None, None, "The due date is 04/12/2024", False),
    (68, "03/23/2024", None, None, "2024-03-23", False),               # only MM/DD/YYYY is read
    (69, "('10 weeks', '6 days')", None, None, "(10 weeks, 6 days)", True),
    (69, "('10 weeks', '6 days')", None, None, '["10 weeks", "6 days"]', True),
    (69, "('10 weeks', '6 days')", None, None, "(10, 6)", True),
    (69, "('10 weeks', '6 days')", None, None, "(10 weeks, 5 days)", False),
    (4, "5", None, None, "5.4", True),                                # integer calculators: rounded
    (4, "5", None, None, "5.6", False),
    (45, "3", None, None, "3 out of 5 criteria", True),
    (6, "25.88057", "24.58654", "27.1746", "26.9", True),             # decimals: within the limits
    (6, "25.88057", "24.58654", "27.1746", "26.9 kg/m^2", False),     # official: the last number, m^2's 2
    (6, "25.88057", "24.58654", "27.1746", "24.5", False),
    (6, "25.88057", "24.58654", "27.1746", "27.1746", True),
    (31, "0.6", "0.57", "0.63", "60%", True),                          # "N%" reads as N/100
])
def test_medcalc_standard_rules(calculator, gold, lower, upper, answer, correct):
    item = _medcalc_item(calculator, gold, lower, upper)
    assert grade("standard", MEDCALC, item, answer, answer).correct is correct


def test_medcalc_from_the_json_answer_through_both_graders():
    bmi = _medcalc_item(6, "25.88057", "24.58654", "27.1746")
    response = '{"step_by_step_thinking": "82 / 1.78^2 = 25.9", "answer": "25.9"}'
    assert _grades(MEDCALC, bmi, response) == {"standard": True, "math_verify": True}
    response = '{"step_by_step_thinking": "82 / 1.78^2 = 25.9", "answer": "25.9 kg/m^2"}'
    assert _grades(MEDCALC, bmi, response) == {"standard": False, "math_verify": True}  # units: graders differ
    due = _medcalc_item(13, "04/11/2024")
    response = '{"step_by_step_thinking": "add 40 weeks", "answer": "04/11/2024"}'
    assert _grades(MEDCALC, due, response) == {"standard": True, "math_verify": True}
    assert _grades(MEDCALC, due, "no idea") == {"standard": False, "math_verify": False}


def test_unknown_grader_is_refused():
    with pytest.raises(UserError, match="unknown grader 'exact'.*standard, math_verify"):
        grade("exact", GSM8K, _item("1"), "1", "1")


# --- math-verify timeouts -------------------------------------------------------------------------

PATHOLOGICAL = "(1+x)^{100000}"


def test_math_verify_times_out_on_the_main_thread(monkeypatch):
    monkeypatch.setattr(mathverify, "TIMEOUT_S", 1)
    result = grade("math_verify", MATH, _item("2"), "", PATHOLOGICAL)
    assert (result.correct, result.timed_out) == (False, True) and "timed out" in result.note


def test_math_verify_works_and_times_out_off_the_main_thread(monkeypatch):
    monkeypatch.setattr(mathverify, "TIMEOUT_S", 1)
    results = []

    def work():
        for answer in ("0.5", PATHOLOGICAL, "0.5", "0.3"):
            results.append(grade("math_verify", MATH, _item("\\frac{1}{2}"), "", answer))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=120)
    assert [(r.correct, r.timed_out) for r in results] == [(True, False), (False, True), (True, False),
                                                            (False, False)]


def test_worker_is_killed_when_it_overruns_and_restarts():
    assert mathverify._WORKER.call("verify", "\\boxed{1}", "\\boxed{1}", 1) == ("ok", True)  # warm
    # timeout 0 turns math-verify's own alarm off: only the hard deadline stops the computation
    assert mathverify._WORKER.call("verify", "\\boxed{2}", f"\\boxed{{{PATHOLOGICAL}}}", 0) == ("timeout", None)
    assert mathverify._WORKER.call("verify", "\\boxed{1}", "\\boxed{1}", 1) == ("ok", True)
    mathverify._WORKER.close()
