"""Benchmark items: raw rows (shipped, --data_dir or hub) in their hub schema turned into `Item`s."""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Optional

from inherent_limits.base_vs_instruct.benchmarks import MathBench, get_bench
from inherent_limits.core.errors import UserError
from inherent_limits.data.loading import BUNDLED_RAW, local_path, read_jsonl, resolve_dir
from inherent_limits.data.registry import DATA_DIR_ENV

_CALCULATOR_NOTE = re.compile(r"<<[^<>]*>>")


@dataclass(frozen=True)
class Item:
    """One benchmark question, prompt-neutral: the prompt builder decides the wording."""
    item_id: str
    question: str
    gold: str
    solution: str            # worked solution (for few-shot exemplars)
    meta: dict = field(default_factory=dict, compare=False)


def _gsm8k(row: dict, index: int, split: str) -> Item:
    if "####" not in row["answer"]:
        raise ValueError("answer has no '#### N' final-answer line")
    rationale, gold = row["answer"].rsplit("####", 1)
    solution = _CALCULATOR_NOTE.sub("", rationale).strip()
    return Item(f"{split}-{index}", row["question"], gold.strip(), solution, {})


def _math500(row: dict, index: int, split: str) -> Item:
    meta = {"subject": row["subject"], "level": row["level"], "unique_id": row["unique_id"]}
    return Item(str(row["unique_id"]), row["problem"], str(row["answer"]), row["solution"], meta)


def _perturb(row: dict, index: int, split: str) -> Item:
    meta = {"subject": row["type"], "level": row["level"], "original_split": row["original_split"]}
    return Item(str(row["problem_id"]), row["problem"], str(row["answer"]), "", meta)


def _medcalc(row: dict, index: int, split: str) -> Item:
    note, task = row["Patient Note"].strip(), row["Question"].strip()
    meta = {"note": note, "task": task, "calculator_id": int(row["Calculator ID"]),
            "calculator_name": row["Calculator Name"], "category": row["Category"],
            "output_type": row["Output Type"], "lower_limit": str(row["Lower Limit"]),
            "upper_limit": str(row["Upper Limit"]), "note_id": str(row["Note ID"]),
            "note_type": row["Note Type"], "row_number": int(row["Row Number"])}
    return Item(f"{split}-{int(row['Row Number'])}", f"{note}\n\n{task}", str(row["Ground Truth Answer"]).strip(),
                str(row["Ground Truth Explanation"]).strip(), meta)


_CONVERT = {"gsm8k": _gsm8k, "math500": _math500, "math_perturb_hard": _perturb, "medcalc": _medcalc}


def _local_file(bench: MathBench, data_dir: Path, split: str) -> Optional[Path]:
    candidates = [local_path(data_dir, bench.name, split)]
    if split == bench.test_split:
        candidates += [data_dir / name for name in bench.local_files]
    return next((p for p in candidates if p.exists()), None)


def _read_hub(bench: MathBench, split: str) -> tuple[str, Iterable[tuple[int, dict]]]:
    import datasets
    where = bench.hub_path + (f" (config {bench.hub_config})" if bench.hub_config else "")
    try:
        rows = list(datasets.load_dataset(bench.hub_path, bench.hub_config, split=split))
    except Exception as err:  # offline, missing dataset or split: all user-fixable
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise UserError(f"benchmark {bench.name}: could not load hub dataset {where}, split {split!r}: "
                        f"{reason}. Offline? Pass --data_dir DIR with {bench.name}/{split}.jsonl in the hub's "
                        f"schema (or set {DATA_DIR_ENV}); `--data_dir bundled` uses the shipped sample data.") from None
    return f"hub:{where}", enumerate(rows, 1)


def _raw_rows(bench: MathBench, split: str, data_dir: Optional[Path]) -> tuple[str, Iterable[tuple[int, dict]]]:
    if data_dir is not None:
        path = _local_file(bench, data_dir, split)
        if path is None:
            expected = local_path(data_dir, bench.name, split)
            raise UserError(f"benchmark {bench.name}: local file {expected} not found; write split {split!r} "
                            f"there as JSON lines in the schema ({', '.join(bench.columns)})"
                            + (f", or {bench.how_to_get}" if bench.how_to_get else ""))
        return str(path), read_jsonl(path)
    if bench.hub_path is None:
        raise UserError(f"benchmark {bench.name} has no hub copy: {bench.how_to_get}; "
                        "`--data_dir bundled` uses the shipped sample")
    return _read_hub(bench, split)


def _items(bench: MathBench, split: str, source: str, rows: Iterable[tuple[int, dict]]) -> list[Item]:
    convert, out = _CONVERT[bench.name], []
    for index, (number, row) in enumerate(rows):
        missing = [c for c in bench.columns if c not in row]
        if missing:
            raise UserError(f"benchmark {bench.name}: row {number} of {source} lacks column(s) "
                            f"{', '.join(repr(c) for c in missing)}; expected the "
                            f"{bench.hub_path or bench.name} schema: {', '.join(bench.columns)}")
        try:
            item = convert(row, index, split)
        except (KeyError, ValueError, TypeError, AttributeError) as err:
            raise UserError(f"benchmark {bench.name}: row {number} of {source} is malformed: "
                            f"{type(err).__name__}: {err}") from None
        if not isinstance(item.question, str) or not item.question.strip():
            raise UserError(f"benchmark {bench.name}: row {number} of {source} has no question text "
                            f"(got {item.question!r})")
        out.append(item)
    if not out:
        raise UserError(f"benchmark {bench.name}: {source} has no rows")
    ids = [item.item_id for item in out]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise UserError(f"benchmark {bench.name}: {source} repeats item id {dup!r}")
    return out


def load_items(name: str, split: str = "test", data_dir: Optional[str] = None) -> list[Item]:
    """A benchmark split as Items.

    `data_dir`: a folder with `<name>/<split>.jsonl` in the hub schema, `bundled` for the shipped
    sample, or None for $INHERENT_LIMITS_DATA_DIR, else the hub.
    """
    bench = get_bench(name)
    source, rows = _raw_rows(bench, split, resolve_dir(data_dir, DATA_DIR_ENV, BUNDLED_RAW))
    return _items(bench, split, source, rows)


def bench_source(name: str, split: str = "test", data_dir: Optional[str] = None) -> str:
    """Where load_items reads a benchmark split: `bundled`, `folder:<file>` or `hub:<id>[ config <name>]`."""
    bench = get_bench(name)
    folder = resolve_dir(data_dir, DATA_DIR_ENV, BUNDLED_RAW)
    if folder is None:
        return f"hub:{bench.hub_path}" + (f" config {bench.hub_config}" if bench.hub_config else "")
    return "bundled" if folder == BUNDLED_RAW else f"folder:{_local_file(bench, folder, split)}"


@lru_cache(maxsize=8)
def _exemplar_pool(exemplar_bench: str, folder: Optional[Path]) -> tuple[Item, ...]:
    """The exemplar split's items, read once per process (runs ask for exemplars item by item)."""
    source = get_bench(exemplar_bench)
    if source.fewshot_bundled and (folder is None or _local_file(source, folder, source.fewshot_split) is None):
        folder = BUNDLED_RAW
    path_or_hub, rows = _raw_rows(source, source.fewshot_split, folder)
    return tuple(_items(source, source.fewshot_split, path_or_hub, rows))


def fewshot_exemplars(name: str, n: int, seed: int, exclude_id: Optional[str] = None,
                      data_dir: Optional[str] = None, calculator_id: Optional[int] = None) -> list[Item]:
    """`n` exemplars with worked solutions, the same for every item under one seed.

    The exemplar split is shuffled with `seed` and the first `n` are taken, skipping `exclude_id`.
    MedCalc: with `calculator_id`, exemplars of that calculator come first (the official one-shot
    protocol uses an exemplar of the same calculator); others fill up when there are too few.
    """
    if n < 0:
        raise UserError(f"number of few-shot exemplars must be >= 0, got {n}")
    if n == 0:
        return []
    bench = get_bench(name)
    if bench.fewshot_split is None:
        raise UserError(f"benchmark {bench.name} has no split for few-shot exemplars; use zero-shot")
    pool = list(_exemplar_pool(bench.exemplar_bench, resolve_dir(data_dir, DATA_DIR_ENV, BUNDLED_RAW)))
    random.Random(f"{bench.exemplar_bench}:{seed}").shuffle(pool)
    pool = [item for item in pool if item.item_id != exclude_id]   # after the shuffle: others stay put
    if calculator_id is not None:
        pool.sort(key=lambda item: item.meta.get("calculator_id") != calculator_id)  # stable
    if len(pool) < n:
        raise UserError(f"benchmark {name}: asked for {n} few-shot exemplars but the exemplar split "
                        f"has only {len(pool)}")
    return pool[:n]
