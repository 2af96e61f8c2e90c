"""Task metrics of the study, with T5's definitions and the reference's log column names.

Each registry entry in `METRICS` maps a `MetricInput` to `{column: float}`; `compute_metrics`
builds the input, runs the named metrics and merges their columns. Values are percentages
(x100) except BLEU (already 0-100) and the edit distances (word counts).

Predictions of `None` are unparsable answers: they match no target or option, count as the
empty string for text metrics (squad, trivia_qa, rouge, bleu, edit_distance) and as -1.0
for the correlations. Class-index metrics map an answer to the index of the item's option it
equals exactly; an answer that is no option is invalid (T5: f1 sets it to the wrong class,
macro F1 counts it as no class; mcc gives it the index -1 in `normalised` matching, and in
`reference` matching one class per distinct answer, as the reference's string labels did).
In `reference` matching, squad, trivia_qa and bleu score against the target (the first
accepted answer), as the reference; `normalised` takes the best over all references.
Degenerate inputs never raise: a correlation over fewer than two items or a constant series
is NaN; sklearn's own conventions stand elsewhere (F1 with no positive items is 0.0, MCC of
a single class is 0.0), as in T5.
"""
from __future__ import annotations

import math
import re
import string
import warnings
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Optional, Sequence

import numpy as np
import sacrebleu
import scipy.stats
import sklearn.metrics
from rouge_score import rouge_scorer
from tqdm import tqdm

from inherent_limits.core.errors import UserError

INVALID = -1            # class index of a prediction that is none of the item's options
UNPARSABLE_FLOAT = -1.0  # T5's string_to_float default
_ROUGE_KEYS = ("rouge1", "rouge2", "rougeLsum")


@dataclass(frozen=True)
class MetricInput:
    """Everything a metric may read; one entry per test item in each sequence."""
    predictions: tuple[Optional[str], ...]
    targets: tuple[str, ...]
    references: tuple[tuple[str, ...], ...]
    options: Optional[tuple[tuple[str, ...], ...]] = None
    groups: Optional[tuple[str, ...]] = None
    distinct_invalid: bool = False   # each distinct invalid answer is its own class (else all INVALID)

    @cached_property
    def texts(self) -> list[str]:
        """Predictions with unparsable ones as ""."""
        return ["" if p is None else p for p in self.predictions]

    @cached_property
    def class_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """(target indices, prediction indices) into each item's options; invalid = INVALID."""
        if self.options is None:
            raise ValueError("this metric needs the items' options (options=...)")
        gold, pred, invalid = [], [], {}
        for i, (target, prediction, opts) in enumerate(zip(self.targets, self.predictions, self.options)):
            index = {o: k for k, o in reversed(list(enumerate(opts)))}
            if target not in index:
                raise UserError(f"item {i}: target {target!r} is none of its options {list(opts)}; "
                                "check that the test set matches the task")
            gold.append(index[target])
            if prediction in index:
                pred.append(index[prediction])
            elif self.distinct_invalid:
                pred.append(invalid.setdefault(prediction or "", INVALID - len(invalid)))
            else:
                pred.append(INVALID)
        return np.array(gold), np.array(pred)

    def num_options(self) -> int:
        """The one option count all items share (for multiclass F1)."""
        if self.options is None:
            raise ValueError("this metric needs the items' options (options=...)")
        counts = {len(o) for o in self.options}
        if len(counts) != 1:
            raise UserError(f"items have different numbers of options {sorted(counts)}; "
                            "mean_multiclass_f1 needs one label set")
        return counts.pop()


# --- classification ---------------------------------------------------------------------------

def accuracy(x: MetricInput) -> dict[str, float]:
    hits = [p is not None and p == t for p, t in zip(x.predictions, x.targets)]
    return {"accuracy": 100.0 * float(np.mean(hits))}


def _binary_f1_with_invalid(x: MetricInput) -> float:
    gold, pred = x.class_indices
    if gold.max() > 1:
        raise UserError("a binary F1 metric got targets beyond the second option; "
                        "the task's options must be two (negative, positive)")
    pred = np.where((pred == 0) | (pred == 1), pred, 1 - gold)
    return 100.0 * float(sklearn.metrics.f1_score(gold, pred, labels=[0, 1], pos_label=1,
                                                  zero_division=0.0))


def f1_invalid(x: MetricInput) -> dict[str, float]:
    return {"f1": _binary_f1_with_invalid(x)}


def multirc_f1a(x: MetricInput) -> dict[str, float]:
    return {"f1a": _binary_f1_with_invalid(x)}


def mcc(x: MetricInput) -> dict[str, float]:
    gold, pred = x.class_indices
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"matthews_corrcoef": 100.0 * float(sklearn.metrics.matthews_corrcoef(gold, pred))}


def mean_multiclass_f1(x: MetricInput) -> dict[str, float]:
    n = x.num_options()
    gold, pred = x.class_indices
    value = sklearn.metrics.fbeta_score(gold, pred, beta=1, labels=list(range(n)), average="macro",
                                        zero_division=0.0)
    return {f"mean_{n}class_f1": 100.0 * float(value)}


def multirc_em(x: MetricInput) -> dict[str, float]:
    if x.groups is None:
        raise ValueError("multirc_em needs a group id per item (groups=...)")
    all_right: dict[str, bool] = {}
    for group, p, t in zip(x.groups, x.predictions, x.targets):
        all_right[group] = all_right.get(group, True) and p is not None and p == t
    return {"exact_match": 100.0 * float(np.mean(list(all_right.values())))}


# --- regression --------------------------------------------------------------------------------

def _prediction_float(text: Optional[str]) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return UNPARSABLE_FLOAT
    return value if math.isfinite(value) else UNPARSABLE_FLOAT


def _target_floats(targets: Sequence[str]) -> list[float]:
    out = []
    for i, t in enumerate(targets):
        try:
            out.append(float(t))
        except (TypeError, ValueError):
            raise UserError(f"item {i}: target {t!r} is not a number; pearson/spearman need "
                            "numeric targets") from None
    return out


def _correlation(fn: Callable, x: MetricInput) -> float:
    if len(x.targets) < 2:
        return float("nan")
    gold = _target_floats(x.targets)
    pred = [_prediction_float(p) for p in x.predictions]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return 100.0 * float(fn(gold, pred)[0])


def pearson(x: MetricInput) -> dict[str, float]:
    return {"pearson_corrcoef": _correlation(scipy.stats.pearsonr, x)}


def spearman(x: MetricInput) -> dict[str, float]:
    return {"spearman_corrcoef": _correlation(scipy.stats.spearmanr, x)}


# --- question answering (SQuAD v1.1 / TriviaQA official normalisation) --------------------------

_SQUAD_PUNCT = frozenset(string.punctuation)
_TRIVIA_PUNCT = frozenset(string.punctuation + "‘’´`_")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def _normalize(text: str, punct: frozenset, replacement: str) -> str:
    text = "".join(replacement if ch in punct else ch for ch in text.lower())
    return " ".join(_ARTICLES.sub(" ", text).split())


def normalize_squad(text: str) -> str:
    return _normalize(text, _SQUAD_PUNCT, "")


def normalize_trivia_qa(text: str) -> str:
    return _normalize(text, _TRIVIA_PUNCT, " ")


def _token_f1(target: str, prediction: str) -> float:
    pred_tokens, gold_tokens = prediction.split(), target.split()
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _qa(x: MetricInput, normalize: Callable[[str], str]) -> dict[str, float]:
    """EM and token F1, each the max over the item's references."""
    em, f1 = [], []
    for prediction, refs in zip(x.texts, x.references):
        p = normalize(prediction)
        golds = [normalize(r) for r in refs]
        em.append(max(float(g == p) for g in golds))
        f1.append(max(_token_f1(g, p) for g in golds))
    return {"em": 100.0 * float(np.mean(em)), "f1": 100.0 * float(np.mean(f1))}


def squad(x: MetricInput) -> dict[str, float]:
    return _qa(x, normalize_squad)


def trivia_qa(x: MetricInput) -> dict[str, float]:
    return _qa(x, normalize_trivia_qa)


# --- generation --------------------------------------------------------------------------------

def rouge(x: MetricInput) -> dict[str, float]:
    """Mean ROUGE F-measure (T5's rouge_mean: no stemmer; " . " ends a sentence for rougeLsum)."""
    scorer = rouge_scorer.RougeScorer(list(_ROUGE_KEYS))
    sums = dict.fromkeys(_ROUGE_KEYS, 0.0)
    pairs = tqdm(zip(x.targets, x.texts), total=len(x.targets), desc="rouge", unit="item", leave=False,
                 delay=1.0)
    for target, prediction in pairs:
        scores = scorer.score(target.replace(" . ", " .\n"), prediction.replace(" . ", " .\n"))
        for key in _ROUGE_KEYS:
            sums[key] += scores[key].fmeasure
    return {key: 100.0 * sums[key] / len(x.targets) for key in _ROUGE_KEYS}


def bleu(x: MetricInput) -> dict[str, float]:
    """sacrebleu corpus BLEU with T5's settings; items may have different numbers of references."""
    depth = max(len(r) for r in x.references)
    streams = [[r[k] if k < len(r) else None for r in x.references] for k in range(depth)]
    result = sacrebleu.corpus_bleu(x.texts, streams, smooth_method="exp", smooth_value=0.0, force=False,
                                   lowercase=False, tokenize="intl", use_effective_order=False)
    return {"bleu": float(result.score)}


def word_edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance between two word sequences (unit costs)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, word in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other)))
        previous = current
    return previous[-1]


def _words(text: str) -> list[str]:
    return re.split(r"[^\w]", text.lower())


def edit_distance(x: MetricInput) -> dict[str, float]:
    """T5's word-level edit distance: lowercased, split on every non-word character."""
    pairs = tqdm(zip(x.texts, x.targets), total=len(x.targets), desc="edit distance", unit="item",
                 leave=False, delay=1.0)
    dists = [word_edit_distance(_words(p), _words(t)) for p, t in pairs]
    return {"min_edit": float(min(dists)), "max_edit": float(max(dists)),
            "mean_edit": float(np.mean(dists)), "median_edit": float(np.median(dists)),
            "sum_edit": float(sum(dists))}


# --- registry ----------------------------------------------------------------------------------

METRICS: dict[str, Callable[[MetricInput], dict[str, float]]] = {
    "accuracy": accuracy,
    "f1_invalid": f1_invalid,
    "mcc": mcc,
    "pearson": pearson,
    "spearman": spearman,
    "mean_multiclass_f1": mean_multiclass_f1,
    "multirc_f1a": multirc_f1a,
    "multirc_em": multirc_em,
    "squad": squad,
    "trivia_qa": trivia_qa,
    "rouge": rouge,
    "bleu": bleu,
    "edit_distance": edit_distance,
}

_COLUMNS: dict[str, tuple[str, ...]] = {
    "accuracy": ("accuracy",),
    "f1_invalid": ("f1",),
    "mcc": ("matthews_corrcoef",),
    "pearson": ("pearson_corrcoef",),
    "spearman": ("spearman_corrcoef",),
    "mean_multiclass_f1": ("mean_{n}class_f1",),
    "multirc_f1a": ("f1a",),
    "multirc_em": ("exact_match",),
    "squad": ("em", "f1"),
    "trivia_qa": ("em", "f1"),
    "rouge": _ROUGE_KEYS,
    "bleu": ("bleu",),
    "edit_distance": ("min_edit", "max_edit", "mean_edit", "median_edit", "sum_edit"),
}


def _check_names(names: Sequence[str]) -> None:
    if isinstance(names, str):
        raise ValueError("names must be a sequence of metric names, not one string")
    if not names:
        raise ValueError("no metric names given")
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise UserError(f"unknown metric {unknown[0]!r}; known metrics: {', '.join(METRICS)}")


def metric_columns(names: Sequence[str], num_options: int = 0) -> list[str]:
    """The log columns `compute_metrics(names, ...)` returns, in order (num_options for multiclass F1)."""
    _check_names(names)
    columns: list[str] = []
    for name in names:
        for template in _COLUMNS[name]:
            if "{n}" in template and num_options <= 0:
                raise ValueError(f"metric {name!r} needs num_options > 0 to name its column")
            column = template.format(n=num_options)
            if column in columns:
                raise ValueError(f"metrics {list(names)} both write the column {column!r}")
            columns.append(column)
    return columns


def primary_column(names: Sequence[str], num_options: int = 0) -> str:
    """The first column of the first metric: the task's headline score."""
    return metric_columns(names[:1], num_options)[0]


def _tupled(name: str, values: Optional[Sequence], n: int, nested: bool = False) -> Optional[tuple]:
    if values is None:
        return None
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries for {n} predictions")
    if nested and any(isinstance(v, str) for v in values):
        raise ValueError(f"{name} must hold one list of strings per item, not strings")
    return tuple(tuple(v) for v in values) if nested else tuple(values)


def compute_metrics(names: Sequence[str], predictions: Sequence[Optional[str]], targets: Sequence[str], *,
                    options: Optional[Sequence[Sequence[str]]] = None,
                    references: Optional[Sequence[Sequence[str]]] = None,
                    groups: Optional[Sequence[str]] = None, matching: str = "reference") -> dict[str, float]:
    """Score predictions with the named registry metrics; returns {column: float}.

    `references`: the acceptable answers per item for squad/trivia_qa/bleu (default, and always
    in `reference` matching: the target; an empty list means unanswerable and counts as [""], as
    in SQuAD v2). `options`: each item's answer options, for class-index metrics. `groups`: a
    question id per item, for multirc_em. `matching`: reference or normalised (module docstring).
    """
    _check_names(names)
    if matching not in ("reference", "normalised"):
        raise ValueError(f"matching {matching!r} is neither 'reference' nor 'normalised'")
    n = len(predictions)
    if n == 0:
        raise UserError("no predictions to score")
    targets = _tupled("targets", targets, n)
    if references is None:
        references = [[t] for t in targets]
    references = tuple(r or ("",) for r in _tupled("references", references, n, nested=True))
    if matching == "reference":
        references = tuple((t,) for t in targets)
    x = MetricInput(predictions=tuple(predictions), targets=targets, references=references,
                    options=_tupled("options", options, n, nested=True),
                    groups=_tupled("groups", groups, n), distinct_invalid=matching == "reference")
    result: dict[str, float] = {}
    for name in names:
        scores = METRICS[name](x)
        clash = result.keys() & scores.keys()
        if clash:
            raise ValueError(f"metrics {list(names)} both write the column {sorted(clash)[0]!r}")
        result.update(scores)
    return result
