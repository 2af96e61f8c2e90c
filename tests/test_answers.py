"""Answer extraction per model type, option matching, the unparsable outcome, in both matching modes.

The reference mode's agreement with the reference itself is tests/test_scoring_reference.py.
"""
import pytest

from inherent_limits.evaluation.answers import (
    extract_answer,
    letter_option,
    normalize,
    reference_option,
    text_before_end_of_sequence,
    verbatim_option,
)

YN = ["yes", "no"]
COLOURS = ["red", "green", "blue"]


@pytest.mark.parametrize("response, normalised, reference", [
    ("\nExample 1:\nPremise 1: a\nAnswer 1: no\n\nSolution:\nAnswer Solution: yes\nEND_EXAMPLES", "yes", "yes"),
    ("Answer Solution: No.\nAnswer Solution: yes", "no", "No."),     # the first one counts; option casing
    ('Answer Solution: "yes"', "yes", '"yes"'),
    ("Answer Solution: **yes**", "yes", "yes**"),                    # the reference cuts only leading `*`
    ("Answer Solution:yes  ", "yes", "yes  "),
])
def test_tuned_model_reads_first_answer_solution(response, normalised, reference):
    got = extract_answer(response, base_model=False, options=YN, matching="normalised")
    assert got.parsed and got.text == normalised
    got = extract_answer(response, base_model=False, options=YN)
    assert got.parsed and got.text == reference


@pytest.mark.parametrize("matching", ["reference", "normalised"])
def test_tuned_model_without_answer_form_is_unparsable(matching):
    got = extract_answer("Example 1:\nAnswer 1: yes\n", base_model=False, options=YN, matching=matching)
    assert not got.parsed and got.text == ""


def test_tuned_answer_that_is_no_option_is_kept_verbatim():
    got = extract_answer("Answer Solution: perhaps\n", base_model=False, options=YN, matching="normalised")
    assert got.parsed and got.text == "perhaps"


@pytest.mark.parametrize("response, expected", [
    ("yes</s>", "yes"), ("Answer Solution: no</s>", "no"), ("\nno.</s>", "no."),
    ("Answer Solution: yes\n</s>", "yes"),    # no text before </s> on its line: Answer Solution: instead
    ("yes", ""),
])
def test_regular_prompt_model_answers_before_end_of_sequence(response, expected):
    got = extract_answer(response, base_model=False, options=YN, regular_prompt=True)
    assert got.text == expected and got.parsed == bool(expected)
    assert extract_answer("no</s>", base_model=False, options=YN, regular_prompt=True,
                          matching="normalised") == extract_answer("no</s>", base_model=False, options=YN)
    assert text_before_end_of_sequence("a\n</s>b</s>c") == "</s>b"


@pytest.mark.parametrize("response, normalised, reference", [
    ("\n\n  Yes.\nmore text", "yes", "yes"),                      # first non-empty line, matched to the option
    ("Answer: no\nAnswer Solution: yes", "no", "no"),             # answer form on the first line
    ("Answer: No", "no", "No"),                                   # after Answer: the reference compares exactly
    ("The answer is maybe\nyes", "The answer is maybe", "The answer is maybe"),  # no option: the whole line
])
def test_base_model_reads_first_line(response, normalised, reference):
    got = extract_answer(response, base_model=True, options=YN, matching="normalised")
    assert got.parsed and got.text == normalised
    got = extract_answer(response, base_model=True, options=YN)
    assert got.parsed and got.text == reference


@pytest.mark.parametrize("matching", ["reference", "normalised"])
def test_empty_base_response_is_unparsable(matching):
    assert not extract_answer("\n \n", base_model=True, options=YN, matching=matching).parsed


def test_letters_only_in_letter_formats():
    for matching in ("reference", "normalised"):
        kw = dict(base_model=False, options=COLOURS, matching=matching)
        assert extract_answer("Answer Solution: (b)", letter_format=True, **kw).text == "green"
        assert extract_answer("Answer Solution: C) blue", letter_format=True, **kw).text == "blue"
        # outside a letter format a letter stays a letter
        assert extract_answer("Answer Solution: (b)", **kw).text == "(b)"
    assert letter_option("(z)", COLOURS) is None


@pytest.mark.parametrize("answer, expected", [
    ("B", "green"), ("b.", "green"), ("**C**", "blue"), ('"A"', "red"), ("(a) red", "red"),
    ("'C'", "blue"), ("`C`", "blue"), ("[C]", "blue"), ("[b] fits", "green"),   # wrappers read like ( )
    ("a red ball", None), ("A red ball", None),      # an article before an option's text is no letter
    ("A re", None),                                  # ... nor before the start of one
    ("A is correct", "red"), ("A END_EXAMPLES", "red"), ("a: red", "red"),   # otherwise it is the letter
    ("The answer is (B)", None), ("Blue", None),     # only a letter at the start, never from a word
])
def test_letter_rules(answer, expected):
    assert letter_option(answer, COLOURS) == expected


def test_article_is_judged_against_the_options_with_their_articles():
    balls = ["the red ball", "the blue ball"]
    assert letter_option("A blue ball", balls) is None
    assert letter_option("a blue ball", ["a red ball", "a blue ball"]) is None   # the answer is option B's text
    assert letter_option("A red ball", ["18", "24"]) == "18"
    for matching in ("reference", "normalised"):
        got = extract_answer("Answer Solution: A END_EXAMPLES", base_model=False, options=balls,
                             letter_format=True, matching=matching)
        assert got.text == "the red ball"


def test_base_model_reads_letters_only_after_answer_in_reference_mode():
    kw = dict(base_model=True, options=COLOURS, letter_format=True)
    assert extract_answer("Answer: B", **kw).text == "green"
    assert extract_answer("B", **kw).text == "B"
    assert extract_answer("B", matching="normalised", **kw).text == "green"


def test_numeric_answers_drop_units():
    kw = dict(base_model=False, options=["3", "15"], numeric=True)
    for matching in ("reference", "normalised"):
        assert extract_answer("Answer Solution: $1,5%", matching=matching, **kw).text == "1,5"
        assert extract_answer("Answer Solution: $15", matching=matching, **kw).text == "15"


@pytest.mark.parametrize("matching", ["reference", "normalised"])
@pytest.mark.parametrize("response, parsed", [("Answer: 3.5", True), ("high", False), ("Answer: ", False),
                                              ("Answer: 3 out of 5", False)])
def test_stsb_non_number_is_unparsable(matching, response, parsed):
    got = extract_answer(response, base_model=True, options=[str(i) for i in range(6)], numeric=True,
                         regression=True, matching=matching)
    assert got.parsed == parsed


def test_regex_characters_in_options_are_literal():
    options = ["a+b (c)", "[x]*"]
    assert verbatim_option("[X]*.", options) == "[x]*"
    assert verbatim_option("a+b (c)", options) == "a+b (c)"
    assert reference_option('"[X]*"..', options) == "[x]*"
    assert reference_option(" a+b (c)", options) is None     # the reference keeps spaces
    assert normalize(' "Yes." ') == "yes"


def test_unknown_matching_mode():
    with pytest.raises(ValueError, match="answer matching 'exact'"):
        extract_answer("yes", base_model=True, matching="exact")
