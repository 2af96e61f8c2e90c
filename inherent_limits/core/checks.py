"""Checks of user input that several stages share; each failure is a UserError naming the fix."""
from __future__ import annotations

import errno
import tempfile
from pathlib import Path
from typing import Optional

from inherent_limits.core.errors import UserError

_READ_ONLY = (errno.EACCES, errno.EPERM, errno.EROFS)


def at_least(flag: str, value, minimum) -> None:
    """`flag` must be >= minimum (None means unset and passes)."""
    if value is not None and value < minimum:
        raise UserError(f"{flag} must be at least {minimum}, got {value}")


def positive(flag: str, value) -> None:
    if value is not None and not value > 0:
        raise UserError(f"{flag} must be greater than 0, got {value}")


def fraction(flag: str, value, upper_open: bool = False) -> None:
    """A share in [0, 1] ([0, 1) with upper_open)."""
    if not (0 <= value < 1 if upper_open else 0 <= value <= 1):
        raise UserError(f"{flag} must be in [0, 1{')' if upper_open else ']'}, got {value}")


def writable_root(root: Path) -> None:
    """The root folder (or, while missing, its nearest existing parent) must be a writable directory."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise UserError(f"--root {root} is a file, not a folder: pass a directory")
    probe = next(p for p in (root.absolute(), *root.absolute().parents) if p.exists())
    if not probe.is_dir():
        raise UserError(f"--root {root}: {probe} is a file, not a folder: pass a directory")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as err:
        why = "is read-only" if err.errno in _READ_ONLY else f"cannot be written ({err.strerror})"
        raise UserError(f"--root {root} {why}: pass a writable --root") from None


def loggers_installed(report_to: Optional[str]) -> None:
    """Each name in --report_to must be a transformers logger whose package is installed."""
    names = [n.strip() for n in (report_to or "none").split(",") if n.strip()]
    if names in ([], ["none"], ["all"]):
        return
    from transformers.integrations import integration_utils as hub

    for name in names:
        if name not in hub.INTEGRATION_TO_CALLBACK:
            raise UserError(f"--report_to {name}: unknown logger; choose from none, all, "
                            + ", ".join(sorted(hub.INTEGRATION_TO_CALLBACK)))
        probe = {"azure_ml": "azureml", "comet_ml": "comet", "flyte": "flytekit"}.get(name, name)
        available = getattr(hub, f"is_{probe}_available", None)
        if available is not None and not available():
            raise UserError(f"--report_to {name}: the {name} package is not installed; "
                            f"pip install {name}, or drop --report_to")


def load_saved_dataset(path: Path, rebuild: str, in_memory: bool = False):
    """`datasets.load_from_disk` with a corrupt folder named; `rebuild` says which stage rebuilds it.

    in_memory keeps every later operation (select, interleave, split) off the input's folder.
    """
    import datasets

    try:
        return datasets.load_from_disk(str(path), keep_in_memory=in_memory)
    except FileNotFoundError:
        raise UserError(f"{path} not found: {rebuild}") from None
    except Exception as err:  # pyarrow/json errors of a damaged save: the user rebuilds it
        detail = " ".join(str(err).split())[:200] or type(err).__name__
        raise UserError(f"{path} is corrupt ({type(err).__name__}: {detail}): {rebuild}") from None


def read_utf8(path: Path) -> str:
    """The text of a file that must be UTF-8; a UserError naming the file and the first bad byte's offset."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{path} is not UTF-8 text: byte 0x{data[err.start]:02x} at offset {err.start}; "
                        "save it as UTF-8") from None


def os_error(path, err: OSError) -> UserError:
    """An OSError writing under `path` as one line; read-only is said as such."""
    if err.errno in _READ_ONLY:
        return UserError(f"{path} is read-only: pass a writable --root")
    return UserError(f"cannot write {path}: {err.strerror or err}")


def usable_log(path: Path) -> None:
    """A run log that exists must be a writable file that parses; checked before the work it records."""
    from inherent_limits.core.csv_logs import check_log

    path = Path(path)
    if not path.exists():
        return
    if not path.is_file():
        raise UserError(f"the log {path} is not a file: move it away")
    check_log(path)
    try:
        open(path, "ab").close()
    except OSError as err:
        raise os_error(path, err) from None


def torch_device(flag: str, value: Optional[str]) -> None:
    """A torch device string that names a device this machine has (None: the default)."""
    if value is None:
        return
    import torch

    try:
        device = torch.device(value)
    except (RuntimeError, ValueError):
        raise UserError(f"{flag} {value!r} is not a torch device: use cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UserError(f"{flag} {value}: this machine has no CUDA GPU; use cpu")
        if device.index is not None and device.index >= count:
            raise UserError(f"{flag} {value}: this machine has {count} CUDA GPU(s), cuda:0..cuda:{count - 1}")


def not_empty(args, names: tuple[str, ...]) -> None:
    """The named argparse values, when given, must not be empty strings (nor hold one)."""
    for name in names:
        value = getattr(args, name)
        if value is not None and any(not str(v).strip() for v in (value if isinstance(value, list) else [value])):
            raise UserError(f"--{name} is empty: give a value, or leave the flag out for its default")
