"""CSV run logs that many concurrent jobs can append to.

Every stage appends one row per run to a log under the root (train_logs.csv, eval_logs.csv,
bertscore_evals.csv). Rows of different tasks carry different metric columns, so each row is
written under its own column names:

- If the file's header already has every column of the row, the row is appended as one line
  (append mode, flush, fsync); missing columns get empty cells.
- Otherwise the whole file is rewritten with the union header (existing columns in their order,
  then the new ones in the row's order); old rows get empty cells under the new columns. The
  rewrite goes to a temporary file in the same folder, is fsynced and then `os.replace`d over
  the log, so a reader sees the old file or the new one, never a half-written one.

Both happen while holding an exclusive lock, so rows are never lost, interleaved or misaligned.
Before either, the whole log is parsed: a damaged log (a quoted cell never closed, a row longer
than the header, bad quoting) is refused with the line number, so no row is ever appended into
an open quote. `check_log` runs the same check before a long job starts, `append_row_once`
appends a row only if no row with the same key cells is there yet (for rerun-safe finishing),
and `replace_rows` replaces the rows with the same key cells (summaries written once per group).
A rewrite's temporary file left by a killed writer is removed by the next writer.

Why a separate lock file (`<log>.lock`): a rewrite replaces the log with a new inode. A lock
taken on the log itself would stay on the old, unlinked inode, and a writer that opens the new
file would not wait for it. The lock file is never replaced or deleted, so every writer contends
on the same inode. Delete it only when no job is running.

Network filesystems: `filelock.FileLock` uses `flock`. On Linux NFS clients `flock` is carried
out as a POSIX byte-range lock, which the server arbitrates across nodes (NFSv4, or NFSv3 with
lockd); mounts with `nolock` or `local_lock=all` make locks local to one node and then jobs on
different nodes are not excluded. Lustre needs the `flock` mount option. Where the filesystem
does not implement `flock` at all (ENOSYS), filelock >= 3.24 falls back to `SoftFileLock`
(atomic exclusive creation of the lock file, which NFSv3+ supports) with a warning. A soft lock
left by a killed job is not removed by the kernel: a writer then waits `LOCK_TIMEOUT_S` seconds
and fails with a message telling the user to delete the stale lock file. Holding the lock also
gives NFS close-to-open consistency: each writer reopens the log after acquiring the lock and
fsyncs before releasing it, so it always appends to the latest contents.

Cells: None is an empty cell, floats are written with `repr` (exact round trip), booleans as
True/False, everything else with `str`; quoting follows the csv module. An empty string and None
are therefore indistinguishable once written.
"""
from __future__ import annotations

import csv
import io
import numbers
import os
import shutil
import uuid
import warnings
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping, Optional, Sequence

import filelock

from inherent_limits.core.crash_points import crash_point
from inherent_limits.core.errors import UserError

if TYPE_CHECKING:
    import pandas

TRAIN_LOG, EVAL_LOG, BERTSCORE_LOG = "train_logs.csv", "eval_logs.csv", "bertscore_evals.csv"

TRAIN_COLUMNS: tuple[str, ...] = (
    "job_id", "seed", "run_name", "model_name", "dataset", "outer_template", "inner_template",
    "num_inner", "epochs", "num_train", "batch_size", "device",
)
EVAL_COLUMNS: tuple[str, ...] = (
    "job_id", "seed", "run_name", "test_task", "test_prompt_type", "model_type", "num_test",
    "eval_mode", "eval_name", "samplegen_model_name", "samplegen_file_name",
    "samplegen_sample_source", "ablation_setup", "num_samples_ablation",
)
BERTSCORE_COLUMNS: tuple[str, ...] = (
    "job_id", "input_file", "input_model", "seed", "test_task", "test_prompt_type", "model_type",
    "samplegen_sample_source", "num_test", "eval_mode", "bertscore_accuracy",
)

LOCK_TIMEOUT_S = 600.0
_ENCODING = "utf-8"
_NA_VALUES = ["", "nan", "NaN"]  # what read_log turns into NaN: empty cells and repr(float("nan"))


@contextmanager
def log_lock(path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the exclusive lock of log `path` (a `filelock.FileLock` on the sibling `<path>.lock`).

    Reentrant within a thread; a UserError after `timeout` seconds of waiting.
    """
    lock_path = Path(f"{Path(path).absolute()}.lock")
    lock = filelock.FileLock(lock_path, is_singleton=True)
    try:
        lock.acquire(timeout=timeout)
    except filelock.Timeout:
        raise UserError(f"timed out after {timeout:g} s waiting for the lock {lock_path}; if no job "
                        f"is writing to {path}, the lock is stale: delete {lock_path}") from None
    except OSError as err:
        raise UserError(f"cannot create the lock file {lock_path}: {err.strerror or err}") from None
    try:
        yield
    finally:
        lock.release()


def append_row(path, row: Mapping[str, object], leading: Sequence[str] = ()) -> None:
    """Append `row` to the CSV log `path`, widening the header if the row brings new columns.

    A new (missing or empty) file gets the header `leading` (all of it, even columns the row
    lacks) followed by the row's other keys. Parent folders are created.
    """
    names = [*leading, *row]
    if not all(isinstance(name, str) and name for name in names):
        raise ValueError(f"log column names must be non-empty strings, got {names!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with log_lock(path):
        header = _read_header(path)
        _remove_orphans(path)
        if header is None:
            header = list(dict.fromkeys(names))
            _replace_file(path, [header, _cells(header, row)])
            return
        _check_body(path, header)
        known = set(header)
        new = [name for name in row if name not in known]
        if new:
            _rewrite_with_columns(path, header, new, row)
        else:
            _append_line(path, _format_line(_cells(header, row)))


def append_row_once(path, row: Mapping[str, object], key: Sequence[str], leading: Sequence[str] = ()) -> bool:
    """Append `row` unless a row with the same cells under `key` is already logged; True if appended."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with log_lock(path):
        if find_rows(path, {name: row.get(name) for name in key}):
            return False
        append_row(path, row, leading)
        return True


def replace_rows(path, rows: Sequence[Mapping[str, object]], key: Sequence[str], leading: Sequence[str] = ()) -> None:
    """Put `rows` in the log `path` in place of the logged rows with the same cells under `key`.

    One rewrite (temporary file, rename) under the lock: a reader or a kill sees the old log or
    the new one. Of rows with equal keys among `rows`, the last one is kept.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    new = {tuple(_cell(row.get(name)) for name in key): row for row in rows}
    with log_lock(path):
        header = _read_header(path) or []
        _remove_orphans(path)
        kept = [record for _, record in _body(path, header)
                if tuple(dict(zip(header, record)).get(name, "") for name in key) not in new] if header else []
        union = list(dict.fromkeys([*(header or leading), *(name for row in new.values() for name in row)]))
        _replace_file(path, [union, *(record + [""] * (len(union) - len(record)) for record in kept),
                             *(_cells(union, row) for row in new.values())], crash="log_replace_rows")


def find_rows(path, cells: Mapping[str, object]) -> list[dict[str, str]]:
    """The rows of the log `path` (as {column: text}) whose cells equal `cells` as they are written."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    wanted = {name: _cell(value) for name, value in cells.items()}
    with log_lock(path):
        return [record for record in _records(path)
                if all(record.get(name) == cell for name, cell in wanted.items())]


def check_log(path) -> None:
    """A UserError naming the line if the log `path` is damaged; a missing log is fine."""
    path = Path(path)
    if not path.is_file():  # nothing to check, and no lock file left behind
        return
    with log_lock(path):
        header = _read_header(path)
        if header is not None:
            _check_body(path, header)


def read_log(path) -> pandas.DataFrame:
    """The log `path` as a pandas DataFrame, read under its lock.

    Types are inferred per column; empty cells (and "nan") are NaN, any other text is kept as
    is, floats round-trip exactly. A missing or empty file gives an empty DataFrame, a
    header-only file one with columns and no rows.
    """
    import pandas as pd

    path = Path(path)
    if not path.parent.is_dir():
        return pd.DataFrame()
    with log_lock(path):
        if _read_header(path) is None:
            return pd.DataFrame()
        # pandas < 3 parses floats exactly only when asked; pandas 3 does by default and deprecates the flag
        exact = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
        try:
            with warnings.catch_warnings():  # a row longer than the header: pandas warns and drops cells
                warnings.simplefilter("error", pd.errors.ParserWarning)
                return pd.read_csv(path, encoding=_ENCODING, keep_default_na=False, na_values=_NA_VALUES,
                                   index_col=False, **exact)
        except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError) as err:
            raise UserError(f"cannot parse the log {path}: {err}; fix or remove the broken lines") from None


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))  # numpy floats too: repr(np.float64) is not a number in numpy 2
    return str(value)


def _cells(header: Sequence[str], row: Mapping[str, object]) -> list[str]:
    return [_cell(row.get(name)) for name in header]


def _format_line(cells: Sequence[str]) -> str:
    # With "\n" line ends the csv module leaves a lone "\r" unquoted, which readers take for a
    # line break; quote every cell of such a row instead.
    quoting = csv.QUOTE_ALL if any("\r" in cell for cell in cells) else csv.QUOTE_MINIMAL
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n", quoting=quoting).writerow(cells)
    return buffer.getvalue()


def _read_header(path: Path) -> list[str] | None:
    """The header of `path`; None for a missing or empty file; UserError if it does not parse."""
    try:
        handle = open(path, newline="", encoding=_ENCODING)
    except FileNotFoundError:
        return None
    with handle:
        try:
            header = next(csv.reader(handle, strict=True), None)
        except (csv.Error, UnicodeDecodeError) as err:
            raise UserError(f"cannot parse the header of the log {path}: {err}; "
                            "fix it or move the file away") from None
    if header is None:
        return None
    if not header or not all(header):
        raise UserError(f"the log {path} has an empty column name in its first line; "
                        "fix its header or move the file away")
    if len(set(header)) != len(header):
        duplicates = sorted({name for name in header if header.count(name) > 1})
        raise UserError(f"the log {path} has duplicate columns {duplicates} in its header; "
                        "fix its header or move the file away")
    return header


def _body(path: Path, header: Sequence[str]) -> Iterator[tuple[int, list[str]]]:
    """(first line, cells) of each data record; a UserError naming the line of a damaged one."""
    with open(path, newline="", encoding=_ENCODING) as source:
        reader = csv.reader(source, strict=True)
        next(reader)
        while True:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as err:
                raise UserError(f"cannot parse line {start} of the log {path}: {err}; "
                                "fix or remove that line") from None
            except csv.Error as err:
                what = ("a quoted cell opened there is never closed (a line cut by a crashed writer "
                        "or a hand edit)") if "unexpected end of data" in str(err) else str(err)
                raise UserError(f"cannot parse line {start} of the log {path}: {what}; "
                                "fix or remove that line") from None
            if len(record) > len(header):
                raise UserError(f"line {start} of the log {path} has {len(record)} cells but the header "
                                f"has {len(header)}; fix or remove that line")
            if record:
                yield start, record


def _check_body(path: Path, header: Sequence[str]) -> None:
    for _ in _body(path, header):
        pass


def _records(path: Path) -> Iterator[dict[str, str]]:
    """The data records of `path` as {column: cell} (missing or empty file: none)."""
    header = _read_header(path)
    if header is None:
        return
    for _, record in _body(path, header):
        yield dict(zip(header, record))


def record_lines(path) -> list[int]:
    """The line on which each data record of the log `path` starts (read_log's rows, in order)."""
    path = Path(path)
    with log_lock(path):
        header = _read_header(path)
        return [] if header is None else [line for line, _ in _body(path, header)]


def _append_line(path: Path, line: str) -> None:
    with open(path, "a+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size:
            handle.seek(size - 1)
            if handle.read(1) != b"\n":  # a torn last line (a writer died mid-write): end it first
                line = "\n" + line
        handle.write(line.encode(_ENCODING))
        handle.flush()
        os.fsync(handle.fileno())


def _rewrite_with_columns(path: Path, header: list[str], new: list[str], row: Mapping[str, object]) -> None:
    union = header + new

    def records() -> Iterator[list[str]]:
        yield union
        for _, record in _body(path, header):
            yield record + [""] * (len(union) - len(record))
        yield _cells(union, row)

    _replace_file(path, records())


def _remove_orphans(path: Path) -> None:
    """Remove the rewrite temporaries of killed writers (only the lock holder writes one)."""
    for orphan in path.parent.glob(f".{path.name}.tmp-*"):
        orphan.unlink(missing_ok=True)


def _replace_file(path: Path, records: Iterable[Sequence[str]], crash: Optional[str] = None) -> None:
    """Write `records` to a temporary sibling of `path`, fsync it, then rename it over `path`
    (`crash`: the crash point between the two)."""
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies, as for open()
    try:
        with open(fd, "w", newline="", encoding=_ENCODING) as handle:
            handle.writelines(_format_line(record) for record in records)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            shutil.copymode(path, tmp)
        if crash:
            crash_point(crash)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    with suppress(OSError):  # make the rename durable; some filesystems cannot fsync a folder
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

