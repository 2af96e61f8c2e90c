"""The benchmark registry of the base-vs-instruct study: one entry per dataset, one source of truth."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from inherent_limits.core.errors import UserError, close_names

ANSWER_KINDS = ("gsm8k", "math", "medcalc")


@dataclass(frozen=True)
class MathBench:
    """Where a benchmark lives, its exact hub columns, and how its answers are graded."""
    name: str
    hub_path: Optional[str]          # None: no hub copy, a local file only
    hub_config: Optional[str]
    test_split: str
    fewshot_split: Optional[str]     # split the few-shot exemplars come from
    columns: tuple[str, ...]         # exact hub column names (every row must have them)
    answer_kind: str                 # one of ANSWER_KINDS
    default_shots: int
    version: str                     # which release is used, and where it comes from
    fewshot_from: Optional[str] = None   # another benchmark whose exemplar split is used
    fewshot_bundled: bool = False    # exemplars come from the shipped file unless --data_dir has one
    local_files: tuple[str, ...] = ()    # extra names accepted under --data_dir (published file names)
    how_to_get: str = ""

    @property
    def exemplar_bench(self) -> str:
        return self.fewshot_from or self.name


GSM8K_COLUMNS = ("question", "answer")
MATH500_COLUMNS = ("problem", "solution", "answer", "subject", "level", "unique_id")
PERTURB_COLUMNS = ("problem_id", "problem", "answer", "level", "type", "original_split")
MEDCALC_COLUMNS = ("Row Number", "Calculator ID", "Calculator Name", "Category", "Output Type", "Note ID",
                   "Note Type", "Patient Note", "Question", "Relevant Entities", "Ground Truth Answer",
                   "Lower Limit", "Upper Limit", "Ground Truth Explanation")

BENCHMARKS: dict[str, MathBench] = {b.name: b for b in (
    MathBench(name="gsm8k", hub_path="openai/gsm8k", hub_config="main", test_split="test",
              fewshot_split="train", columns=GSM8K_COLUMNS, answer_kind="gsm8k", default_shots=8,
              version="openai/gsm8k config main (train 7,473 / test 1,319 rows)"),
    MathBench(name="math500", hub_path="HuggingFaceH4/MATH-500", hub_config=None, test_split="test",
              fewshot_split="train", columns=MATH500_COLUMNS, answer_kind="math", default_shots=4,
              version="HuggingFaceH4/MATH-500 (test only, 500 rows); few-shot exemplars are the project's "
                      "own MATH-style problems shipped as math500/train.jsonl in the same schema",
              fewshot_bundled=True),
    MathBench(name="math_perturb_hard", hub_path=None, hub_config=None, test_split="test",
              fewshot_split="train", columns=PERTURB_COLUMNS, answer_kind="math", default_shots=4,
              version="MATH-Perturb hard (Kaffaljidhmah2/MATH-Perturb math_perturb/math_perturb_hard.jsonl, "
                      "279 rows; no hub copy); exemplars from math500's exemplar file",
              fewshot_from="math500", local_files=("math_perturb_hard.jsonl",),
              how_to_get="download math_perturb/math_perturb_hard.jsonl from "
                         "https://github.com/Kaffaljidhmah2/MATH-Perturb and pass --data_dir DIR holding "
                         "math_perturb_hard.jsonl (or math_perturb_hard/test.jsonl)"),
    MathBench(name="medcalc", hub_path="ncbi/MedCalc-Bench-v1.0", hub_config=None, test_split="test",
              fewshot_split="train", columns=MEDCALC_COLUMNS, answer_kind="medcalc", default_shots=1,
              version="ncbi/MedCalc-Bench-v1.0 (train 10,053 / test 1,047 rows; not v1.2 or Verified)"),
)}


def get_bench(name: str) -> MathBench:
    """The registry entry for `name`, or a UserError suggesting close names."""
    if name in BENCHMARKS:
        return BENCHMARKS[name]
    close = close_names(name, BENCHMARKS, cutoff=0.4)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UserError(f"unknown benchmark {name!r} (known: {', '.join(BENCHMARKS)}).{hint}")
