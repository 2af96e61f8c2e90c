"""The per-sample log, base_vs_instruct/<pair>/samples.csv: its columns, key, reading and rewriting."""
from __future__ import annotations

import csv
import os
import uuid
from pathlib import Path

from inherent_limits.core import csv_logs
from inherent_limits.core.errors import UserError

SAMPLES = "samples.csv"
SAMPLE_KEY = ("dataset", "item_id", "model", "model_kind", "decoding", "decoding_settings", "prompting",
              "n_shots", "seed", "sample_index")
SAMPLE_COLUMNS = ("job_id", "pair", *SAMPLE_KEY, "backend", "gold", "prompt_sha256", "first_token",
                  "first_token_text", "response", "extracted", "confidence")
PROMPTS = "prompts.csv"     # beside samples.csv: each prompt once, by prompt_sha256
PROMPT_COLUMNS = ("prompt_sha256", "dataset", "item_id", "prompting", "n_shots", "prompt")


def read_samples(path: Path) -> list[dict]:
    """The rows of a per-sample log as strings (no type guessing: answers stay as written)."""
    if not path.is_file():
        return []
    with csv_logs.log_lock(path):
        with open(path, newline="", encoding="utf-8") as handle:
            try:
                return [row for row in csv.DictReader(handle, strict=True)]
            except csv.Error as err:
                raise UserError(f"cannot parse the per-sample log {path}: {err}") from None


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
    return tuple(str(row[name]) for name in SAMPLE_KEY)
