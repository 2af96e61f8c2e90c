"""Stage 2: examples-proportional mixing of per-task datasets (seqio's mixing_rate_num_examples).

rate_i = min(n_i, maximum) / sum_j min(n_j, maximum), optionally ** (1 / temperature) and
renormalised; each task capped at size_limit rows; interleaved with a seed; 10% dev split.
The inputs are only read: they are loaded into memory, so no cache file lands in their folders.
The mixture folder's build_info.json names each task's data source (from the task datasets' own).
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Optional

from tqdm import tqdm

from inherent_limits.core.atomic_files import atomic_dir, recover_with_parent
from inherent_limits.core.checks import at_least, load_saved_dataset, positive, writable_root
from inherent_limits.core.errors import UserError
from inherent_limits.data.registry import MIXTURE_SETUPS, mixture_tasks
from inherent_limits.prompts.task_datasets import BUILD_INFO

DEV_FRACTION = 0.1


def _source_of(task_dir: Path) -> str:
    """The data_source a task dataset's build_info.json records ("unrecorded" for older datasets)."""
    try:
        return str(json.loads((task_dir / BUILD_INFO).read_text(encoding="utf-8"))["data_source"])
    except (OSError, ValueError, KeyError, TypeError):
        return "unrecorded"


def source_summary(path: Path) -> str:
    """A mixture's data sources in one cell: "bundled (18 tasks)", "folder (12 tasks), hub (6 tasks)", ..."""
    try:
        sources = json.loads((Path(path) / BUILD_INFO).read_text(encoding="utf-8"))["data_sources"]
    except (OSError, ValueError, KeyError, TypeError):
        return "unrecorded"
    kinds = Counter(str(source).split(":", 1)[0] for source in sources.values())
    return ", ".join(f"{kind} ({n} task{'s' if n > 1 else ''})" for kind, n in sorted(kinds.items()))


def mixing_rates(sizes: list[int], maximum: Optional[int] = 3000, temperature: float = 1.0) -> list[float]:
    """Examples-proportional rates with a cap, as seqio.mixing_rate_num_examples."""
    if not temperature > 0:
        raise UserError(f"--temperature must be greater than 0, got {temperature}")
    capped = [min(n, maximum) if maximum else n for n in sizes]
    total = sum(capped)
    if total == 0:
        raise UserError("every dataset of the mixture is empty")
    rates = [c / total for c in capped]
    if temperature != 1.0:
        rates = [r ** (1.0 / temperature) for r in rates]
        norm = sum(rates)
        rates = [r / norm for r in rates]
    return rates


def setup_name(setup: str) -> str:
    """Accept `default`, `setup3` or the reference's bare number `3`."""
    name = f"setup{setup}" if setup.isdigit() else setup
    if name not in MIXTURE_SETUPS:
        raise UserError(f"unknown mixture setup {setup!r}; choose from {', '.join(MIXTURE_SETUPS)}")
    return name


def mixture_dir(root: Path, prompt_format: str, setup: str, variant: str = "") -> Path:
    name = f"{prompt_format}_mixture" + (f"_{variant}" if variant else "")
    return root / "data" / (name if setup == "default" else f"{name}_{setup}")


def make_mixture(root: Path, prompt_format: str, setup: str = "default", variant: str = "",
                 num_datapoints: int = 30000, maximum: int = 3000, size_limit: int = 30000,
                 temperature: float = 1.0, seed: int = 42, overwrite: bool = False) -> tuple[Path, list]:
    """Mix the tasks of a setup into data/<format>_mixture[...]; returns (path, [(task, rate)])."""
    import datasets
    positive("--temperature", temperature)
    at_least("--maximum", maximum, 0)
    at_least("--size_limit", size_limit, 1)
    writable_root(root)
    setup = setup_name(setup)
    tasks = mixture_tasks(setup)
    if not tasks:
        raise UserError(f"mixture {setup} ({MIXTURE_SETUPS[setup].description}) selects no task "
                        "once the always-held-out tasks are removed")
    target = mixture_dir(root, prompt_format, setup, variant)
    if target.exists() and not overwrite:
        raise UserError(f"{target} exists; pass --overwrite to rebuild it")
    folder = root / "data" / (prompt_format + (f"_{variant}" if variant else ""))
    loaded, sources = [], {}
    for task in tqdm(tasks, desc="load task datasets", unit="task"):
        path = folder.joinpath(*task.split("/"), str(num_datapoints), "train")
        custom = "True" if prompt_format.startswith("mix") else "False"
        build = (f"python create_prompts.py --num_datapoints {num_datapoints} --create_custom_prompts {custom} "
                 f"--dataset_type train+val --tasks {task} --root {root}")
        recover_with_parent(path)  # a kill during create_prompts.py --overwrite
        if not path.exists():
            built = sorted((p.parent.name for p in folder.joinpath(*task.split("/")).glob("*/train")
                            if p.parent.name.isdigit()), key=int)
            have = (f"; {task} is built with --num_datapoints {', '.join(built)}: pass --num_datapoints "
                    f"{built[-1]} to mix those" if built else "")
            raise UserError(f"{path} not found (--num_datapoints {num_datapoints}){have}; or build it with "
                            f"`{build}`")
        data = load_saved_dataset(path, f"rebuild it with `{build} --overwrite`", in_memory=True)
        sources[task] = _source_of(path.parent)
        loaded.append(data.select(range(min(len(data), size_limit))))
    rates = mixing_rates([len(d) for d in loaded], maximum, temperature)
    mixture = datasets.interleave_datasets(loaded, probabilities=rates, seed=seed)
    split = mixture.train_test_split(test_size=DEV_FRACTION, seed=seed)
    with atomic_dir(target, overwrite=overwrite) as tmp:
        split.save_to_disk(str(tmp))
        (tmp / BUILD_INFO).write_text(json.dumps({"data_sources": sources}, indent=2), encoding="utf-8")
    return target, list(zip(tasks, rates))
