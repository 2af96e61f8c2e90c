"""Answer extraction per model type, option matching, the unparsable outcome."""
import pytest

from inherent_limits.answers import extract_answer, letter_option, normalize, verbatim_option

YN = ["yes", "no"]


@pytest.mark.parametrize("response, expected", [
    ("\nExample 1:\nPremise 1: a\nAnswer 1: no\n\nSolution:\nAnswer Solution: yes\nEND_EXAMPLES", "yes"),
    ("Answer Solution: No.\nAnswer Solution: yes", "no"),          # the first one counts; option casing
    ('Answer Solution: "yes"', "yes"),
    ("Answer Solution: **yes**", "yes"),
])
def test_tuned_model_reads_first_answer_solution(response, expected):
    got = extract_answer(response, base_model=False, options=YN)
    assert got.parsed and got.text == expected


def test_tuned_model_without_answer_form_is_unparsable():
    got = extract_answer("Example 1:\nAnswer 1: yes\n", base_model=False, options=YN)
    assert not got.parsed and got.text == ""


def test_tuned_answer_that_is_no_option_is_kept_verbatim():
    got = extract_answer("Answer Solution: perhaps\n", base_model=False, options=YN)
    assert got.parsed and got.text == "perhaps"


@pytest.mark.parametrize("response, expected", [
    ("\n\n  Yes.\nmore text", "yes"),                   # first non-empty line, matched to the option
    ("Answer: no\nAnswer Solution: yes", "no"),          # answer form on the first line
    ("The answer is maybe\nyes", "The answer is maybe"),  # no option: the whole first line
])
def test_base_model_reads_first_line(response, expected):
    got = extract_answer(response, base_model=True, options=YN)
    assert got.parsed and got.text == expected


def test_empty_base_response_is_unparsable():
    assert not extract_answer("\n \n", base_model=True, options=YN).parsed


def test_letters_only_in_letter_formats():
    options = ["red", "green", "blue"]
    assert extract_answer("Answer Solution: (b)", base_model=False, options=options, letter_format=True).text == "green"
    assert extract_answer("Answer Solution: C) blue", base_model=False, options=options,
                          letter_format=True).text == "blue"
    # outside a letter format a letter stays a letter
    assert extract_answer("Answer Solution: (b)", base_model=False, options=options).text == "(b)"
    assert letter_option("(z)", options) is None


def test_numeric_answers_drop_units():
    got = extract_answer("Answer Solution: $1,5%", base_model=False, options=["3", "15"], numeric=True)
    assert got.text == "1,5"
    assert extract_answer("Answer Solution: $15", base_model=False, options=["3", "15"], numeric=True).text == "15"


def test_regex_characters_in_options_are_literal():
    options = ["a+b (c)", "[x]*"]
    assert verbatim_option("[X]*.", options) == "[x]*"
    assert verbatim_option("a+b (c)", options) == "a+b (c)"
    assert normalize(' "Yes." ') == "yes"
