"""What ran: the job id every log row carries, the code version, and a finished run's info file."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Optional

RUN_INFO = "run_info.json"  # written last into saved_models/<run>/: a run folder without it is unfinished


def job_id(explicit: Optional[str] = None) -> str:
    """--slurm_job_id, else $SLURM_JOB_ID, else a %Y%m%d_%H%M%S timestamp."""
    return str(explicit or os.environ.get("SLURM_JOB_ID") or time.strftime("%Y%m%d_%H%M%S"))


def git_hash() -> str:
    """The checkout's commit, or 'unknown' outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
