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
from inherent_limits.base_vs_instruct.graders import DEFAULT_GRADERS, GRADERS, grade
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


# --- faults found against the anchors (lm-eval, Hendrycks, MedCalc-Bench, math-verify) -------------

def test_gsm8k_answer_followed_by_its_working_reads_the_result():
    text = "So the answer is 124 + 162 = 286 muffins, times $3 = $858."
    assert extract("gsm8k", text).answer == "858"
    assert _grades(GSM8K, _item("858"), text) == {"standard": True, "math_verify": True}
    assert extract("gsm8k", "The answer is 10 apples, and 3 are left.").answer == "10"   # no working: first


def test_run_on_after_a_sentence_is_cut_at_q_anywhere():
    text = "He sells 286 muffins at $3. The answer is 858. Q: Tom has 4 pens and buys 6. The answer is 10."
    assert cut_at_stops(text, STOP_STRINGS["gsm8k"]) == "He sells 286 muffins at $3. The answer is 858."
    assert _grades(GSM8K, _item("858"), text) == {"standard": True, "math_verify": True}
    text = "The answer is $\\frac{1}{2}$. Problem: Find $x$. The answer is $3$."
    assert extract("math", text).answer == "\\frac{1}{2}"


@pytest.mark.parametrize("text", ["Thus \\boxed{\\$104{,}000}", "She earns $104\\,000 in total."])
def test_latex_thousands_separators(text):
    found = extract("gsm8k", text)
    assert found.answer == "104,000" and text[found.start:found.end].startswith("104")
    assert _grades(GSM8K, _item("104,000"), text) == {"standard": True, "math_verify": True}


@pytest.mark.parametrize("response, answer, standard, math_verify", [
    ("The answer is 10 divisors.", "10", True, True),              # was \boxed{10 divisors}: a product
    ("The final answer is \\(\\frac{14}{3}\\).", "\\frac{14}{3}", True, True),
    ("The final answer is \\[\\frac{14}{3}\\]", "\\frac{14}{3}", True, True),
    ("The answer is 10 because 2 * 5 = 10.", "10", True, True),
    ("The answer is therefore $10$.", "10", True, True),
    ("The answer is 10\\text{ divisors}.", "10\\text{ divisors}", True, True),   # braces: not prose
    ("Solving for x we get $x = \\frac{14}{3}$.", "x = \\frac{14}{3}", True, True),
    ("So there are $6$ ways, plus 4 more: 10.", "10", True, True),  # a later number beats earlier math
])
def test_math_answers_without_a_box(response, answer, standard, math_verify):
    gold = "10" if "10" in answer else "\\frac{14}{3}"
    found = extract("math", response)
    assert found.answer == answer and response[found.start:found.end] == answer
    assert _grades(MATH, _item(gold), response) == {"standard": standard, "math_verify": math_verify}


def test_medcalc_official_readings_hold_under_math_verify():
    score = _medcalc_item(45, "5")
    for response in ("The score is 5 out of 9", '{"step_by_step_thinking": "...", "answer": "5 out of 9"}'):
        assert extract("medcalc", response).answer == "5 out of 9"
        assert _grades(MEDCALC, score, response) == {"standard": True, "math_verify": True}
    assert grade("math_verify", MEDCALC, _medcalc_item(45, "9"), "", "5 out of 9").correct is False
    ratio = _medcalc_item(31, "0.6", "0.57", "0.63")
    assert _grades(MEDCALC, ratio, '{"step_by_step_thinking": "x", "answer": "60%"}') == {
        "standard": True, "math_verify": True}


@pytest.mark.parametrize("response, extracted_mode, response_mode", [
    ("The answer is 7, not $\\frac{15}{2}$.", True, False),    # the extractor reads 7; math-verify 15/2
    ("Final answer: $7$ (3 checks)", False, True),             # the extractor reads 3; math-verify 7
])
def test_math_verify_reads_the_extracted_answer_or_the_whole_response(response, extracted_mode, response_mode):
    found = extract("math", response)
    got = {g: grade(g, MATH, _item("7"), response, found.answer).correct for g in GRADERS}
    assert got == {"standard": extracted_mode, "math_verify": extracted_mode, "math_verify_response": response_mode}


def test_the_per_sample_log_names_which_math_verify_ran():
    from inherent_limits.base_vs_instruct.runner import Grading
    _, cells = Grading(GRADERS).grade(MATH, _item("7"), "Final answer: $7$ (3 checks)")
    assert cells["extracted"] == "3"
    assert (cells["correct_math_verify"], cells["correct_math_verify_response"]) == (False, True)


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
