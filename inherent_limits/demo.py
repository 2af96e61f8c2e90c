"""The embedded-default run: load every task from the bundled data, preprocess, save, summarise.

    python -m inherent_limits.demo [--root demo_run] [--tasks all]

Later stages extend this into the whole pipeline; today it proves that every
registered task loads from the shipped raw data into canonical datasets.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

from .cli_args import add_data_sources
from .config import get_task, group_of, resolve_tasks
from .data_utils import load_task
from .errors import run_cli
from .io_utils import save_dataset


def preprocess_tasks(tasks: list[str], root: Path, data_dir: str, manual_dir: str) -> list[tuple]:
    """Load and save each task's train and test splits; return summary rows."""
    summary = []
    for task in tqdm(tasks, desc="preprocess tasks", unit="task", file=sys.stdout):
        spec = get_task(task)
        loaded = {}
        for role in ("train", "test"):
            split = spec.split_for(role)
            if split not in loaded:
                loaded[split] = load_task(task, role, data_dir=data_dir, manual_dir=manual_dir)
        for split, dataset in loaded.items():
            save_dataset(dataset, root / "data" / "preprocessed" / Path(*task.split("/")) / split)
            summary.append((task, group_of(task), split, len(dataset), dataset[0]["label"]))
    return summary


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="demo_run", help="output root (default: demo_run)")
    parser.add_argument("--tasks", nargs="+", default=["all"],
                        help="task names, cluster names or all (default: all)")
    add_data_sources(parser)
    args = parser.parse_args(argv)
    tasks = resolve_tasks(args.tasks)
    import datasets
    datasets.disable_progress_bars()
    start = time.time()
    summary = preprocess_tasks(tasks, Path(args.root), args.data_dir or "bundled",
                               args.manual_dir or "bundled")
    print(f"\n{'task':34} {'cluster':22} {'split':20} {'rows':>5}  first label")
    for task, group, split, rows, label in summary:
        shown = label if len(label) <= 40 else label[:37] + "..."
        print(f"{task:34} {group:22} {split:20} {rows:5d}  {shown!r}")
    print(f"\n{len(tasks)} tasks, {sum(r[3] for r in summary)} rows, saved under "
          f"{Path(args.root) / 'data' / 'preprocessed'} in {time.time() - start:.1f}s")


if __name__ == "__main__":
    run_cli(lambda: main(sys.argv[1:]))
