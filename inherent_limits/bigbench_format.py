"""Test-time prompts of BigBench and GSM8K items (they have no FLAN templates).

Formats are the templates.json keys `bigbench-<format>` (closed, closed-adv, plain, adv,
bad-prompt-1..6), with `-translated` variants for the Scottish Gaelic set and `-samplegen`
variants for gold in-context examples. Options are shown quoted and comma-separated;
closed-adv letters them `A)`, adv `(a)`. Unlike the reference, plain and closed-adv are
really used (its comparisons with a list never matched).

Gold Pipeline items are written directly in the SampleGen inner format: `Example N:` with
`Question N:` / `Options N:` / `Answer N:` for the gold examples, then `Solution:` and the
item with `Question Solution:` / `Options Solution:` / `Answer Solution:`.
"""
from __future__ import annotations

import random
import string
from typing import Optional, Sequence

from .config import BB_FORMATS, TaskSpec
from .errors import UserError

# Field labels of Gold Pipeline items: plain, unified (--unified_prompts), Scottish Gaelic.
FIELD_LABELS = {
    "plain": ("Question", "Options", "Answer"),
    "unified": ("Input 1", "Input 2", "Answer"),
    "translated": ("Ceist", "Roghainnean", "Freagairt"),
}


def _quoted(options: Sequence[str]) -> list[str]:
    return ['"{}"'.format(o.rstrip(".")) for o in options]


def template_key(fmt: str, spec: TaskSpec, samplegen: bool = False) -> str:
    if fmt not in BB_FORMATS:
        raise UserError(f"unknown --bb_test_prompt_format {fmt!r}; choose from {', '.join(BB_FORMATS)}")
    key = f"bigbench-{fmt}"
    if samplegen:
        key += "-samplegen"
    if spec.translated:
        key += "-translated"
    return key


def format_item(row: dict, fmt: str, spec: TaskSpec, templates: dict[str, str],
                sys_prompt: Optional[str] = None) -> str:
    """One test item in a BigBench format, inside `sys_prompt` when given (tuned models)."""
    key = template_key(fmt, spec)
    if key not in templates:
        raise UserError(f"the prompt templates have no {key!r} (needed for {spec.name} in format {fmt})")
    options = _quoted(row["options"])
    if fmt == "closed-adv":
        numbered = [f"{letter}) {o}" for letter, o in zip(string.ascii_uppercase, options)]
    else:
        numbered = [f"({letter}) {o}" for letter, o in zip(string.ascii_lowercase, options)]
    text = templates[key].format(question=row["text"].rstrip(" \n"), options=", ".join(options),
                                 numbered_options=", ".join(numbered), answer=row["label"])
    return sys_prompt.format(formatted_main_sample=text) if sys_prompt else text


def _block(row: dict, number: str, labels: tuple[str, str, str], with_answer: bool) -> str:
    question, options, answer = labels
    lines = [f"{question} {number}: {row['text'].strip()}",
             f"{options} {number}: {', '.join(_quoted(row['options']))}"]
    lines.append(f"{answer} {number}: {row['label']}" if with_answer else f"{answer} {number}:")
    return "\n".join(lines)


def gold_pipeline_item(row: dict, gold_rows: Sequence[dict], num_examples: int, rng: random.Random,
                       spec: TaskSpec, unified: bool = False) -> str:
    """The item after `num_examples` gold examples drawn from `gold_rows`, ending `Answer Solution:`."""
    if len(gold_rows) < num_examples:
        raise UserError(f"task {spec.name}: {len(gold_rows)} gold rows to draw {num_examples} examples from")
    labels = FIELD_LABELS["translated" if spec.translated else "unified" if unified else "plain"]
    picks = rng.sample(range(len(gold_rows)), num_examples)
    examples = [f"Example {n}:\n" + _block(gold_rows[i], str(n), labels, True) for n, i in enumerate(picks, 1)]
    main = _block(row, "Solution", labels, False)
    return "\n\n".join(examples) + "\n\nSolution:\n" + main
