"""Atomic writes: build under a temporary sibling, then rename into place.

Hidden siblings of a target `X` carry the writer's host and pid, so the next writer (or reader)
can tell those of a dead process from those of a live one:

    .X.tmp-<host>-<pid>-<random>   being built (incomplete while its writer lives)
    .X.new-<host>-<pid>            complete new version, about to replace X (--overwrite)
    .X.old-<host>-<pid>            the replaced version, deleted once the new one is in

`recover(X)` finishes or undoes what a killed writer of this host left: a `.new` replaces
or becomes X, an `.old` comes back if X is missing (else it is deleted), a `.tmp` is removed.
Leftovers of other hosts are named, not touched. Every `atomic_dir` call recovers first, so
a kill between the two renames of an overwrite loses nothing: the next run completes it.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from inherent_limits.core.crash_points import crash_point

_HIDDEN = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|new|old)-(?P<host>[^-]+)-(?P<pid>\d+)(?:-[0-9a-f]+)?$")


def host_tag() -> str:
    """This host's name as temporary names carry it (no dashes)."""
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"


def _sibling(target: Path, kind: str, suffix: str = "") -> Path:
    return target.with_name(f".{target.name}.{kind}-{host_tag()}-{os.getpid()}{suffix}")


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (a zombie, dead but not reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS) or the process just ended: trust kill()
        return not Path("/proc").is_dir()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def leftovers(target: Path) -> list[tuple[Path, str, str, int]]:
    """(path, kind, host, pid) of the hidden temporaries of `target` (see the module docstring)."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    found = []
    for path in sorted(target.parent.glob(f".{target.name}.*")):
        match = _HIDDEN.match(path.name)
        if match and match["name"] == target.name:
            found.append((path, match["kind"], match["host"], int(match["pid"])))
    return found


def recover(target: Path) -> None:
    """Finish or clean up what killed writers of `target` on this host left behind; name the rest."""
    target = Path(target)
    order = {"new": 0, "old": 1, "tmp": 2}
    for path, kind, host, pid in sorted(leftovers(target), key=lambda item: order[item[1]]):
        if host != host_tag():
            print(f"note: {path} was left by pid {pid} on host {host}; remove it if no job there writes "
                  f"{target}")
            continue
        if pid == os.getpid() or pid_alive(pid) or not path.exists():
            continue
        if kind == "new":
            if target.exists():
                old = _sibling(target, "old")
                os.replace(target, old)
                os.replace(path, target)
                _remove(old)
            else:
                os.replace(path, target)
            print(f"completed the replacement of {target} interrupted by a kill (pid {pid})")
        elif kind == "old" and not target.exists():
            os.replace(path, target)
            print(f"restored {target} from {path.name} (its replacement was killed, pid {pid})")
        else:
            size = _size_mb(path)
            _remove(path)
            print(f"removed {path} ({size:.1f} MB) left by a killed writer (pid {pid})")


def recover_with_parent(path: Path) -> None:
    """`recover` the folder a reader opens and its parent (the folder a writer replaced may be either)."""
    recover(path)
    recover(Path(path).parent)


@contextmanager
def atomic_dir(target: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that replaces `target` only if the block succeeds.

    With `overwrite`, the old target goes aside only once the new one is complete; a kill at any
    point leaves either version in place or a state the next call (or `recover`) completes.
    A target that only this call's recovery brought back is replaced, as the caller found none.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    absent = not target.exists()
    recover(target)
    overwrite = overwrite or (absent and target.exists())
    tmp = _sibling(target, "tmp", f"-{secrets.token_hex(4)}")
    tmp.mkdir()
    try:
        yield tmp
        if target.exists():
            if not overwrite:
                raise FileExistsError(target)
            new, old = _sibling(target, "new"), _sibling(target, "old")
            os.replace(tmp, new)
            os.replace(target, old)
            crash_point("overwrite_between_renames")
            os.replace(new, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def save_dataset(dataset, target: Path, overwrite: bool = True) -> None:
    """`dataset.save_to_disk` through a temporary directory."""
    with atomic_dir(target, overwrite=overwrite) as tmp:
        dataset.save_to_disk(str(tmp))
