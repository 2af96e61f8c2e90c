"""The base-vs-instruct runner end to end on the tiny model and a LoRA run of it: log, resume, rescore, report."""
import csv
import json
import shutil
from pathlib import Path

import pytest

from inherent_limits.base_vs_instruct.benchmarks import BENCHMARKS
from inherent_limits.base_vs_instruct.report import group_metrics, write_report
from inherent_limits.base_vs_instruct.runner import SUMMARY_LOG, StudyRequest, rescore, resolve_sides, run_study
from inherent_limits.base_vs_instruct.samples import SAMPLE_KEY, read_samples, sample_key, write_samples
from inherent_limits.core.errors import UserError

SETTINGS = dict(base="tiny", instruct="tiny_lora", no_chat_template=True, datasets=tuple(BENCHMARKS),
                data_dir="bundled", num_items=2, n_shots=1, cot_k=3, num_samples=3, max_new_tokens=10,
                progress=False, job="test")


def make_lora_run(root: Path, tiny_model: Path, name: str = "tiny_lora") -> Path:
    """A saved run as train.py leaves it: adapter (non-zero, seeded), tokenizer, run_info.json."""
    import torch
    from peft import LoraConfig, get_peft_model

    from inherent_limits.models.loading import load_model, load_tokenizer

    out = root / "saved_models" / name
    torch.manual_seed(0)
    model = get_peft_model(load_model(tiny_model), LoraConfig(r=4, lora_alpha=8, task_type="CAUSAL_LM"))
    with torch.no_grad():
        for param_name, param in model.named_parameters():
            if "lora_B" in param_name:
                param.normal_(0, 0.5)
    model.save_pretrained(out)
    load_tokenizer(tiny_model).save_pretrained(out)
    (out / "run_info.json").write_text(json.dumps({"base_model": "tiny"}), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def study(tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("bvi")
    make_lora_run(root, tiny_model)
    result = run_study(StudyRequest(root=root, **SETTINGS))
    return root, result, read_samples(result["samples"])


def _by_key(rows):
    return {sample_key(row): row for row in rows}


def test_every_item_and_sample_is_logged_with_both_graders(study):
    root, result, rows = study
    per_side = {"base": 3, "instruct": 3}
    assert len(rows) == len(BENCHMARKS) * 2 * 2 * sum(per_side.values()) == result["written"]
    assert len(_by_key(rows)) == len(rows)
    for row in rows:
        assert row["correct_standard"] in ("True", "False") and row["correct_math_verify"] in ("True", "False")
        assert row["timeout_math_verify"] in ("True", "False")
        assert row["n_shots"] == ("1" if row["prompting"] == "few_shot" else "0")
        if row["model_kind"] == "base":
            assert (row["model"], row["decoding"], row["decoding_settings"]) == ("tiny", "cot", "k=3,max=10")
            assert row["first_token"] != ""
            assert (row["confidence"] != "") == (row["extracted"] != "")
        else:
            assert (row["model"], row["decoding"], row["confidence"]) == ("tiny_lora", "sample", "")
    # the adapter changes the outputs: the instruct side is not the base model again
    base = {(r["dataset"], r["item_id"], r["prompting"]): r["response"] for r in rows
            if r["model_kind"] == "base" and r["sample_index"] == "0"}
    tuned = {(r["dataset"], r["item_id"], r["prompting"]): r["response"] for r in rows
             if r["model_kind"] == "instruct" and r["sample_index"] == "0"}
    assert base.keys() == tuned.keys() and base != tuned


def test_summary_log_has_a_row_per_model_dataset_prompting_decoding_grader(study):
    root, result, _ = study
    with open(root / SUMMARY_LOG, newline="", encoding="utf-8") as handle:
        summary = list(csv.DictReader(handle))
    assert len(summary) == result["summary_rows"] == 2 * len(BENCHMARKS) * 2 * 2
    keys = {(r["model_kind"], r["dataset"], r["prompting"], r["decoding"], r["grader"]) for r in summary}
    assert len(keys) == len(summary)
    row = summary[0]
    assert row["n"] == "3" and row["n_items"] == "2" and "pass@1" in row and "pass@5" not in row
    assert row["git_hash"] and row["transformers_version"] and row["job_id"] == "job-test"
    assert {(r["data_source"], r["n_items"]) for r in summary} == {("bundled", "2")}
    assert all(r["dataset_version"].startswith("bundled (not the release: ") for r in summary)
    assert all(int(r["items_available"]) >= 2 for r in summary)


def test_report_is_rebuilt_from_the_per_sample_log_alone(study, tmp_path):
    root, result, rows = study
    original = Path(result["report"]).read_text(encoding="utf-8")
    assert "## Instruct vs base, pass@k" in original and "## Grader dependence" in original
    assert "MATH-500" in original and "| tiny_lora | instruct | math_perturb_hard" in original
    log = tmp_path / "samples.csv"
    shutil.copy(result["samples"], log)
    written = write_report(log, tmp_path / "report")
    assert written["report"].read_text(encoding="utf-8") == original.replace(str(result["samples"]), str(log))
    assert sorted(p.name for p in written["figures"]) == sorted(f"passk_{d}.png" for d in BENCHMARKS)
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in written["figures"])


def test_resume_generates_only_what_is_missing(study, tmp_path):
    root, result, rows = study
    copy = tmp_path / "root"
    shutil.copytree(root, copy)
    log = Path(str(result["samples"]).replace(str(root), str(copy)))
    target = next(r["item_id"] for r in rows if r["dataset"] == "gsm8k")
    kept = [r for r in rows if not (r["dataset"] == "gsm8k" and r["item_id"] == target
                                    and r["model_kind"] == "base")][:-2]  # one whole item gone, one partial
    write_samples(log, kept)
    again = run_study(StudyRequest(root=copy, **SETTINGS))
    assert again["written"] == len(rows) - len(kept)
    resumed = _by_key(read_samples(log))
    assert resumed.keys() == _by_key(rows).keys()
    assert all(resumed[key]["response"] == row["response"] for key, row in _by_key(rows).items())
    assert run_study(StudyRequest(root=copy, **SETTINGS))["written"] == 0


def test_rescore_regrades_the_log_without_generating(study, tmp_path):
    root, result, rows = study
    copy = tmp_path / "root"
    shutil.copytree(root, copy)
    log = Path(str(result["samples"]).replace(str(root), str(copy)))
    spoiled = [{**r, "correct_standard": str(r["correct_standard"] != "True"), "extracted": "spoiled"} for r in rows]
    write_samples(log, spoiled)
    done = rescore(StudyRequest(root=copy, **{**SETTINGS, "base": None}))
    assert done["rescored"] == len(rows)
    fixed = _by_key(read_samples(log))
    for key, row in _by_key(rows).items():
        assert {k: fixed[key][k] for k in row} == row
    with open(copy / SUMMARY_LOG, newline="", encoding="utf-8") as handle:
        summary = list(csv.DictReader(handle))
    assert sum(r["rescored"] == "True" for r in summary) == result["summary_rows"]


def test_rescore_with_math_verify_on_the_whole_response_logs_and_reports_both(study, tmp_path):
    root, result, rows = study
    copy = tmp_path / "root"
    shutil.copytree(root, copy)
    graders = ("standard", "math_verify", "math_verify_response")
    done = rescore(StudyRequest(root=copy, **{**SETTINGS, "graders": graders}))
    regraded = read_samples(done["samples"])
    assert all(f"correct_{g}" in row for row in regraded for g in graders)
    with open(copy / SUMMARY_LOG, newline="", encoding="utf-8") as handle:
        rescored = [r for r in csv.DictReader(handle) if r["rescored"] == "True"]
    assert {r["grader"] for r in rescored} == set(graders)
    report = Path(done["report"]).read_text(encoding="utf-8")
    assert "gap (math_verify)" in report and "gap (math_verify_response)" in report


def _row(item, index, correct, conf="", extracted="", kind="base", decoding="cot", timeout=False):
    return {"pair": "b vs i", "model": kind, "model_kind": kind, "dataset": "gsm8k", "prompting": "zero_shot",
            "n_shots": "0", "seed": "42", "decoding": decoding, "decoding_settings": "x", "item_id": item, "sample_index": str(index),
            "correct_standard": str(correct), "timeout_standard": str(timeout), "confidence": conf,
            "extracted": extracted}


def test_group_metrics_ranked_branches_confidence_and_vote():
    rows = [  # item a: branch 0 wrong; the confident branch 2 right; the vote picks "5" (0.3 + 0.3 > 0.5)
        _row("a", 0, False, "0.3", "5"), _row("a", 1, False, "0.3", "5"), _row("a", 2, True, "0.5", "6"),
        # item b: no answer anywhere
        _row("b", 0, False), _row("b", 1, False), _row("b", 2, False, timeout=True),
        # item c is incomplete (2 of 3 branches): left out
        _row("c", 0, True, "0.9", "1"), _row("c", 1, True, "0.9", "1"),
    ]
    (m,) = group_metrics(rows, ("standard",), curves=True)
    assert (m["n_items"], m["n"]) == (2, 3)
    assert m["curve"] == [0.0, 0.0, 0.5]            # ranked: any correct among the first k branches
    assert m["mean_correct"] == pytest.approx(1 / 6)
    assert (m["cot_at_1"], m["cot_vote"], m["timeouts"]) == (0.5, 0.0, 1)
    assert m["no_answer"] == 3                      # item b's three branches; incomplete item c not counted
    sampled = [{**r, "decoding": "sample"} for r in rows]
    (s,) = group_metrics(sampled, ("standard",), curves=True)
    assert s["curve"] == pytest.approx([1 / 6, 1 / 3, 0.5])  # the unbiased estimator
    assert "cot_at_1" not in s


def test_sample_key_names_the_resume_fields():
    assert SAMPLE_KEY[:2] == ("dataset", "item_id") and "sample_index" in SAMPLE_KEY and "seed" in SAMPLE_KEY


@pytest.mark.parametrize("extra, message", [
    (["--instruct", "tiny"], "no chat template"),
    (["--instruct", "tiny", "--no_chat_template", "--pass_k", "1", "5", "--cot_k", "3", "--num_samples", "3"],
     "k must be between 1 and n"),
    (["--instruct", "tiny", "--no_chat_template", "--graders", "standard", "exact"], "unknown grader"),
    (["--instruct", "tiny", "--no_chat_template", "--data_dir", "WRONG"], "lacks column"),
    (["--instruct", "tiny", "--no_chat_template", "--rescore"], "nothing to rescore"),
])
def test_bad_input_is_one_clear_line_and_writes_nothing(cli, tiny_model, tmp_path, extra, message):
    wrong = tmp_path / "wrong" / "gsm8k"
    wrong.mkdir(parents=True)
    (wrong / "test.jsonl").write_text(json.dumps({"question": "1+1?", "solution": "2"}) + "\n", encoding="utf-8")
    extra = [str(tmp_path / "wrong") if a == "WRONG" else a for a in extra]
    root = tmp_path / "root"
    args = ["base_vs_instruct.py", "--base", "tiny", "--datasets", "gsm8k", "--data_dir", "bundled",
            "--num_items", "1", "--root", str(root), *extra]
    done = cli(args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and message in lines[-1] and "Traceback" not in done.stderr
    assert not (root / "base_vs_instruct").exists() or not any((root / "base_vs_instruct").rglob("*.csv"))
    assert not (root / SUMMARY_LOG).exists()


def test_help_documents_every_flag(cli):
    import base_vs_instruct

    parser = base_vs_instruct.build_parser()
    assert all(action.help for action in parser._actions)
    done = cli(["base_vs_instruct.py", "--help"])
    assert done.returncode == 0 and "--no_chat_template" in done.stdout and "--report_only" in done.stdout


CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")


def test_prompts_plain_for_base_and_chat_template_for_instruct(tiny_model):
    from inherent_limits.base_vs_instruct.benchmarks import get_bench
    from inherent_limits.base_vs_instruct.items import load_items
    from inherent_limits.base_vs_instruct.prompts import chat_messages, check_chat_template, plain_prompt, prompt_ids
    from inherent_limits.base_vs_instruct.runner import _exemplars
    from inherent_limits.models.loading import load_tokenizer

    bench, item = get_bench("math500"), load_items("math500", data_dir="bundled")[0]
    shots = _exemplars("math500", 2, 42, "bundled", None)
    assert shots == _exemplars("math500", 2, 42, "bundled", None) != _exemplars("math500", 2, 7, "bundled", None)
    text = plain_prompt(bench, item, shots)
    assert text.count("Question: ") == 3 and text.endswith(f"Question: {item.question.strip()}\nAnswer:")
    assert f"The answer is $\\boxed{{{shots[0].gold}}}$." in text
    messages = chat_messages(bench, item, shots)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    tokenizer = load_tokenizer(tiny_model)
    with pytest.raises(UserError, match="no chat template.*--no_chat_template"):
        check_chat_template(tokenizer, "tiny")
    tokenizer.chat_template = CHAT_TEMPLATE
    check_chat_template(tokenizer, "tiny")
    ids = prompt_ids(tokenizer, bench, item, shots, chat=True)
    decoded = tokenizer.decode(ids)
    assert decoded.startswith("<|user|>") and decoded.endswith("<|assistant|>") and decoded.count("<|user|>") == 3
    assert prompt_ids(tokenizer, bench, item, shots, chat=False) == tokenizer(text)["input_ids"]
    medcalc = load_items("medcalc", data_dir="bundled")[0]
    (exemplar,) = _exemplars("medcalc", 1, 42, "bundled", medcalc.meta["calculator_id"])
    assert exemplar.meta["calculator_id"] == medcalc.meta["calculator_id"]


def test_rescore_with_an_extractor_model_uses_its_answers(study, tmp_path):
    root, result, rows = study
    copy = tmp_path / "root"
    shutil.copytree(root, copy)
    log = Path(str(result["samples"]).replace(str(root), str(copy)))
    few = [r for r in rows if r["dataset"] == "gsm8k" and r["prompting"] == "zero_shot"
           and r["item_id"] == rows[0]["item_id"]]
    write_samples(log, few)
    done = rescore(StudyRequest(root=copy, **{**SETTINGS, "extractor": "tiny", "graders": ("standard",)}))
    assert done["rescored"] == len(few) == 6
    again = read_samples(log)
    assert "correct_math_verify" not in again[0] and all(r["correct_standard"] in ("True", "False") for r in again)
    with open(copy / SUMMARY_LOG, newline="", encoding="utf-8") as handle:
        last = list(csv.DictReader(handle))[-1]
    assert last["extractor"] == "tiny" and last["rescored"] == "True" and last["grader"] == "standard"
    from inherent_limits.base_vs_instruct.extraction import STOP_STRINGS, cut_at_stops
    from inherent_limits.base_vs_instruct.items import load_items
    from inherent_limits.base_vs_instruct.runner import _Extractor

    item = {i.item_id: i for i in load_items("gsm8k", data_dir="bundled")}[few[0]["item_id"]]
    by_index = {(r["model_kind"], r["sample_index"]): r for r in again}
    extractor = _Extractor("tiny")
    for row in (few[0], few[-1]):
        expected = extractor.answer(item.question, cut_at_stops(row["response"], STOP_STRINGS["gsm8k"]))
        assert by_index[row["model_kind"], row["sample_index"]]["extracted"] == (expected or "")


def test_a_math_verify_timeout_grades_wrong_and_is_counted(study, tmp_path, monkeypatch):
    from inherent_limits.base_vs_instruct import mathverify

    monkeypatch.setattr(mathverify, "TIMEOUT_S", 1)
    root, result, rows = study
    copy = tmp_path / "root"
    shutil.copytree(root, copy)
    log = Path(str(result["samples"]).replace(str(root), str(copy)))
    target = next(r for r in rows if r["dataset"] == "math500" and r["model_kind"] == "base")
    few = [r for r in rows if r["dataset"] == "math500" and r["item_id"] == target["item_id"]
           and r["model_kind"] == "base" and r["prompting"] == target["prompting"]]
    few[0] = {**few[0], "response": "so the answer is $\\boxed{(1+x)^{100000}}$."}
    write_samples(log, few)
    rescore(StudyRequest(root=copy, **SETTINGS))
    graded = {r["sample_index"]: r for r in read_samples(log)}[few[0]["sample_index"]]
    assert (graded["correct_math_verify"], graded["timeout_math_verify"]) == ("False", "True")
    with open(copy / SUMMARY_LOG, newline="", encoding="utf-8") as handle:
        last = [r for r in csv.DictReader(handle) if r["rescored"] == "True" and r["grader"] == "math_verify"]
    assert [r["timeouts"] for r in last] == ["1"]


def test_samples_carry_the_gold_answer_the_prompt_and_the_first_tokens_text(study, tiny_model):
    import hashlib

    from inherent_limits.models.loading import load_tokenizer
    _, result, rows = study
    with open(Path(result["samples"]).parent / "prompts.csv", newline="", encoding="utf-8") as handle:
        prompts = {r["prompt_sha256"]: r for r in csv.DictReader(handle)}
    tokenizer = load_tokenizer(tiny_model)
    golds = {}
    for row in rows:
        prompt = prompts[row["prompt_sha256"]]
        assert hashlib.sha256(prompt["prompt"].encode()).hexdigest() == row["prompt_sha256"]
        assert (prompt["dataset"], prompt["item_id"], prompt["prompting"]) == \
            (row["dataset"], row["item_id"], row["prompting"])
        assert row["gold"] != "" and golds.setdefault((row["dataset"], row["item_id"]), row["gold"]) == row["gold"]
        if row["model_kind"] == "base":
            assert row["first_token_text"] == tokenizer.decode([int(row["first_token"])])
    assert len(prompts) == len({(r["dataset"], r["item_id"], r["prompting"], r["model_kind"]) for r in rows}) // 2


def test_a_mistyped_instruct_run_lists_the_saved_runs(study):
    root = study[0]
    with pytest.raises(UserError, match=r"--instruct 'tiny_lroa' is no saved run under .*saved_models "
                                        r"\(saved runs: tiny_lora\), so it names no base model; no base model: "):
        resolve_sides(StudyRequest(root=root, **{**SETTINGS, "base": None, "instruct": "tiny_lroa"}))
