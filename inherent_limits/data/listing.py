"""The task table printed by `create_prompts.py --list_tasks`."""
from __future__ import annotations

from inherent_limits.data.loading import bundled_splits
from inherent_limits.data.registry import TASKS, group_of


def task_table() -> str:
    """One line per registered task: name, cluster/group, source, bundled data."""
    header = f"{'task':34} {'cluster':22} {'source':58} bundled"
    lines = [header, "-" * len(header)]
    for spec in TASKS.values():
        splits = bundled_splits(spec)
        bundled = "yes" if all(splits.values()) else \
            "missing: " + ", ".join(s for s, ok in splits.items() if not ok)
        lines.append(f"{spec.name:34} {group_of(spec.name):22} {spec.source:58} {bundled}")
    lines.append(f"{len(TASKS)} tasks")
    return "\n".join(lines)
