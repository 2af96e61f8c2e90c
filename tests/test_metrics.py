"""Task metrics: hand-computed values on tiny examples, and agreement with the libraries called directly."""
import math
import warnings

import pytest
import sacrebleu
import scipy.stats
import sklearn.metrics

from inherent_limits.core.errors import UserError
from inherent_limits.data.registry import TASKS
from inherent_limits.evaluation.metrics import (
    METRICS,
    compute_metrics,
    metric_columns,
    primary_column,
    word_edit_distance,
)

NO_YES = ["no", "yes"]


def test_accuracy_exact_match_and_none_never_matches():
    got = compute_metrics(["accuracy"], ["yes", "Yes", None, "no"], ["yes", "yes", "no", "no"])
    assert got == {"accuracy": 50.0}  # 2 of 4 equal exactly ("Yes" != "yes", None matches nothing)


def test_f1_invalid_counts_invalid_as_the_wrong_class():
    preds, gold = ["yes", "no", None, "yes", "maybe"], ["yes", "yes", "no", "no", "yes"]
    got = compute_metrics(["f1_invalid", "accuracy"], preds, gold, options=[NO_YES] * 5)
    # classes: gold [1,1,0,0,1]; pred [1,0,inv->1,1,inv->0]: TP=1 FP=2 FN=2 -> F1 = 2/(2+2+2) = 1/3
    assert got["f1"] == pytest.approx(100 / 3)
    assert got["f1"] == pytest.approx(100 * sklearn.metrics.f1_score([1, 1, 0, 0, 1], [1, 0, 1, 1, 0]))
    assert got["accuracy"] == pytest.approx(20.0)


def test_f1_without_positives_is_zero_and_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compute_metrics(["f1_invalid"], ["no", "no"], ["no", "no"], options=[NO_YES] * 2) == {"f1": 0.0}


def test_mcc_by_hand_and_with_invalid_answers():
    got = compute_metrics(["mcc"], ["yes", "yes", "yes", "no"], ["yes", "yes", "no", "no"],
                          options=[NO_YES] * 4)
    # TP=2 TN=1 FP=1 FN=0: (2*1 - 1*0) / sqrt(3*2*1*2) = 2/sqrt(12)
    assert got["matthews_corrcoef"] == pytest.approx(100 * 2 / math.sqrt(12))
    preds, gold = ["yes", None, "no", "x", "no"], ["yes", "yes", "no", "no", "yes"]
    # normalised: every invalid answer is -1; reference: each distinct answer its own class (as strings)
    got = compute_metrics(["mcc"], preds, gold, options=[NO_YES] * 5, matching="normalised")
    expected = sklearn.metrics.matthews_corrcoef([1, 1, 0, 0, 1], [1, -1, 0, -1, 0])
    assert got["matthews_corrcoef"] == pytest.approx(100 * expected)
    got = compute_metrics(["mcc"], preds, gold, options=[NO_YES] * 5)
    expected = sklearn.metrics.matthews_corrcoef(gold, ["yes", "", "no", "x", "no"])
    assert got["matthews_corrcoef"] == pytest.approx(100 * expected)
    assert expected != sklearn.metrics.matthews_corrcoef([1, 1, 0, 0, 1], [1, -1, 0, -1, 0])


def test_mean_multiclass_f1_invalid_is_a_miss():
    opts = ["yes", "it is not possible to tell", "no"]
    preds = ["yes", "no", None, "banana"]
    gold = ["yes", "it is not possible to tell", "no", "no"]
    got = compute_metrics(["mean_multiclass_f1", "accuracy"], preds, gold, options=[opts] * 4)
    # gold [0,1,2,2], pred [0,2,-1,-1]: F1 class0 = 1, class1 = 0, class2 = 0 (one wrong 2, two misses)
    assert list(got) == ["mean_3class_f1", "accuracy"]
    assert got["mean_3class_f1"] == pytest.approx(100 / 3)
    direct = sklearn.metrics.f1_score([0, 1, 2, 2], [0, 2, -1, -1], labels=[0, 1, 2], average="macro")
    assert got["mean_3class_f1"] == pytest.approx(100 * direct)


def test_correlations_unparsable_prediction_is_minus_one():
    got = compute_metrics(["pearson", "spearman"], ["1", "2.0", "three"], ["1", "2", "3"])
    # x=(1,2,3), y=(1,2,-1): dx=(-1,0,1), dy=(1/3,4/3,-5/3): r = -2 / sqrt(2 * 14/3)
    assert got["pearson_corrcoef"] == pytest.approx(-100 * 2 / math.sqrt(28 / 3))
    # ranks x=(1,2,3), y=(2,3,1): d^2 = 1+1+4 = 6: rho = 1 - 6*6/(3*8) = -0.5
    assert got["spearman_corrcoef"] == pytest.approx(-50.0)
    preds, gold = ["0.5", "4.1", "nan", "3", None, "2.2"], ["0.4", "3.8", "1.0", "2.5", "5", "2.0"]
    got = compute_metrics(["pearson", "spearman"], preds, gold)
    y = [0.5, 4.1, -1.0, 3.0, -1.0, 2.2]  # "nan" and None are no usable numbers
    x = [float(g) for g in gold]
    assert got["pearson_corrcoef"] == pytest.approx(100 * scipy.stats.pearsonr(x, y)[0])
    assert got["spearman_corrcoef"] == pytest.approx(100 * scipy.stats.spearmanr(x, y)[0])


def test_degenerate_correlations_are_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = compute_metrics(["pearson", "spearman"], ["2", "2", "2"], ["1", "2", "3"])
        assert math.isnan(got["pearson_corrcoef"]) and math.isnan(got["spearman_corrcoef"])
        got = compute_metrics(["pearson", "spearman"], ["2"], ["1"])
        assert math.isnan(got["pearson_corrcoef"]) and math.isnan(got["spearman_corrcoef"])


def test_multirc_groups():
    gold = ["yes", "no", "yes", "no", "no"]
    preds = ["yes", "no", None, "no", "yes"]
    groups = ["q1", "q1", "q2", "q3", "q3"]
    got = compute_metrics(["multirc_f1a", "multirc_em"], preds, gold, options=[NO_YES] * 5, groups=groups)
    # q1 all right, q2 wrong (None), q3 one wrong -> EM = 1/3
    assert got["exact_match"] == pytest.approx(100 / 3)
    # gold [1,0,1,0,0], pred [1,0,inv->0,0,1]: TP=1 FP=1 FN=1 -> F1a = 2/4
    assert got["f1a"] == pytest.approx(50.0)


def test_squad_normalisation_and_references_per_mode():
    got = compute_metrics(["squad"], ["The Cat!"], ["cat"])
    assert got == {"em": 100.0, "f1": 100.0}
    preds, gold, refs = ["big cat", None], ["the dog", "Paris"], [["the dog", "a big black cat"], ["Paris"]]
    got = compute_metrics(["squad"], preds, gold, references=refs, matching="normalised")
    # max over references: "big cat" vs "big black cat": P=2/2 R=2/3 F1=0.8, EM 0; item 2: "" scores 0
    assert got["em"] == 0.0
    assert got["f1"] == pytest.approx(100 * 0.8 / 2)
    # reference: the target (first accepted answer) only: "big cat" vs "dog" shares nothing
    assert compute_metrics(["squad"], preds, gold, references=refs) == {"em": 0.0, "f1": 0.0}


def test_trivia_qa_replaces_punctuation_by_spaces():
    pred, gold = ["rock n roll"], ["Rock`n`Roll"]
    assert compute_metrics(["trivia_qa"], pred, gold)["em"] == 100.0  # "rock n roll" both
    assert compute_metrics(["squad"], pred, gold)["em"] == 0.0        # "rocknroll" vs "rock n roll"
    assert compute_metrics(["trivia_qa"], ["o neill"], ["O‘Neill"])["em"] == 100.0


def test_rouge_by_hand():
    preds = ["cats meow . dogs bark", "running"]
    gold = ["dogs bark . cats meow", "runs"]
    got = compute_metrics(["rouge"], preds, gold)
    # item 1: unigrams 4/4 -> rouge1 1; bigrams 2 of 3 shared -> rouge2 2/3; rougeLsum splits at " . "
    #   so each gold sentence has an exact match -> 1 (plain LCS would give 0.5)
    # item 2: no stemmer, "running" != "runs" -> all 0
    assert got["rouge1"] == pytest.approx(50.0)
    assert got["rouge2"] == pytest.approx(100 * (2 / 3) / 2)
    assert got["rougeLsum"] == pytest.approx(50.0)


def test_bleu_equals_sacrebleu():
    preds = ["the cat sat on the mat .", "a quick brown fox jumps", None]
    gold = ["the cat is on the mat .", "the quick brown fox jumps over", "hello world"]
    kw = dict(smooth_method="exp", tokenize="intl")
    expected = sacrebleu.corpus_bleu([p or "" for p in preds], [gold], **kw).score
    assert compute_metrics(["bleu"], preds, gold) == {"bleu": pytest.approx(expected)}
    refs = [["the cat is on the mat .", "there is a cat on the mat ."], ["quick brown fox jumps"], ["hi"]]
    streams = [[r[0] for r in refs], [refs[0][1], None, None]]
    expected = sacrebleu.corpus_bleu([p or "" for p in preds], streams, **kw).score
    got = compute_metrics(["bleu"], preds, gold, references=refs, matching="normalised")["bleu"]
    assert got == pytest.approx(expected)
    # reference matching scores against the targets only
    assert compute_metrics(["bleu"], preds, gold, references=refs)["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu([p or "" for p in preds], [gold], **kw).score)


def test_edit_distance_by_hand():
    assert word_edit_distance("kitten", "sitting") == 3
    assert word_edit_distance([], ["a", "b"]) == 2
    preds = ["Hello, world", "a b c", None, "The cat sat."]
    gold = ["hello world", "a c", "x y", "the cat sat."]
    got = compute_metrics(["edit_distance"], preds, gold)
    # words: [hello,"",world] vs [hello,world] = 1; [a,b,c] vs [a,c] = 1; [""] vs [x,y] = 2; equal = 0
    assert got == {"min_edit": 0.0, "max_edit": 2.0, "mean_edit": 1.0, "median_edit": 1.0, "sum_edit": 4.0}


def test_user_mistakes_and_caller_errors():
    with pytest.raises(UserError, match="unknown metric 'bluE'.*accuracy"):
        compute_metrics(["bluE"], ["a"], ["a"])
    with pytest.raises(UserError, match="no predictions to score"):
        compute_metrics(["accuracy"], [], [])
    with pytest.raises(UserError, match="item 1: target 'maybe' is none of its options"):
        compute_metrics(["f1_invalid"], ["yes", "no"], ["yes", "maybe"], options=[NO_YES] * 2)
    with pytest.raises(UserError, match="item 0: target 'high' is not a number"):
        compute_metrics(["pearson"], ["1", "2"], ["high", "2"])
    with pytest.raises(ValueError, match="options"):
        compute_metrics(["mcc"], ["yes"], ["yes"])
    with pytest.raises(ValueError, match="groups"):
        compute_metrics(["multirc_em"], ["yes"], ["yes"])
    with pytest.raises(ValueError, match="targets has 1 entries for 2 predictions"):
        compute_metrics(["accuracy"], ["a", "b"], ["a"])
    with pytest.raises(ValueError, match="one list of strings per item"):
        compute_metrics(["squad"], ["a"], ["a"], references=["a"])
    with pytest.raises(ValueError, match="matching 'exact'"):
        compute_metrics(["accuracy"], ["a"], ["a"], matching="exact")
    with pytest.raises(ValueError, match="'f1'"):
        metric_columns(["squad", "f1_invalid"])
    with pytest.raises(ValueError, match="num_options"):
        metric_columns(["mean_multiclass_f1"])


def test_registry_tasks_produce_their_columns():
    used = {m for spec in TASKS.values() for m in spec.metrics}
    assert used <= set(METRICS)
    for spec in TASKS.values():
        gold = list(spec.label_names) or ["a b c", "d e"]
        n = len(gold)
        got = compute_metrics(spec.metrics, gold[::-1], gold,
                              options=[spec.label_names] * n if spec.label_names else None,
                              groups=["g"] * n)
        assert list(got) == metric_columns(spec.metrics, len(spec.label_names)), spec.name
        assert all(type(v) is float for v in got.values()), spec.name
    assert primary_column(TASKS["cb"].metrics, 3) == "mean_3class_f1"
    assert primary_column(TASKS["squad"].metrics) == "em"
    assert primary_column(TASKS["stsb"].metrics) == "pearson_corrcoef"
    assert metric_columns(TASKS["xsum"].metrics) == ["rouge1", "rouge2", "rougeLsum"]
