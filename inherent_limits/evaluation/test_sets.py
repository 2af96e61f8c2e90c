"""The test items of each evaluation condition, read from the layout create_prompts writes.

    base_zero_shot      data/<format>_test/<task>/test_data, instructions removed
    gold_pipeline       data/gold_pipeline_test/<task>/test_data after gold examples taken from
                        data/mix_prompts/<task>/<n>/train (ablation: data/mix_prompts_mixture_<setup>/train)
    samplegen_pipeline  a SampleGen model's direct-eval responses, cut after the first `Answer Solution:`
    flan_direct         data/flan_prompts_test/<task>/test_data
    samplegen_direct    data/mix_prompts_test/<task>/test_data

BigBench and GSM8K items are formatted here from the task's raw test split (gold examples
from its gold split). `_unified` folders are used with --unified_prompts.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from inherent_limits.core.atomic_files import recover_with_parent
from inherent_limits.core.checks import load_saved_dataset
from inherent_limits.core.conditions import BASE_CONDITIONS
from inherent_limits.core.errors import UserError
from inherent_limits.data.registry import TaskSpec
from inherent_limits.prompts.bigbench_format import format_item, gold_pipeline_item

_SYSTEM = re.compile(r"<s>\[INST\].*\n<</SYS>>\n", flags=re.DOTALL)


@dataclass
class TestItem:
    text: str
    target: str
    options: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    group_id: str = ""


def condition_of(run_name: str, use_exemplar_gen: bool, sample_source: Optional[str],
                 test_prompt_format: Optional[str]) -> str:
    """The study's condition named by the reference's flags."""
    if run_name == "base":
        if not use_exemplar_gen:
            return "base_zero_shot"
        if sample_source == "train_data":
            return "gold_pipeline"
        if sample_source == "model":
            return "samplegen_pipeline"
        raise UserError("--use_exemplar_gen True needs --sample_source train_data (Gold Pipeline) "
                        "or model (SampleGen Pipeline)")
    if use_exemplar_gen:
        raise UserError("the pipelines run the base model: pass --run_name base with --samplegen_model "
                        f"{run_name}, not --run_name {run_name}")
    if test_prompt_format == "flan_prompts":
        return "flan_direct"
    if test_prompt_format == "mix_prompts":
        return "samplegen_direct"
    raise UserError(f"--run_name {run_name} is a tuned model: pass --test_prompt_format flan_prompts "
                    "(Regular-Prompt model) or mix_prompts (SampleGen model)")


def remove_instructions(text: str) -> str:
    """Drop the system prompt and the [INST] markers (base models see the bare item)."""
    text = _SYSTEM.sub("", text)
    return text.replace("\n[/INST]", "").replace("[/INST]", "")


def sample_indices(n: int, num_test: Optional[int], seed: int) -> list[int]:
    """`num_test` distinct indices (all when None), drawn with the seed."""
    if n == 0:
        raise UserError("the test set is empty: rebuild it with create_prompts.py (or check the raw data)")
    if num_test is not None and num_test < 1:
        raise UserError(f"--num_test {num_test}: ask for at least one test item")
    k = n if num_test is None else min(n, num_test)
    return random.Random(seed).sample(range(n), k)


def _load(path: Path, hint: str):
    """A saved test or training set, read whole (a damaged one fails here, named); a kill during its
    --overwrite is completed first."""
    recover_with_parent(path)
    return load_saved_dataset(path, hint, in_memory=True)


def _task_path(task: str) -> Path:
    return Path(*task.split("/"))


def build_hint(root: Path, task: str, custom: bool, gold: bool = False, unified: bool = False) -> str:
    flags = f"--create_custom_prompts {custom} --dataset_type test"
    flags += " --make_gold_pipeline_test True" if gold else ""
    flags += " --do_unify True" if unified else ""
    return (f"build it with `python create_prompts.py --tasks {task} {flags} --root {root}` "
            "(add --overwrite True to replace a damaged one)")


def saved_items(root: Path, folder: str, task: str, hint: str) -> list[TestItem]:
    data = _load(root / "data" / folder / _task_path(task) / "test_data", hint)
    cols = data.column_names
    items = []
    for i in range(len(data)):
        row = data[i]
        options = [o for o in row["gold_options"] if o != ""]
        refs = row["references"] if "references" in cols else [row["labels"]]
        items.append(TestItem(row["text"], str(row["labels"]), options, list(refs),
                              row["group_id"] if "group_id" in cols else ""))
    return items


def test_set_dir(root: Path, task: str, condition: str, fmt: Optional[str], unified: bool) -> Path:
    """The saved test set a condition of a FLAN task reads (the SampleGen pipeline: the SampleGen test set
    its responses answered)."""
    suffix = "_unified" if unified else ""
    folder = {"gold_pipeline": "gold_pipeline_test", "samplegen_pipeline": "mix_prompts_test",
              "samplegen_direct": "mix_prompts_test"}.get(condition, f"{fmt or 'flan_prompts'}_test")
    return Path(root) / "data" / f"{folder}{suffix}" / _task_path(task) / "test_data"


def check_test_set(root: Path, task: str, condition: str, fmt: Optional[str], unified: bool) -> None:
    """A UserError, with the command that builds it, when a condition's saved test set is missing."""
    if condition == "samplegen_pipeline":
        return  # it reads the SampleGen responses, written earlier in the same call or job
    path = test_set_dir(root, task, condition, fmt, unified)
    recover_with_parent(path)  # a kill during create_prompts.py --overwrite: completed first
    if not path.is_dir():
        custom = condition in ("gold_pipeline", "samplegen_direct") or fmt == "mix_prompts"
        raise UserError(f"{task}: no test set for {condition} at {path}"
                        f"; {build_hint(root, task, custom, gold=condition == 'gold_pipeline', unified=unified)}")


def test_set_source(root: Path, task: str, condition: str, fmt: Optional[str], unified: bool) -> str:
    """The data source recorded in the build_info.json of the test set a condition reads ("unrecorded"
    for sets built before it was written)."""
    info = test_set_dir(root, task, condition, fmt, unified) / "build_info.json"
    try:
        return str(json.loads(info.read_text(encoding="utf-8"))["data_source"])
    except (OSError, ValueError, KeyError, TypeError):
        return "unrecorded"


def direct_items(root: Path, task: str, fmt: str, unified: bool, num_test: Optional[int], seed: int,
                 strip_instructions: bool) -> list[TestItem]:
    """The Regular (flan_prompts) or SampleGen (mix_prompts) test items; base models without instructions."""
    hint = build_hint(root, task, fmt == "mix_prompts", unified=unified)
    items = _pick(saved_items(root, f"{fmt}_test" + ("_unified" if unified else ""), task, hint), num_test, seed)
    if strip_instructions:
        for item in items:
            item.text = remove_instructions(item.text)
    return items


def _pick(items: Sequence[TestItem], num_test: Optional[int], seed: int) -> list[TestItem]:
    return [items[i] for i in sample_indices(len(items), num_test, seed)]


def train_set_dir(root: Path, task: str, unified: bool, num_data: Optional[int]) -> Path:
    """data/mix_prompts[_unified]/<task>/<n>/train; n: given, else the largest built."""
    folder = root / "data" / ("mix_prompts_unified" if unified else "mix_prompts") / _task_path(task)
    if num_data is None:
        built = sorted((int(p.name) for p in folder.glob("*") if p.name.isdigit()), reverse=True)
        if not built:
            raise UserError(f"no SampleGen training set of {task} under {folder} (the gold examples' source): "
                            f"build it with `python create_prompts.py --tasks {task} --create_custom_prompts "
                            f"True --dataset_type train+val --root {root}`")
        num_data = built[0]
    return folder / str(num_data) / "train"


def example_block(text: str) -> str:
    """The in-context examples of a SampleGen training text (`Example 1:` up to `Solution:`)."""
    start, end = text.find("Example 1:"), text.rfind("\nSolution:")
    if start < 0 or end < start:
        raise UserError("a SampleGen training text has no 'Example 1:' ... 'Solution:' block")
    return text[start:end].strip("\n")


def renumber(example: str, number: int) -> str:
    """Example 1 of a training text as example `number` (its field labels too)."""
    return re.sub(r"(?m)^(Example|[A-Z][A-Za-z ]*?) 1:", rf"\g<1> {number}:", example)


def gold_examples(texts: Sequence[str], rng: random.Random, ablation_rows: Optional[int]) -> str:
    """Gold examples: the block of one training text, or Example 1 of `ablation_rows` texts."""
    if ablation_rows is None:
        return example_block(texts[rng.randrange(len(texts))])
    picks = rng.sample(range(len(texts)), min(ablation_rows, len(texts)))
    firsts = [example_block(texts[i]).split("\nExample 2:")[0].strip("\n") for i in picks]
    return "\n\n".join(renumber(e, n) for n, e in enumerate(firsts, 1))


def gold_pipeline_items(root: Path, task: str, num_test: Optional[int], seed: int, unified: bool,
                        num_data: Optional[int], ablation_setup: Optional[str],
                        num_samples_ablation: int) -> list[TestItem]:
    suffix = "_unified" if unified else ""
    items = _pick(saved_items(root, f"gold_pipeline_test{suffix}", task,
                              build_hint(root, task, True, gold=True, unified=unified)), num_test, seed)
    if ablation_setup:
        source = root / "data" / f"mix_prompts_mixture_{ablation_setup}" / "train"
        hint = f"mix it with `python make_mixtures.py --prompt_format mix_prompts --setup {ablation_setup}`"
    else:
        source = train_set_dir(root, task, unified, num_data)
        hint = "build the task's SampleGen train+val set with create_prompts.py"
    texts = _load(source, hint)["text"]
    if not texts:
        raise UserError(f"{source} is empty: no gold examples to draw")
    rng = random.Random(seed)
    for item in items:
        examples = gold_examples(texts, rng, num_samples_ablation if ablation_setup else None)
        item.text = (examples + "\n\nSolution:\n" + remove_instructions(item.text).lstrip("\n")).rstrip(" ")
    return items


def cut_after_answer(response: str) -> str:
    """A SampleGen response up to and including its first `Answer Solution:`."""
    response = response.lstrip("\n")
    stop = response.find("Answer Solution:")
    return response if stop < 0 else response[:stop + len("Answer Solution:")]


def samplegen_pipeline_items(response_file: Path, num_test: Optional[int], seed: int) -> list[TestItem]:
    """Items from a SampleGen model's direct-eval response file."""
    from inherent_limits.evaluation.response_files import read_responses
    rows = read_responses(response_file)
    items = [TestItem(cut_after_answer(r["response"]), r["target"], r["options"], r["references"],
                      r["group_id"]) for r in rows]
    rng = random.Random(seed)
    rng.shuffle(items)
    if not items:
        raise UserError(f"{response_file} has no responses")
    return items if num_test is None else items[:num_test]


def bigbench_items(spec: TaskSpec, condition: str, bb_format: str, templates: dict, num_test: Optional[int],
                   seed: int, data_dir, manual_dir, num_inner: int, unified: bool) -> list[TestItem]:
    """BigBench / GSM8K items in a test-time format; the Gold Pipeline adds gold examples."""
    from inherent_limits.data.loading import load_task_rows
    rows = load_task_rows(spec.name, "test", data_dir, manual_dir)
    rows = [rows[i] for i in sample_indices(len(rows), num_test, seed)]
    sys_prompt = {"flan_direct": templates.get("sys-prompt-bigbench-flan"),
                  "samplegen_direct": templates.get("sys-prompt")}.get(condition)
    gold, rng = None, random.Random(seed)
    if condition == "gold_pipeline":
        gold = load_task_rows(spec.name, "gold", data_dir, manual_dir)
    items = []
    for row in rows:
        if gold is not None:
            text = gold_pipeline_item(row, gold, num_inner, rng, spec, templates, bb_format, unified)
        else:
            text = format_item(row, bb_format, spec, templates, sys_prompt)
        items.append(TestItem(text, row["label"], list(row["options"]), list(row["references"])))
    return items
