"""The per-sample log, base_vs_instruct/<pair>/samples.csv: its columns, key, reading and rewriting.

`input_sha` fingerprints what a sample was generated from (the prompt's token ids and the gold
answer), so a rerun on other data, exemplars or a changed template never reuses old samples.
A row cut short by a killed writer (fewer cells than the header, or a quote left open at the end
of the file) is dropped with a note naming its line; the run generates that sample again.
"""
from __future__ import annotations

import csv
import io
import os
import uuid
from pathlib import Path

from inherent_limits.core import csv_logs
from inherent_limits.core.checks import read_utf8
from inherent_limits.core.errors import UserError

SAMPLES = "samples.csv"
SAMPLE_KEY = ("dataset", "item_id", "model", "model_kind", "decoding", "decoding_settings", "prompting",
              "n_shots", "seed", "input_sha", "sample_index")
SAMPLE_COLUMNS = ("job_id", "pair", *SAMPLE_KEY, "backend", "gold", "prompt_sha256", "first_token",
                  "first_token_text", "response", "extracted", "confidence")
PROMPTS = "prompts.csv"     # beside samples.csv: each prompt once, by prompt_sha256
PROMPT_COLUMNS = ("prompt_sha256", "dataset", "item_id", "prompting", "n_shots", "prompt")


def read_samples(path: Path, repair: bool = False) -> list[dict]:
    """The rows of a per-sample log as strings (no type guessing: answers stay as written).

    Torn rows are dropped with a note; with `repair` they are removed from the file too.
    Anything else that does not parse is a UserError naming the line.
    """
    path = Path(path)
    if not path.is_file():
        return []
    with csv_logs.log_lock(path):
        rows, torn = _parse(path, read_utf8(path))
        for line in torn:
            print(f"note: {path} line {line}: a row cut short by a killed run, dropped"
                  + (" (its sample is generated again)" if repair else ""))
        if torn and repair:
            write_samples(path, rows)
    return rows


def _parse(path: Path, text: str) -> tuple[list[dict], list[int]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as err:
        raise UserError(f"cannot parse the header of the per-sample log {path}: {err}") from None
    if not header:
        return [], []
    if "sample_index" not in header:
        raise UserError(f"{path} is not a per-sample log of the base-vs-instruct study (no sample_index column)")
    records, torn = [], []
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            if "unexpected end of data" not in str(err):
                raise UserError(f"cannot parse line {start} of the per-sample log {path}: {err}; "
                                "fix or remove that line") from None
            torn.append(start)  # a quote opened by a cut row, never closed
            break
        if record:
            records.append((start, record))
    if records and not torn and not text.endswith("\n"):  # the last row lost its end
        torn.append(records.pop()[0])
    rows = []
    for start, record in records:
        if len(record) > len(header):
            raise UserError(f"line {start} of the per-sample log {path} has {len(record)} cells but the header "
                            f"has {len(header)}; fix or remove that line")
        if len(record) < len(header):
            torn.append(start)
            continue
        row = dict(zip(header, record))
        if not row["sample_index"].isdigit():
            raise UserError(f"line {start} of the per-sample log {path}: sample_index {row['sample_index']!r} "
                            "is not a whole number; fix or remove that line")
        rows.append(row)
    return rows, sorted(torn)


def logged_prompts(path: Path) -> set[str]:
    """The prompt_sha256 values prompts.csv already holds (a row torn by a kill counts as missing)."""
    path = Path(path)
    if not path.is_file():
        return set()
    with csv_logs.log_lock(path):
        reader = csv.reader(io.StringIO(read_utf8(path), newline=""))
        header = next(reader, [])
        if "prompt_sha256" not in header:
            raise UserError(f"{path} is not the prompt file of the base-vs-instruct study (no prompt_sha256 "
                            "column); move it away")
        shas = set()
        try:
            for record in reader:
                if len(record) == len(header):
                    shas.add(record[header.index("prompt_sha256")])
        except csv.Error:
            pass  # a quote opened by a torn last row: its prompt is written again
    return shas


def write_samples(path: Path, rows: list[dict]) -> None:
    """Replace a per-sample log with `rows` (temporary file, then rename; under its lock)."""
    header = list(dict.fromkeys(name for row in rows for name in row))
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    with csv_logs.log_lock(path):
        try:
            with open(tmp, "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, header, lineterminator="\n", quoting=csv.QUOTE_ALL)
                writer.writeheader()
                writer.writerows(rows)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def sample_key(row: dict) -> tuple:
    return tuple(str(row.get(name, "")) for name in SAMPLE_KEY)
