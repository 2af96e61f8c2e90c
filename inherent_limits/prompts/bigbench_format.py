"""Test-time prompts of BigBench and GSM8K items (they have no FLAN templates).

Formats are the templates.json keys `bigbench-<format>` (closed, closed-adv, plain, adv,
bad-prompt-1..6), with `-translated` variants for the Scottish Gaelic set and `-samplegen`
variants for gold in-context examples. Options are shown quoted and comma-separated;
closed-adv letters them `A)`, adv `(a)`. The question keeps the whitespace the task's clean-up
leaves, as in the reference; bad-prompt formats drop trailing spaces, then trailing newlines.
Unlike the reference, plain and closed-adv are really built (its comparisons with a list never
matched, so it crashed there).

Gold Pipeline items follow the reference's assembly (a gold row with the item's own question is
never drawn): each gold example is formatted with the
`-samplegen` template and relabelled (`Example N:`, `Question N:`, `Options N:` before each
quoted run, `Answer N:`), quirks included; the item, in its test format, gets `Question
Solution`, `Options Solution:` before its options and `Answer Solution:` after them (the
reference marks its first quoted text, which may be speech inside the question).
"""
from __future__ import annotations

import random
import re
import string
from typing import Optional, Sequence

from inherent_limits.core.errors import UserError
from inherent_limits.data.registry import BB_FORMATS, LETTER_FORMATS, TaskSpec

_QUOTED = re.compile(r'(".+")+')             # a run of quoted text on one line
_QUOTED_AT_LINE = re.compile(r'\n(".+")+')   # strange_stories: its stories quote speech
_EXAMPLE_CLEANUP = (r"Q: ", r" choice:.*", r"Context: ")
# Scottish Gaelic labels of the reference's shipped Gold Pipeline set.
_GAELIC = (("Options Solution", "Fuasgladh Roghainnean"), ("Options", "Roghainnean"),
           ("Answer Solution", "Fuasgladh Freagairt"), ("Solution", "Fuasgladh"))


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


def _template(templates: dict[str, str], key: str, spec: TaskSpec, fmt: str) -> str:
    if key not in templates:
        raise UserError(f"the prompt templates have no {key!r} (needed for {spec.name} in format {fmt})")
    return templates[key]


def _shown_options(row: dict, fmt: str) -> tuple[str, str]:
    """The options as the format shows them: quoted, and lettered (A) for closed-adv, (a) otherwise)."""
    options = _quoted(row["options"])
    if fmt == "closed-adv":
        numbered = [f"{letter}) {o}" for letter, o in zip(string.ascii_uppercase, options)]
    else:
        numbered = [f"({letter}) {o}" for letter, o in zip(string.ascii_lowercase, options)]
    return ", ".join(options), ", ".join(numbered)


def _fill(template: str, row: dict, fmt: str) -> str:
    options, numbered = _shown_options(row, fmt)
    question = row["text"].rstrip(" ").rstrip("\n") if fmt.startswith("bad-prompt") else row["text"]
    return template.format(question=question, options=options, numbered_options=numbered, answer=row["label"])


def format_item(row: dict, fmt: str, spec: TaskSpec, templates: dict[str, str],
                sys_prompt: Optional[str] = None) -> str:
    """One test item in a BigBench format, inside `sys_prompt` when given (tuned models)."""
    text = _fill(_template(templates, template_key(fmt, spec), spec, fmt), row, fmt)
    return sys_prompt.format(formatted_main_sample=text) if sys_prompt else text


def _example(text: str, number: int) -> str:
    for pattern in _EXAMPLE_CLEANUP:
        text = re.sub(pattern, "", text, flags=re.DOTALL)
    text = text.replace("\n \n", "\n").replace("\n\n", "\n")
    for label in ("Answer Solution", "Question", "Options"):
        text = text.replace(f"{label}:", f"{label.split()[0]} {number}:")
    return f"Example {number}:\n{text}"


def gold_pipeline_item(row: dict, gold_rows: Sequence[dict], num_examples: int, rng: random.Random,
                       spec: TaskSpec, templates: dict[str, str], fmt: str, unified: bool = False) -> str:
    """The item in format `fmt` after `num_examples` gold examples drawn from `gold_rows`, leaving out
    any gold row with the item's own question (the Gaelic set's gold and test rows are one file)."""
    gold_rows = [g for g in gold_rows if g["text"] != row["text"]]
    if len(gold_rows) < num_examples:
        raise UserError(f"task {spec.name}: {len(gold_rows)} gold rows other than the item to draw "
                        f"{num_examples} examples from")
    example_template = _template(templates, template_key(fmt, spec, samplegen=True), spec, fmt)
    picks = rng.sample(range(len(gold_rows)), num_examples)
    examples = "\n\n".join(_example(_fill(example_template, gold_rows[i], fmt), n)
                           for n, i in enumerate(picks, 1))
    quoted = _QUOTED_AT_LINE if spec.name == "strange_stories" else _QUOTED
    for n, match in enumerate(quoted.findall(examples), 1):
        examples = examples.replace(match, f"Options {n}: {match}")
    examples = examples.replace(" Options", "Options")
    main = format_item(row, fmt, spec, templates).replace("\n \n", "\n").replace("\n\n", "\n")
    options, numbered = _shown_options(row, fmt)
    shown = numbered if fmt in LETTER_FORMATS else options
    at = main.rfind(shown)
    if at < 0:
        raise UserError(f"task {spec.name}: format {fmt} does not show the options, which the Gold "
                        "Pipeline marks `Options Solution:`; use closed or a bad-prompt format")
    main = main[:at] + f"Options Solution: {shown}\nAnswer Solution:" + main[at + len(shown):]
    main = main.replace("Question", "Question Solution")
    text = examples + "\n\nSolution:\n" + main
    if unified:
        text = text.replace("Question", "Input 1").replace("Options", "Input 2")
    if spec.translated:
        text = re.sub(r"(?m)^Example (\d+):", r"Eisimpleir \1:", text)
        for english, gaelic in _GAELIC:
            text = text.replace(english, gaelic)
    return text
