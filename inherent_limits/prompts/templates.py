"""Reading FLAN-style template files without executing them.

A template file is Python source holding one `PATTERNS = {family: [(input, target), ...]}`
literal, as FLAN's templates.py and the reference's prompts/flan_orig.py are. It is parsed
with `ast` and `ast.literal_eval`: never imported, never executed. The project's own wording
ships in `inherent_limits/prompts/flan_patterns.py`; pass the reference's file to reproduce
the paper's prompts exactly.
"""
from __future__ import annotations

import ast
import re
import string
from pathlib import Path
from typing import Optional

from inherent_limits.core.checks import read_utf8
from inherent_limits.core.errors import UserError

PLACEHOLDER = re.compile(r"\w*")  # a placeholder names a field: no attribute or index access
DEFAULT_PATTERNS = Path(__file__).resolve().parent / "flan_patterns.py"

Patterns = dict[str, list[tuple[str, str]]]


def read_patterns(path: Optional[Path] = None) -> Patterns:
    """The PATTERNS dict of a template file, validated for shape."""
    path = Path(path or DEFAULT_PATTERNS)
    try:
        tree = ast.parse(read_utf8(path), filename=str(path))
    except OSError as err:
        raise UserError(f"cannot read template file {path}: {err.strerror}") from None
    except SyntaxError as err:
        raise UserError(f"{path}:{err.lineno}: not valid Python ({err.msg})") from None
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "PATTERNS" for t in targets):
            try:
                patterns = ast.literal_eval(node.value)
            except ValueError:
                raise UserError(f"{path}:{node.lineno}: PATTERNS must be a plain literal "
                                "(dict of lists of (input, target) string pairs)") from None
            return _validated(patterns, path)
    raise UserError(f"{path}: no `PATTERNS = {{...}}` assignment found")


def _validated(patterns, path: Path) -> Patterns:
    if not isinstance(patterns, dict):
        raise UserError(f"{path}: PATTERNS must be a dict")
    out: Patterns = {}
    for family, pairs in patterns.items():
        if not isinstance(pairs, (list, tuple)) or not all(
                isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(s, str) for s in p)
                for p in pairs):
            raise UserError(f"{path}: PATTERNS[{family!r}] must be a list of (input, target) strings")
        out[str(family)] = [(p[0], p[1]) for p in pairs]
    return out


def placeholders(template: str, where: str = "template") -> list[str]:
    """The `{name}` placeholders of a template, in order; a UserError for anything but a plain name
    (attribute or index access, conversions, format specs) or unbalanced braces."""
    try:
        parsed = [(name, conversion, spec) for _, name, spec, conversion in string.Formatter().parse(template)
                  if name is not None]
    except ValueError as err:
        raise UserError(f"{where}: {err} (write a literal brace as {{{{ or }}}})") from None
    for name, conversion, spec in parsed:
        if not PLACEHOLDER.fullmatch(name) or conversion or spec:
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise UserError(f"{where}: placeholder {{{shown}}} may only name a field, as {{premise}}")
    return [name for name, _, _ in parsed]


def check_placeholders(template: str, allowed: set[str], where: str) -> None:
    """A UserError if the template uses a placeholder outside `allowed`."""
    unknown = [p for p in placeholders(template, where) if p not in allowed]
    if unknown:
        raise UserError(f"{where}: unknown placeholder {{{unknown[0]}}} "
                        f"(allowed: {', '.join(sorted(allowed))})")
