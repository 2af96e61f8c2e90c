"""Loading a task's raw split and turning it into a canonical `datasets.Dataset`.

Three sources, chosen per task:
  * a local folder (`--data_dir`, or $INHERENT_LIMITS_DATA_DIR) holding
    `<task>/<hub split>.jsonl` in the hub's schema (nested folders for task
    names with a slash);
  * the creators' manual downloads (`--manual_dir`, or
    $INHERENT_LIMITS_MANUAL_DIR) for story_cloze, newsroom, opin_idebate,
    opin_movie (and the reference's translated Social IQa);
  * the Hugging Face hub otherwise, with the reference's paths and its
    100k-row streaming cut-off.
`bundled` as a directory means the data shipped inside the package.
"""
from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import os
import random
from pathlib import Path
from typing import Iterable, Iterator, Optional

from inherent_limits.core.checks import read_utf8
from inherent_limits.core.errors import UserError
from inherent_limits.data.preprocess import RowError
from inherent_limits.data.registry import DATA_DIR_ENV, MANUAL_DIR_ENV, STREAM_CUTOFF, TaskSpec, get_task

BUNDLED_ROOT = Path(__file__).resolve().parent / "bundled"
BUNDLED_RAW = BUNDLED_ROOT / "raw"
BUNDLED_MANUAL = BUNDLED_ROOT / "manual_downloads"
HALVES_SEED = 25  # the reference's fixed seed for the SampleGen partition


def resolve_dir(value: Optional[str], env: str, bundled: Path) -> Optional[Path]:
    """A directory flag: explicit value, else the environment variable; `bundled` = shipped data."""
    value = value or os.environ.get(env) or None
    if value is None:
        return None
    return bundled if value == "bundled" else Path(value).expanduser()


def local_path(data_dir: Path, task: str, split: str) -> Path:
    return data_dir.joinpath(*task.split("/"), f"{split}.jsonl")


def read_jsonl(path: Path, limit: Optional[int] = None) -> Iterator[tuple[int, dict]]:
    """(line number, row) pairs of a UTF-8 file (a BOM is fine); bad bytes or JSON name file and line."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        count = 0
        for lineno, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as err:
                raise UserError(f"{path}:{lineno}: not UTF-8 (byte {raw[err.start]:#04x} at column "
                                f"{err.start + 1}); re-save the file as UTF-8") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"{path}:{lineno}: malformed JSON ({err.msg}); "
                                "each line must be one JSON object") from None
            if not isinstance(row, dict):
                raise UserError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            yield lineno, row
            count += 1
            if limit is not None and count >= limit:
                return


def _read_manual(spec: TaskSpec, manual_dir: Path, split: str) -> tuple[str, Iterable[tuple[int, dict]]]:
    source = spec.manual
    candidates = [manual_dir / f.format(split=split) for f in source.files]
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        raise UserError(f"task {spec.name}: manual download not found at {candidates[0]}. "
                        f"To get it: {source.how.format(split=split)} ({source.url}).")
    if source.fmt == "tsv":
        rows = list(csv.DictReader(io.StringIO(read_utf8(path), newline=""), delimiter="\t"))
        return str(path), enumerate(rows, 2)
    if source.fmt == "json":
        try:
            data = json.loads(read_utf8(path))
        except json.JSONDecodeError as err:
            raise UserError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from None
        if not isinstance(data, list):
            raise UserError(f"{path}: expected a JSON array of objects")
        return str(path), enumerate(data, 1)
    if source.fmt == "jsonl":
        return str(path), read_jsonl(path, limit=STREAM_CUTOFF)
    import datasets  # arrow: a dataset saved with save_to_disk
    return str(path), enumerate(datasets.load_from_disk(str(path)), 1)


def _read_hub(spec: TaskSpec, split: str, trust_remote_code: bool) -> tuple[str, Iterable[tuple[int, dict]]]:
    import datasets
    where = f"{spec.hub_path}" + (f" (config {spec.hub_name})" if spec.hub_name else "")
    kwargs = {"split": split, "streaming": spec.streaming}
    if trust_remote_code:
        kwargs["trust_remote_code"] = True
    try:
        loaded = datasets.load_dataset(spec.hub_path, spec.hub_name, **kwargs)
        rows = list(itertools.islice(loaded, STREAM_CUTOFF)) if spec.streaming else list(loaded)
    except Exception as err:  # offline, missing dataset, missing split: all are user-fixable
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise UserError(
            f"task {spec.name}: could not load hub dataset {where}, split {split!r}: {reason}. "
            f"Offline? Pass --data_dir DIR with {spec.name}/{split}.jsonl in the hub's schema "
            f"(or set {DATA_DIR_ENV}); `--data_dir bundled` uses the shipped sample data.") from None
    return f"hub:{where}", enumerate(rows, 1)


def read_raw(spec: TaskSpec, split: str, data_dir: Optional[Path], manual_dir: Optional[Path],
             trust_remote_code: bool = False) -> tuple[str, Iterable[tuple[int, dict]]]:
    """(source description, numbered raw rows) for one hub split of a task."""
    if data_dir is not None:
        path = local_path(data_dir, spec.name, split)
        if path.exists():
            return str(path), read_jsonl(path)
        if not spec.manual:
            raise UserError(f"task {spec.name}: local file {path} not found; write the hub split "
                            f"{split!r} there as JSON lines, or drop --data_dir to use the hub")
    if spec.manual:
        if manual_dir is None:
            raise UserError(f"task {spec.name} needs a manual download: {spec.manual.how} "
                            f"({spec.manual.url}), then pass --manual_dir DIR (or set {MANUAL_DIR_ENV})")
        return _read_manual(spec, manual_dir, split)
    return _read_hub(spec, split, trust_remote_code)


def data_source(task: str, role: str = "train", data_dir: Optional[str] = None,
                manual_dir: Optional[str] = None) -> str:
    """Where load_task_rows reads a task's split: `bundled`, `folder:<file>`, `manual:<folder>` or `hub:<id>`."""
    spec = get_task(task)
    split = spec.split_for(role)
    data = resolve_dir(data_dir, DATA_DIR_ENV, BUNDLED_RAW)
    manual = resolve_dir(manual_dir, MANUAL_DIR_ENV, BUNDLED_MANUAL)
    if data is not None and local_path(data, spec.name, split).exists():
        return "bundled" if data == BUNDLED_RAW else f"folder:{local_path(data, spec.name, split).resolve()}"
    if spec.manual and manual is not None:
        return "bundled" if manual == BUNDLED_MANUAL else f"manual:{manual.resolve()}"
    return f"hub:{spec.hub_path}" + (f" config {spec.hub_name}" if spec.hub_name else "") + f" split {split}"


def canonical_rows(spec: TaskSpec, source: str, rows: Iterable[tuple[int, dict]]) -> list[dict]:
    """Check required columns and preprocess; errors name the task, file and row."""
    out = []
    for number, row in rows:
        missing = [c for c in spec.required if c not in row]
        if missing:
            raise UserError(f"task {spec.name}: row {number} of {source} lacks required column "
                            f"{missing[0]!r} (needs {', '.join(spec.required)})")
        empty = [c for c in spec.required if row[c] is None or isinstance(row[c], str) and not row[c].strip()]
        if empty:
            raise UserError(f"task {spec.name}: row {number} of {source} has an empty required field "
                            f"{empty[0]!r}; fill it in or remove the row")
        try:
            done = spec.preprocess(row, spec)
        except (RowError, KeyError, IndexError, ValueError, TypeError, AttributeError) as err:
            raise UserError(f"task {spec.name}: row {number} of {source} cannot be preprocessed: "
                            f"{type(err).__name__}: {err}") from None
        if done is not None:
            null = [f for f in spec.input_fields if f in done and done[f] is None]
            if null:
                raise UserError(f"task {spec.name}: row {number} of {source} has no value (null) in the "
                                f"prompt field {null[0]!r}; fill it in or remove the row")
            out.append(done)
    if not out:
        raise UserError(f"task {spec.name}: {source} has no usable rows")
    return out


def load_task_rows(task: str, role: str = "train", data_dir: Optional[str] = None,
                   manual_dir: Optional[str] = None, trust_remote_code: bool = False) -> list[dict]:
    """A task's split for a role (train, test or gold) as canonical rows (plain dicts)."""
    spec = get_task(task)
    split = spec.split_for(role)
    source, rows = read_raw(spec, split,
                            resolve_dir(data_dir, DATA_DIR_ENV, BUNDLED_RAW),
                            resolve_dir(manual_dir, MANUAL_DIR_ENV, BUNDLED_MANUAL),
                            trust_remote_code)
    return canonical_rows(spec, source, rows)


def load_task(task: str, role: str = "train", data_dir: Optional[str] = None,
              manual_dir: Optional[str] = None, trust_remote_code: bool = False):
    """Load a task's split for a role (train, test or gold) as a canonical Dataset."""
    import datasets
    return datasets.Dataset.from_list(load_task_rows(task, role, data_dir, manual_dir, trust_remote_code))


def split_halves(rows: list, seed: int = HALVES_SEED) -> tuple[list, list]:
    """Two disjoint halves of the seeded-shuffled rows (SampleGen draws examples from the other half)."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    half = len(order) // 2
    return [rows[i] for i in order[:half]], [rows[i] for i in order[half:]]


def bundled_splits(spec: TaskSpec) -> dict[str, bool]:
    """For each distinct hub split the task uses: is there shipped sample data for it?"""
    out = {}
    for role in ("train", "test", "gold"):
        split = spec.split_for(role)
        path = local_path(BUNDLED_RAW, spec.name, split)
        if not path.exists() and spec.manual:
            path = next((BUNDLED_MANUAL / f.format(split=split) for f in spec.manual.files
                         if (BUNDLED_MANUAL / f.format(split=split)).exists()), path)
        out[split] = path.exists()
    return out
