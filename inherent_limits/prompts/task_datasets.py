"""Stage 1: build and save the prompt datasets of one task, in the layout of DESIGN.md.

    data/flan_prompts[_<variant>]/<task>/<n>/{train,test}    Regular train+val (each folder + build_info.json)
    data/mix_prompts[_<variant>]/<task>/<n>/{train,test}     SampleGen train+val
    data/flan_prompts_test/<task>/test_data                  Regular test
    data/mix_prompts_test[_<variant>]/<task>/test_data       SampleGen test
    data/gold_pipeline_test[_<variant>]/<task>/test_data     Gold Pipeline test

Columns as the reference: text, labels, gold_options; test sets add references (every
accepted answer) and group_id (MultiRC's question). Everything is written to a
temporary folder and renamed; a complete output is skipped unless overwrite.
"""
from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from inherent_limits.core.atomic_files import atomic_dir
from inherent_limits.core.errors import UserError
from inherent_limits.data.loading import data_source, load_task_rows, split_halves
from inherent_limits.data.registry import CLUSTER_CATEGORIES, TASK_CLUSTERS, TaskSpec, category_of, cluster_of, get_task
from inherent_limits.prompts.builder import PromptBuilder

VALIDATION_FRACTION = 0.2
BUILD_INFO = "build_info.json"  # the data source and rows built (train+val: also the --num_datapoints asked for)


@dataclass(frozen=True)
class BuildRequest:
    custom: bool                    # SampleGen (True) or Regular (False)
    dataset_type: str               # train+val | test
    gold_pipeline: bool = False
    relevance: bool = False         # in-context examples from another cluster of the same category
    num_data: int = 10
    seed: int = 42
    data_dir: Optional[str] = None
    manual_dir: Optional[str] = None
    variant_suffix: str = ""        # e.g. "_unified"; part of the output folder name


def num_datapoints(num_data: int) -> int:
    """Rows to build so that 80% of them make `num_data` training rows (the reference's arithmetic)."""
    return int(-(num_data // -(1 - VALIDATION_FRACTION)))


def output_dir(root: Path, request: BuildRequest, task: str) -> Path:
    task_path = Path(*task.split("/"))
    if request.dataset_type == "train+val":
        fmt = "mix_prompts" if request.custom else "flan_prompts"
        return root / "data" / f"{fmt}{request.variant_suffix}" / task_path / str(request.num_data)
    if request.gold_pipeline:
        fmt = "gold_pipeline_test"
    else:
        fmt = "mix_prompts_test" if request.custom else "flan_prompts_test"
    return root / "data" / f"{fmt}{request.variant_suffix}" / task_path / "test_data"


def relevance_task(spec: TaskSpec, rng: random.Random) -> str:
    """A task of another cluster in the same category (the reference's relevance ablation)."""
    cluster = cluster_of(spec.name)
    category = category_of(cluster) if cluster else None
    if category is None:
        raise UserError(f"task {spec.name} is in no cluster: --make_adv_prompts needs a clustered task")
    others = [c for c in CLUSTER_CATEGORIES[category] if c != cluster]
    return rng.choice(TASK_CLUSTERS[rng.choice(others)])


def build_rows(spec: TaskSpec, request: BuildRequest, builder: PromptBuilder) -> dict[str, list]:
    """The columns of one task's dataset (before the train/validation split)."""
    rng = random.Random(f"{request.seed}:{spec.name}")
    testing = request.dataset_type == "test"
    rows = load_task_rows(spec.name, "test" if testing else "train", request.data_dir, request.manual_dir)
    texts, labels, gold, references, groups = [], [], [], [], []
    if request.custom and not testing:
        main_rows, pool = split_halves(rows)
        ex_spec = spec
        if request.relevance:
            ex_spec = get_task(relevance_task(spec, rng))
            pool = load_task_rows(ex_spec.name, "train", request.data_dir, request.manual_dir)
        if len(pool) < builder.variant.num_inner:
            raise UserError(f"task {spec.name}: {len(pool)} rows to draw {builder.variant.num_inner} "
                            "in-context examples from; lower --num_inner or add data")
        main_rows = main_rows[:num_datapoints(request.num_data)]
    else:
        main_rows = rows if testing else rows[:num_datapoints(request.num_data)]
    for row in main_rows:
        if request.custom and not testing:
            examples = [(ex_spec, pool[i]) for i in rng.sample(range(len(pool)), builder.variant.num_inner)]
            text, label = builder.samplegen(spec, row, examples, rng)
        elif request.custom and request.gold_pipeline:
            text, label = builder.gold_pipeline(spec, row, rng)
        elif request.custom:
            text, label = builder.samplegen_test(spec, row, rng)
        else:
            text, label = builder.regular(spec, row, rng, test=testing)
        texts.append(text)
        labels.append(label)
        gold.append(list(row["options"]) or [""])
        # a template that picks another target field (e.g. the translation direction) has one answer
        references.append(list(row["references"]) if label == row["label"] else [label])
        groups.append(str(row.get("group_id", "")))
    columns = {"text": texts, "labels": labels, "gold_options": gold}
    if testing:  # what the task metrics need beyond the label (all SQuAD answers, MultiRC questions)
        columns.update(references=references, group_id=groups)
    return columns


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def build_task(task: str, root: Path, request: BuildRequest, builder: PromptBuilder,
               overwrite: bool = False, warn: Callable[[str], None] = _to_stderr) -> Optional[Path]:
    """Build and save one task's dataset; None when a complete one exists and not overwrite.
    A source with fewer rows than asked is built in full and `warn` is told."""
    import datasets
    spec = get_task(task)
    if request.gold_pipeline and not request.custom:
        raise UserError("--make_gold_pipeline_test needs --create_custom_prompts True (as the reference)")
    target = output_dir(root, request, task)
    if target.exists() and not overwrite:
        return None
    columns = build_rows(spec, request, builder)
    wanted, built = num_datapoints(request.num_data), len(columns["text"])
    short = request.dataset_type == "train+val" and built < wanted
    if short:  # the folder keeps the requested number (later stages look it up by it); BUILD_INFO has both
        warn(f"warning: task {task}: --num_datapoints {request.num_data} wants {wanted} rows, the source "
             f"gives {built}: built {built} in {target} (see {BUILD_INFO})")
    dataset = datasets.Dataset.from_dict(columns)
    with atomic_dir(target, overwrite=overwrite) as tmp:
        if request.dataset_type == "train+val":
            if len(dataset) < 2:
                raise UserError(f"task {task}: {len(dataset)} row(s) cannot be split into train and validation")
            dataset = dataset.train_test_split(test_size=VALIDATION_FRACTION, seed=request.seed)
            sample, name = dataset["train"][0:2], "dataset_samples_train.json"
        else:
            sample, name = dataset[0:2], "dataset_samples_test.json"
        dataset.save_to_disk(str(tmp))
        (tmp / name).write_text(json.dumps(sample, indent=4, ensure_ascii=False), encoding="utf-8")
        info = {"data_source": data_source(task, "train" if request.dataset_type == "train+val" else "test",
                                           request.data_dir, request.manual_dir), "rows_built": built}
        if request.dataset_type == "train+val":
            info.update(num_datapoints=request.num_data, rows_wanted=wanted, train_rows=len(dataset["train"]),
                        validation_rows=len(dataset["test"]))
        (tmp / BUILD_INFO).write_text(json.dumps(info, indent=2), encoding="utf-8")
    return target


TEST_SETS = ((False, False), (True, False), (True, True))  # (custom, gold_pipeline): Regular, SampleGen, Gold


def build_sets(root: Path, tasks, num_data: int, data_dir: str = "bundled", manual_dir: str = "bundled",
               train_custom=(False, True), test_sets=TEST_SETS) -> None:
    """The train+val datasets (`train_custom`: False Regular, True SampleGen) and the test sets
    (`test_sets`: (custom, gold_pipeline) pairs) of `tasks`, as create_prompts.py builds them."""
    builder = PromptBuilder.from_files()
    common = dict(num_data=num_data, data_dir=data_dir, manual_dir=manual_dir)
    for task in tasks:
        for custom in train_custom:
            build_task(task, root, BuildRequest(custom=custom, dataset_type="train+val", **common), builder)
        for custom, gold in test_sets:
            build_task(task, root, BuildRequest(custom=custom, dataset_type="test", gold_pipeline=gold, **common),
                       builder)
