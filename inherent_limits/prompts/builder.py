"""Assembling prompt texts: Regular Prompt, SampleGen Prompt and Gold Pipeline test items.

The assembly follows the reference's rules (so that, given its template files, texts
come out identical): a FLAN input template filled with the row's fields; the SampleGen
inner format `Example N:` / `<Field> N: value` / `Answer N: label`, the main item with
`Solution` in place of N, then `Answer Solution:` and `END_EXAMPLES`; the Gold Pipeline
item cut right after `Answer Solution: `. Wording comes from the template files.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from inherent_limits.core.checks import read_utf8
from inherent_limits.core.errors import UserError
from inherent_limits.data.registry import TaskSpec
from inherent_limits.prompts.templates import Patterns, check_placeholders, placeholders, read_patterns

DEFAULT_PROMPT_TEMPLATES = Path(__file__).resolve().parent / "templates.json"
SOLUTION_MARKER = "Answer Solution: "
REQUIRED_KEYS = {
    "sys-prompt": {"formatted_main_sample"},
    "sys-prompt-ending": set(),
    "sys-prompt-flan": {"formatted_main_sample", "target_field"},
    "sys-prompt-flan-test-new": {"formatted_main_sample"},
    "outer-template-4": {"sys_and_main", "ic_string", "main_sample_parsed", "ending"},
    "gen-inner-template-num2": {"example_num", "components", "answer"},
}
TARGET_ALIASES = {"answer", "answer_str", "numbered_answers", "target", "label"}


def read_prompt_templates(path: Optional[Path] = None) -> dict[str, str]:
    """templates.json (system prompts, SampleGen and BigBench formats), placeholders checked."""
    path = Path(path or DEFAULT_PROMPT_TEMPLATES)
    try:
        data = json.loads(read_utf8(path))
    except OSError as err:
        raise UserError(f"cannot read prompt templates {path}: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise UserError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise UserError(f"{path}: expected a JSON object of template strings")
    for key, allowed in REQUIRED_KEYS.items():
        if key not in data:
            raise UserError(f"{path}: missing template key {key!r}")
        check_placeholders(data[key], allowed, f"{path} [{key}]")
    return data


@dataclass(frozen=True)
class Variant:
    """The reference's dataset variants; all off means the plain formats."""
    num_inner: int = 2
    corrupt: bool = False
    no_answer: bool = False
    unify: bool = False
    convert_letter_choices: bool = True
    template_index: Optional[int] = None


class PromptBuilder:
    """Turns canonical rows into prompt texts with one set of templates."""

    def __init__(self, patterns: Patterns, main: dict[str, str], variant: Variant = Variant()):
        self.patterns, self.main, self.variant = patterns, main, variant
        self._checked: set[str] = set()

    @classmethod
    def from_files(cls, flan_templates=None, prompt_templates=None, variant: Variant = Variant()):
        return cls(read_patterns(flan_templates), read_prompt_templates(prompt_templates), variant)

    # --- templates ---------------------------------------------------------

    def family(self, spec: TaskSpec) -> list[tuple[str, str]]:
        """The first five templates of the task's family, checked once against its fields."""
        if spec.template_family not in self.patterns:
            raise UserError(f"task {spec.name}: the template file has no family {spec.template_family!r}")
        pairs = self.patterns[spec.template_family][:5]
        if not pairs:
            raise UserError(f"task {spec.name}: template family {spec.template_family!r} is empty")
        if spec.name not in self._checked:
            allowed = set(spec.input_fields) | {"options_", "answer"}
            for source, target in pairs:
                check_placeholders(source, allowed, f"template family {spec.template_family} ({spec.name})")
                check_placeholders(target, allowed | TARGET_ALIASES | set(spec.target_fields),
                                   f"template family {spec.template_family} ({spec.name}) target")
            self._checked.add(spec.name)
        return pairs

    def pick(self, spec: TaskSpec, rng: random.Random) -> tuple[str, str]:
        """One template: pinned by --template_index, else random among the first five."""
        pairs = self.family(spec)
        index = self.variant.template_index
        if index is None:
            index = rng.randrange(5)  # the reference always draws from 0..4
        if not 0 <= index < len(pairs):
            raise UserError(f"--template_index {index} out of range: family {spec.template_family!r} "
                            f"has {len(pairs)} templates")
        source, target = pairs[index]
        return source.replace('"', ""), target

    # --- pieces -------------------------------------------------------------

    def target_field(self, spec: TaskSpec, target: str) -> Optional[str]:
        """The row field a template's target names, when the template chooses the target."""
        names = [p for p in placeholders(target) if p in spec.target_fields and p != "label"]
        return names[0] if names else None

    def label(self, spec: TaskSpec, row: dict, target: str) -> str:
        field = self.target_field(spec, target)
        if field:
            return row[field]
        if spec.letter_choices and not self.variant.convert_letter_choices:
            return row["answer_key"]
        return row["label"]

    def fill(self, spec: TaskSpec, row: dict, template: str, label: str) -> str:
        """A FLAN input template filled with the row's fields."""
        args = {f: row[f] for f in spec.input_fields}
        if row["options"]:
            args["options_"] = row["options_text"]
        args["answer"] = label
        try:
            return template.format(**args)
        except (KeyError, IndexError, ValueError) as err:
            raise UserError(f"task {spec.name}: template {template[:60]!r} cannot be filled: {err}") from None

    def components(self, spec: TaskSpec, row: dict, target: str, suffix: str, corrupt: bool) -> str:
        """`\\n<Field><suffix>: value` for each shown field (the template's target left out)."""
        skip = self.target_field(spec, target)
        out, count = [], 0
        for field in spec.fields:
            if field == skip:
                continue
            count += 1
            if self.variant.unify:
                name = f"Input {count}" + ("" if suffix.strip().isdigit() else suffix)
            else:
                name = field.capitalize() + suffix
            value = "None" if corrupt else (row["options_text"] if field == "options" else row[field])
            out.append(f"\n{name}: {value}")
        return "".join(out)

    def inner(self, spec: TaskSpec, row: dict, target: str, number: Optional[int],
              plain: bool = False) -> str:
        """One SampleGen inner block: an in-context example (number) or the main item (None).

        `plain` ignores the corrupt / no-answer variants (the Gold Pipeline item).
        """
        template = self.main["gen-inner-template-num2"]
        label = self.label(spec, row, target)
        if number is None:
            answer = "" if self.variant.no_answer and not plain else label
            comps = self.components(spec, row, target, " Solution", self.variant.corrupt and not plain)
            text = template.format(example_num="Solution", components=comps, answer=answer)
            return text.replace("\nExample Solution:", "")
        if self.variant.corrupt:
            return template.format(example_num=number, components="\n(blank)", answer="\n(blank)")
        comps = self.components(spec, row, target, f" {number}", False)
        return template.format(example_num=number, components=comps, answer=label)

    # --- whole prompts ------------------------------------------------------

    def regular(self, spec: TaskSpec, row: dict, rng: random.Random, test: bool) -> tuple[str, str]:
        """Regular Prompt: (text, label); training texts end with `Answer Solution: <label>`."""
        source, target = self.pick(spec, rng)
        label = self.label(spec, row, target)
        filled = self.fill(spec, row, source, label)
        if test:
            return self.main["sys-prompt-flan-test-new"].format(formatted_main_sample=filled), label
        return self.main["sys-prompt-flan"].format(formatted_main_sample=filled.rstrip("\n"),
                                                   target_field=label), label

    def samplegen(self, spec: TaskSpec, row: dict, examples: Sequence[tuple[TaskSpec, dict]],
                  rng: random.Random) -> tuple[str, str]:
        """SampleGen Prompt: the item, `num_inner` examples, the item's solution, END_EXAMPLES."""
        source, target = self.pick(spec, rng)
        label = self.label(spec, row, target)
        sys_and_main = self.main["sys-prompt"].format(
            formatted_main_sample=self.fill(spec, row, source, label).rstrip("\n"))
        blocks = []
        for number, (ex_spec, ex_row) in enumerate(examples, 1):
            ex_target = target if ex_spec is spec else self.pick(ex_spec, rng)[1]
            blocks.append(self.inner(ex_spec, ex_row, ex_target, number))
        text = self.main["outer-template-4"].format(
            sys_and_main=sys_and_main, ic_string="".join(blocks),
            main_sample_parsed=self.inner(spec, row, target, None), ending=self.main["sys-prompt-ending"])
        return text, label

    def samplegen_test(self, spec: TaskSpec, row: dict, rng: random.Random) -> tuple[str, str]:
        """SampleGen test item: the system prompt around the item; the model writes the rest."""
        source, target = self.pick(spec, rng)
        label = self.label(spec, row, target)
        main = self.fill(spec, row, source, label).rstrip("\n") + "\n"
        return self.main["sys-prompt"].format(formatted_main_sample=main), label

    def gold_pipeline(self, spec: TaskSpec, row: dict, rng: random.Random) -> tuple[str, str]:
        """Gold Pipeline test item: the main SampleGen block cut after `Answer Solution: `."""
        _, target = self.pick(spec, rng)
        label = self.label(spec, row, target)
        block = self.inner(spec, row, target, None, plain=True)
        cut = block.find(SOLUTION_MARKER)
        if cut < 0:
            raise UserError("the inner template has no 'Answer Solution: ' marker")
        return block[:cut + len(SOLUTION_MARKER)], label
