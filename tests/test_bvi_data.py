"""Base-vs-instruct benchmarks: every bundled dataset loads in its hub schema; bad files are refused."""
import json
import re
import shutil

import pytest

from inherent_limits.base_vs_instruct.benchmarks import BENCHMARKS, get_bench
from inherent_limits.base_vs_instruct.extraction import last_boxed
from inherent_limits.base_vs_instruct.graders import grade
from inherent_limits.base_vs_instruct.hendrycks import is_equiv
from inherent_limits.base_vs_instruct.items import fewshot_exemplars, load_items
from inherent_limits.base_vs_instruct.medcalc_rules import output_kind
from inherent_limits.core.errors import UserError
from inherent_limits.data.loading import BUNDLED_RAW, read_jsonl


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_bundled_benchmark_loads_in_exact_hub_schema(name):
    bench = BENCHMARKS[name]
    items = load_items(name, data_dir="bundled")
    assert len(items) >= 20
    assert len({i.item_id for i in items}) == len(items)
    assert all(i.question.strip() and i.gold.strip() for i in items)
    for split in {bench.test_split, bench.fewshot_split} - {None}:
        path = BUNDLED_RAW / bench.exemplar_bench / f"{split}.jsonl" if split != bench.test_split \
            else BUNDLED_RAW / name / f"{split}.jsonl"
        expected = set(get_bench(path.parent.name).columns)
        for _, row in read_jsonl(path):
            assert set(row) == expected, (path, set(row) ^ expected)


def test_every_bundled_gold_answer_grades_correct_under_both_graders():
    for name, bench in BENCHMARKS.items():
        for item in load_items(name, data_dir="bundled"):
            for grader in ("standard", "math_verify"):
                result = grade(grader, bench, item, item.gold, item.gold)
                assert result.correct, (name, item.item_id, grader, item.gold, result)


def test_gsm8k_rows_are_arithmetically_right():
    for split in ("test", "train"):
        for _, row in read_jsonl(BUNDLED_RAW / "gsm8k" / f"{split}.jsonl"):
            for expr, value in re.findall(r"<<([0-9+\-*/(). ]+)=([0-9.]+)>>", row["answer"]):
                assert eval(expr) == pytest.approx(float(value)), (expr, value)  # digits and operators only
            assert row["answer"].splitlines()[-1].startswith("#### ")


def test_gsm8k_item_fields():
    item = load_items("gsm8k", data_dir="bundled")[0]
    assert item.item_id == "test-0" and item.gold == "166"
    assert "<<" not in item.solution and "####" not in item.solution and "166" in item.solution


def test_math500_answer_is_the_last_box_of_its_solution():
    for split in ("test", "train"):
        for item in load_items("math500", split, data_dir="bundled"):
            assert is_equiv(last_boxed(item.solution).answer, item.gold), item.item_id
            assert re.fullmatch(rf"{split}/[a-z_]+/\d+\.json", item.item_id)
            assert isinstance(item.meta["level"], int) and 1 <= item.meta["level"] <= 5


def test_math_perturb_answers_are_mixed_types_cast_to_str():
    raw = [row["answer"] for _, row in read_jsonl(BUNDLED_RAW / "math_perturb_hard" / "test.jsonl")]
    assert {type(a) for a in raw} == {int, float, str}
    items = load_items("math_perturb_hard", data_dir="bundled")
    assert [i.gold for i in items] == [str(a) for a in raw]
    assert all(i.meta["level"] == "Level 5" for i in items)


def test_math_perturb_reads_the_published_file_name(tmp_path):
    shutil.copy(BUNDLED_RAW / "math_perturb_hard" / "test.jsonl", tmp_path / "math_perturb_hard.jsonl")
    assert len(load_items("math_perturb_hard", data_dir=str(tmp_path))) == 22


def test_math_perturb_without_data_dir_says_where_to_get_it():
    with pytest.raises(UserError, match=r"no hub copy.*MATH-Perturb.*--data_dir"):
        load_items("math_perturb_hard")


def test_medcalc_limits_follow_the_official_rule():
    for split in ("test", "train"):
        items = load_items("medcalc", split, data_dir="bundled")
        kinds = {output_kind(i.meta["calculator_id"]) for i in items}
        assert kinds == {"date", "weeks_days", "integer", "decimal"}
        for item in items:
            lower, upper = item.meta["lower_limit"], item.meta["upper_limit"]
            if output_kind(item.meta["calculator_id"]) == "decimal":
                assert float(lower) == pytest.approx(0.95 * float(item.gold), abs=1e-5)
                assert float(upper) == pytest.approx(1.05 * float(item.gold), abs=1e-5)
            else:
                assert lower == upper == item.gold
            assert item.meta["note"] in item.question and item.meta["task"] in item.question
            assert item.gold.strip("()'").split("'")[0] in item.solution


def test_hub_offline_fails_fast_naming_data_dir():
    with pytest.raises(UserError, match=r"openai/gsm8k.*--data_dir"):
        load_items("gsm8k")


def test_wrong_schema_names_file_columns_and_schema(tmp_path):
    (tmp_path / "gsm8k").mkdir()
    path = tmp_path / "gsm8k" / "test.jsonl"
    path.write_text(json.dumps({"question": "q", "solution": "s"}) + "\n")
    with pytest.raises(UserError) as err:
        load_items("gsm8k", data_dir=str(tmp_path))
    assert str(path) in str(err.value) and "'answer'" in str(err.value) and "question, answer" in str(err.value)

    (tmp_path / "medcalc").mkdir()
    row = json.loads((BUNDLED_RAW / "medcalc" / "test.jsonl").read_text().splitlines()[0])
    del row["Lower Limit"], row["Upper Limit"]
    (tmp_path / "medcalc" / "test.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(UserError, match=r"lacks column\(s\) 'Lower Limit', 'Upper Limit'.*ncbi/MedCalc-Bench-v1.0"):
        load_items("medcalc", data_dir=str(tmp_path))


def test_missing_local_file_and_unknown_benchmark(tmp_path):
    with pytest.raises(UserError, match=r"math500.test\.jsonl not found"):
        load_items("math500", data_dir=str(tmp_path))
    with pytest.raises(UserError, match="Did you mean: gsm8k"):
        get_bench("gsm8")


def test_fewshot_exemplars_are_seeded_and_exclude_the_item():
    first = [e.item_id for e in fewshot_exemplars("gsm8k", 8, seed=3, data_dir="bundled")]
    assert first == [e.item_id for e in fewshot_exemplars("gsm8k", 8, seed=3, data_dir="bundled")]
    assert len(set(first)) == 8 and all(i.startswith("train-") for i in first)
    others = {tuple(e.item_id for e in fewshot_exemplars("gsm8k", 8, seed=s, data_dir="bundled")) for s in range(5)}
    assert len(others) > 1
    without = [e.item_id for e in fewshot_exemplars("gsm8k", 8, seed=3, exclude_id=first[0], data_dir="bundled")]
    assert first[0] not in without and without[:7] == first[1:]
    assert fewshot_exemplars("gsm8k", 0, seed=3, data_dir="bundled") == []
    with pytest.raises(UserError, match="only 20"):
        fewshot_exemplars("gsm8k", 21, seed=3, data_dir="bundled")


def test_math_exemplars_come_from_the_shipped_exemplar_file():
    for name in ("math500", "math_perturb_hard"):
        exemplars = fewshot_exemplars(name, 4, seed=0, data_dir="bundled")
        assert len(exemplars) == 4 and all(e.item_id.startswith("train/") and "\\boxed" in e.solution
                                           for e in exemplars)
    # the hub MATH-500 has no train split: exemplars still come from the shipped file
    assert fewshot_exemplars("math500", 4, seed=0) == fewshot_exemplars("math500", 4, seed=0, data_dir="bundled")


def test_medcalc_one_shot_exemplar_uses_the_same_calculator():
    for calculator in (69, 13, 6):
        (exemplar,) = fewshot_exemplars("medcalc", 1, seed=0, data_dir="bundled", calculator_id=calculator)
        assert exemplar.meta["calculator_id"] == calculator and exemplar.solution
