"""Per-sample response files (the reference's TSV, extension .csv) and resumable progress.

Columns: test_example, response, target, proc_model_response, gold_options ("###"-joined),
as the reference; added: parsed (False: no answer could be read), references (JSON list of
accepted answers), group_id and stopped (True: generation ended on an end-of-sequence token,
False: it ran to the new-token limit; empty where unknown). While an evaluation runs, each finished batch is appended
to a hidden `.partial-<key>.jsonl` beside the final file, so a rerun with the same settings
continues where it stopped; the TSV is written atomically at the end.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Optional, Sequence

from inherent_limits.core.errors import UserError

OPTION_SEP = "###"


def write_responses(path: Path, rows: Sequence[dict]) -> None:
    """Write the response TSV atomically; rows hold COLUMNS' values plus extras."""
    import pandas as pd
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(list(rows))
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    frame.to_csv(tmp, sep="\t", index=False)
    os.replace(tmp, path)


def response_row(text: str, response: str, target: str, answer: str, parsed: bool, options: Sequence[str],
                 references: Sequence[str], group_id: str = "", stopped: Optional[bool] = None, **extra) -> dict:
    return {"test_example": text, "response": response, "target": target, "proc_model_response": answer,
            "gold_options": OPTION_SEP.join(options), "parsed": parsed,
            "references": json.dumps(list(references), ensure_ascii=False), "group_id": group_id,
            "stopped": "" if stopped is None else stopped, **extra}


def read_frame(path, required: Sequence[str]):
    """A response file as strings ('None'/'NA' stay strings, empty cells are ''), with `required` columns."""
    import pandas as pd
    path = Path(path)
    if not path.is_file():
        raise UserError(f"response file {path} does not exist (run test.py first, or check "
                        "--input_for_bertscore / --input_model / --response_file)")
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as err:
        raise UserError(f"{path}: not a readable tab-separated response file ({err})") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)} (a response file needs "
                        f"{', '.join(required)})")
    return frame


def read_responses(path: Path) -> list[dict]:
    """Rows of a response file (ours or the reference's): response, target, options, references..."""
    frame = read_frame(path, ("response", "target"))
    rows = []
    for rec in frame.to_dict("records"):
        options = [o for o in rec.get("gold_options", "").split(OPTION_SEP) if o != ""]
        refs = json.loads(rec["references"]) if rec.get("references") else [rec["target"]]
        rows.append({"text": rec.get("test_example", ""), "response": rec["response"], "target": rec["target"],
                     "answer": rec.get("proc_model_response", ""), "parsed": rec.get("parsed", "True") != "False",
                     "options": options, "references": refs, "group_id": rec.get("group_id", ""),
                     "stopped": {"True": True, "False": False}.get(rec.get("stopped", ""))})
    return rows


class Progress:
    """Responses finished so far, keyed by item index, in an append-only JSONL file; `stopped`
    says per item whether generation ended on an end-of-sequence token (None: not recorded)."""

    def __init__(self, path: Path):
        self.path = path
        self.done: dict[int, str] = {}
        self.stopped: dict[int, Optional[bool]] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by an interruption: regenerate that item
                self.done[int(record["i"])] = record["response"]
                self.stopped[int(record["i"])] = record.get("stopped")

    def add(self, batch: Iterable[tuple[int, str, Optional[bool]]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as out:
            for index, response, stopped in batch:
                self.done[index], self.stopped[index] = response, stopped
                out.write(json.dumps({"i": index, "response": response, "stopped": stopped},
                                     ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
