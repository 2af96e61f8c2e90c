"""Named kill points for crash-safety tests.

`crash_point(name)` kills the process with SIGKILL when $INHERENT_LIMITS_CRASH_AT lists
`name` (comma-separated). Nothing runs after it (no finally blocks, no atexit), as when a
job is preempted, killed for memory or out of time. Unset, it does nothing.
"""
from __future__ import annotations

import os
import signal

CRASH_ENV = "INHERENT_LIMITS_CRASH_AT"


def crash_point(name: str) -> None:
    """SIGKILL this process if $INHERENT_LIMITS_CRASH_AT names this point."""
    wanted = os.environ.get(CRASH_ENV)
    if wanted and name in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
