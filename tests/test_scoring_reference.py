"""Default (`reference`) answer matching and metrics equal the reference's eval() on our own cases.

tests/fixtures/scoring_reference.json holds model responses built from templates per task
family and model type, with the outputs of the reference's answer processing and T5 metrics
run on them. Where the reference is buggy (a listed difference: `fix` names it) the expected
value is the reference with that bug fixed, and the reference's own output is kept beside it.
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from inherent_limits.core import csv_logs
from inherent_limits.data.registry import get_task
from inherent_limits.evaluation.answers import extract_answer
from inherent_limits.evaluation.response_files import response_row, write_responses
from inherent_limits.evaluation.runner import EvalRequest, answer_settings, score

DATA = json.loads((Path(__file__).parent / "fixtures" / "scoring_reference.json").read_text(encoding="utf-8"))
YES_NO = ["yes", "no"]
CONDITIONS = {"base": "base_zero_shot", "samplegen": "samplegen_direct", "regular": "flan_direct"}


def project_answer(case: dict, matching: str = "reference"):
    item = DATA["items"][case["item"]]
    req = EvalRequest(root=Path("."), task=case["task"], condition=CONDITIONS[case["model"]], job="t",
                      bb_format=case["bb_format"] or "closed", answer_matching=matching)
    settings = answer_settings(req, get_task(case["task"]))
    return extract_answer(case["response"], options=item["options"], **settings)


def agrees(case: dict, answer) -> bool:
    expected = case["expected_answer"]
    if case["task"] == "stsb":   # the reference's answers are floats; -1.0 stands for unparsable
        return (not answer.parsed) if expected == -1.0 else answer.parsed and float(answer.text) == expected
    return answer.text == expected


def _case_id(case: dict) -> str:
    return f"{case['task']}|{case['bb_format'] or 'flan'}|{case['model']}|{case['response'][:30]!r}"


@pytest.mark.parametrize("case", DATA["cases"], ids=_case_id)
def test_answer_equals_reference(case):
    answer = project_answer(case)
    assert agrees(case, answer), (answer, case.get("fix"), case.get("reference_answer"))


def _set_id(s: dict) -> str:
    return f"{s['task']}|{s['bb_format'] or 'flan'}|{s['model']}|{s['subset']}"


@pytest.mark.parametrize("metric_set", DATA["metric_sets"], ids=_set_id)
def test_metrics_equal_reference(metric_set):
    rows = []
    for index in metric_set["cases"]:
        case = DATA["cases"][index]
        item = DATA["items"][case["item"]]
        answer = project_answer(case)
        rows.append({"proc_model_response": answer.text, "parsed": answer.parsed, "target": item["target"],
                     "options": item["options"], "references": item["references"], "group_id": item["group_id"]})
    got = score(get_task(metric_set["task"]), rows, "reference")
    for column, expected in metric_set["expected"].items():
        if expected == "nan":
            assert math.isnan(got[column]), column
        else:
            assert got[column] == pytest.approx(expected, abs=1e-9), (column, metric_set.get("fix"))


def test_cases_cover_every_family_and_model_type():
    kinds = {(c["task"], c["model"]) for c in DATA["cases"]}
    assert {m for _, m in kinds} == set(CONDITIONS)
    assert {"rte", "stsb", "multirc", "cb", "squad", "record", "xsum", "fix_punct", "wmt16/de-en", "gsm8k",
            "logical_deduction", "tracking_shuffled_objects/three"} <= {t for t, _ in kinds}
    assert sum("reference_answer" not in c for c in DATA["cases"]) > 1000   # sound cases, compared as is


@pytest.mark.parametrize("response, model, reference, normalised", [
    ("Yes.", "base", "yes", "yes"),                                  # the fixed option regex
    ("Answer Solution: Yes", "samplegen", "Yes", "yes"),             # exact, as the reference
    ("Answer Solution: yes</s>", "regular", "yes", "yes</s>"),       # the reference's </s> rule
    ("no</s>", "regular", "no", ""),
])
def test_normalised_mode_differs_where_documented(response, model, reference, normalised):
    case = {"task": "rte", "model": model, "bb_format": None, "response": response, "item": 0}
    assert project_answer(case, "reference").text == reference
    assert project_answer(case, "normalised").text == normalised


def test_rescore_switches_answer_matching_and_logs_it(tmp_path):
    responses = [("Yes</s>", "yes"), ("no</s>", "no"), ("Answer Solution: yes", "yes")]
    path = tmp_path / "saved_models" / "run" / "evals" / "e1.csv"
    write_responses(path, [response_row("q", r, t, "", False, YES_NO, [t]) for r, t in responses])
    csv_logs.append_row(tmp_path / csv_logs.EVAL_LOG, {"job_id": "job-1", "test_task": "rte", "eval_name": "e1",
                                                      "condition": "flan_direct", "answer_matching": "reference"},
                        leading=csv_logs.EVAL_COLUMNS)
    root = Path(__file__).resolve().parents[1]
    for flag, accuracy in ((["--answer_matching", "normalised"], 100 / 3), ([], 100 / 3),
                           (["--answer_matching", "reference"], 200 / 3)):
        subprocess.run([sys.executable, str(root / "test.py"), "--rescore", str(path), "--root", str(tmp_path),
                        "--slurm_job_id", "2", *flag], check=True, capture_output=True)
        logged = csv_logs.read_log(tmp_path / csv_logs.EVAL_LOG).iloc[-1]
        expected = flag[1] if flag else "normalised"      # no flag: the mode of the last row of this eval
        assert logged["answer_matching"] == expected and logged["accuracy"] == pytest.approx(accuracy)
