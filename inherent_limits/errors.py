"""User-facing errors: one clear line on stderr and a non-zero exit, never a traceback."""
from __future__ import annotations

import sys
from typing import Callable


class UserError(Exception):
    """A mistake the user can fix (bad flag, missing file, malformed data)."""


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
