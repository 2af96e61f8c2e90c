"""User-facing errors: one clear line on stderr and a non-zero exit, never a traceback."""
from __future__ import annotations

import difflib
import sys
from typing import Callable, Iterable


class UserError(Exception):
    """A mistake the user can fix (bad flag, missing file, malformed data)."""


def close_names(name: str, known: Iterable[str], cutoff: float = 0.5) -> list[str]:
    """Up to three of `known` that look like `name`, for a "did you mean" hint."""
    return difflib.get_close_matches(name, list(known), n=3, cutoff=cutoff)


def run_cli(main: Callable[[], object]) -> None:
    """Run a CLI entry point; a UserError becomes `error: <message>` and exit status 2."""
    try:
        main()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
