"""Prompts of the base-vs-instruct study: plain text for base models, the chat template for instruct ones.

Zero-shot CoT asks for step-by-step reasoning and a final answer line; few-shot CoT puts N worked
exemplars (from the benchmark's train split, seeded) before the question. The wording is the
project's own.
"""
from __future__ import annotations

from typing import Sequence

from inherent_limits.base_vs_instruct.benchmarks import MathBench
from inherent_limits.base_vs_instruct.items import Item
from inherent_limits.core.errors import UserError

PROMPTINGS = ("zero_shot", "few_shot")

INSTRUCTION = ("Work through the problem one step at a time, showing your reasoning, and close with a "
               "sentence of the form \"The answer is {form}.\"")
_FORMS = {"gsm8k": "<number>", "math": "$\\boxed{<answer>}$", "medcalc": "<value>"}


def answer_sentence(answer_kind: str, answer: str) -> str:
    """The closing sentence of a worked solution."""
    shown = f"$\\boxed{{{answer}}}$" if answer_kind == "math" else answer
    return f"The answer is {shown}."


def instruction(bench: MathBench) -> str:
    return INSTRUCTION.format(form=_FORMS[bench.answer_kind])


def worked_solution(bench: MathBench, item: Item) -> str:
    """An exemplar's solution text, ending with the answer sentence."""
    return f"{item.solution.strip()}\n{answer_sentence(bench.answer_kind, item.gold)}".strip()


def plain_prompt(bench: MathBench, item: Item, exemplars: Sequence[Item] = ()) -> str:
    """`Question: ... Answer:` text for a base model (or an instruct model run without its template)."""
    parts = [instruction(bench)]
    parts += [f"Question: {ex.question.strip()}\nAnswer: {worked_solution(bench, ex)}" for ex in exemplars]
    parts.append(f"Question: {item.question.strip()}\nAnswer:")
    return "\n\n".join(parts)


def chat_messages(bench: MathBench, item: Item, exemplars: Sequence[Item] = ()) -> list[dict]:
    """Chat turns for an instruct model: each exemplar a user/assistant pair, then the question."""
    messages = []
    for ex in exemplars:
        messages += [{"role": "user", "content": f"{instruction(bench)}\n\n{ex.question.strip()}"},
                     {"role": "assistant", "content": worked_solution(bench, ex)}]
    messages.append({"role": "user", "content": f"{instruction(bench)}\n\n{item.question.strip()}"})
    return messages


def check_chat_template(tokenizer, model: str) -> None:
    """A UserError when an instruct model's tokenizer has no chat template."""
    if not getattr(tokenizer, "chat_template", None):
        raise UserError(f"the instruct model {model!r} has no chat template in its tokenizer: pass an "
                        "instruction-tuned model that has one, or --no_chat_template to prompt it with "
                        "plain text like the base model")


def prompt_ids(tokenizer, bench: MathBench, item: Item, exemplars: Sequence[Item], chat: bool) -> list[int]:
    """The prompt's token ids: the chat template's (with the generation prompt) or the plain text's."""
    if chat:
        text = tokenizer.apply_chat_template(chat_messages(bench, item, exemplars), tokenize=False,
                                             add_generation_prompt=True)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return list(tokenizer(plain_prompt(bench, item, exemplars))["input_ids"])
