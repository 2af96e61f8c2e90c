"""The package's shape: stage subpackages, imports only downward, no cycles (read from the source with ast)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "inherent_limits"
# Each stage may import its own subpackage and the stages ranked below it, never one above or beside it.
STAGE_RANK = {"core": 0, "data": 1, "prompts": 2, "models": 3, "training": 4, "evaluation": 5,
              "analysis": 6, "base_vs_instruct": 6, "demo": 7}
TOP_LEVEL_MODULES = {"__init__.py", "demo.py"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "bundled" not in p.parts}


def imported(path: Path, name: str, known: set[str]) -> set[str]:
    """The package modules a file imports, at any depth (lazy imports inside functions count)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import mod` imports a module; `from mod import name` imports mod
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target != "inherent_limits":
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imported(path, name, set(mods)) for name, path in mods.items()}


def stage(module: str) -> str:
    return module.split(".")[1] if "." in module else "inherent_limits"


def test_every_module_belongs_to_a_ranked_stage():
    unranked = sorted(m for m in modules() if stage(m) not in STAGE_RANK and m != "inherent_limits")
    assert not unranked, f"modules outside the stage subpackages: {unranked}"
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert set(top) <= TOP_LEVEL_MODULES, f"top-level modules beyond {sorted(TOP_LEVEL_MODULES)}: {top}"


def test_imports_go_only_to_lower_stages():
    upward = sorted(f"{a} ({stage(a)}) imports {b} ({stage(b)})"
                    for a, targets in graph().items() for b in targets
                    if stage(a) != stage(b) and STAGE_RANK[stage(b)] >= STAGE_RANK[stage(a)])
    assert not upward, "imports that go up or across stages:\n" + "\n".join(upward)


def find_cycle(edges: dict[str, set[str]]) -> list[str]:
    """One import cycle as a path [a, b, ..., a], or [] when the graph is acyclic."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_no_import_cycles():
    cycle = find_cycle(graph())
    assert not cycle, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("edges, cyclic", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
    ({"a": {"a2"}, "a2": set(), "b": {"b"}}, True),
])
def test_cycle_finder(edges, cyclic):
    assert bool(find_cycle(edges)) is cyclic


def test_checker_sees_relative_lazy_and_module_imports(tmp_path, monkeypatch):
    """The parser resolves `from . import x`, `from ..x import y` and imports inside functions."""
    pkg = tmp_path / "inherent_limits"
    (pkg / "core").mkdir(parents=True)
    (pkg / "evaluation").mkdir()
    for init in (pkg / "__init__.py", pkg / "core" / "__init__.py", pkg / "evaluation" / "__init__.py"):
        init.write_text("")
    (pkg / "core" / "errors.py").write_text("def f():\n    from ..evaluation import runner\n")
    (pkg / "evaluation" / "runner.py").write_text("from . import metrics\nfrom ..core.errors import f\n")
    (pkg / "evaluation" / "metrics.py").write_text("")
    monkeypatch.setitem(globals(), "PACKAGE", pkg)
    edges = graph()
    assert edges["inherent_limits.core.errors"] == {"inherent_limits.evaluation.runner"}
    assert edges["inherent_limits.evaluation.runner"] == {"inherent_limits.evaluation.metrics",
                                                          "inherent_limits.core.errors"}
    assert find_cycle(edges)
