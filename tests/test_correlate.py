"""Correlation analysis on hand-built logs: scores, coefficients (vs scipy), filters, reasons, old logs, plots."""
import itertools
import re
import statistics

import pandas as pd
import pytest
import scipy.stats

from inherent_limits.analysis import correlation as corr
from inherent_limits.core.csv_logs import (
    BERTSCORE_COLUMNS,
    BERTSCORE_LOG,
    EVAL_COLUMNS,
    EVAL_LOG,
    TRAIN_COLUMNS,
    TRAIN_LOG,
    append_row,
    read_log,
)
from inherent_limits.core.errors import UserError

MODEL, OTHER = "org/Model-A", "org/Model-B"
# six accuracy tasks: gold_pipeline score, flan_direct score
POINTS = {"rte": (50.0, 58.0), "sst2": (62.0, 71.0), "bool_q": (55.0, 52.0), "copa": (70.0, 80.0),
          "anli_r1": (48.0, 49.0), "wic": (66.0, 60.0)}
_names = itertools.count()


def _eval(root, task, condition, value, column="accuracy", model=MODEL, seed=42, job="1", **extra):
    """Append one eval_logs.csv row as test.py writes it; returns its eval_name."""
    name = f"eval-{next(_names)}"
    row = {"job_id": f"job-{job}", "seed": seed, "run_name": model, "test_task": task, "eval_name": name,
           column: value, "condition": condition, "base_model": model, **extra}
    append_row(root / EVAL_LOG, row, leading=EVAL_COLUMNS)
    return name


def _bertscore(root, eval_name, value):
    append_row(root / BERTSCORE_LOG, {"job_id": "job-9", "input_file": eval_name, "bertscore_accuracy": value},
               leading=BERTSCORE_COLUMNS)


def _six_tasks(root, model=MODEL, job="1"):
    for task, (x, y) in POINTS.items():
        _eval(root, task, "gold_pipeline", x, model=model, job=job)
        _eval(root, task, "flan_direct", y, model=model, job=job)


def _row(table, group="pooled", subset="all", base="gold_pipeline", tuned="flan_direct", statistic="spearman"):
    hit = table[(table.group == group) & (table.subset == subset) & (table.base_condition == base)
                & (table.tuned_condition == tuned) & (table.statistic == statistic)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_coefficients_equal_scipy(tmp_path):
    _six_tasks(tmp_path)
    table = corr.correlations(corr.scores_by_task(corr.load_logs(tmp_path)))
    tasks = sorted(POINTS)  # the points' order: by base model, then task
    x, y = [POINTS[t][0] for t in tasks], [POINTS[t][1] for t in tasks]
    for statistic, fn in (("spearman", scipy.stats.spearmanr), ("pearson", scipy.stats.pearsonr),
                          ("kendall", scipy.stats.kendalltau)):
        expected = fn(x, y)
        for group in (MODEL, "pooled"):
            got = _row(table, group=group, statistic=statistic)
            assert (got.r, got.p, got.n, got.reason) == (float(expected[0]), float(expected[1]), 6, "")
    # conditions with no scores: a reason, never a coefficient
    empty = _row(table, base="base_zero_shot")
    assert pd.isna(empty.r) and empty.reason == "fewer than 3 tasks (n=0)"


def test_pooled_uses_every_model_task_point(tmp_path):
    _six_tasks(tmp_path)
    shifted = {t: (x + 5, y - 3) for t, (x, y) in POINTS.items()}
    for task, (x, y) in shifted.items():
        _eval(tmp_path, task, "gold_pipeline", x, model=OTHER)
        _eval(tmp_path, task, "flan_direct", y, model=OTHER)
    table = corr.correlations(corr.scores_by_task(corr.load_logs(tmp_path)))
    xs = [POINTS[t][0] for t in sorted(POINTS)] + [shifted[t][0] for t in sorted(POINTS)]
    ys = [POINTS[t][1] for t in sorted(POINTS)] + [shifted[t][1] for t in sorted(POINTS)]
    got = _row(table)
    expected = scipy.stats.spearmanr(xs, ys)
    assert (got.r, got.p, got.n) == (float(expected[0]), float(expected[1]), 12)


def test_bertscore_priority_and_metrics(tmp_path):
    rte = _eval(tmp_path, "rte", "gold_pipeline", 40.0)
    _bertscore(tmp_path, rte, 11.0)
    _bertscore(tmp_path, rte, 61.0)  # the last row of an eval wins
    squad = _eval(tmp_path, "squad", "gold_pipeline", 30.0, column="em", f1=45.0)
    _bertscore(tmp_path, squad, 99.0)  # squad: bertscore=False in the registry
    _eval(tmp_path, "gsm8k", "gold_pipeline", 12.0)
    _eval(tmp_path, "fix_punct", "gold_pipeline", 3.0, column="min_edit", mean_edit=7.5)
    _eval(tmp_path, "cola", "gold_pipeline", 20.0, column="matthews_corrcoef")
    scores = corr.scores_by_task(corr.load_logs(tmp_path)).set_index("task")
    assert scores.loc["rte", ["metric", "score"]].tolist() == ["bertscore_accuracy", 61.0]
    assert scores.loc["squad", ["metric", "score"]].tolist() == ["em", 30.0]
    assert scores.loc["gsm8k", ["metric", "score"]].tolist() == ["accuracy", 12.0]
    assert scores.loc["fix_punct", ["metric", "score"]].tolist() == ["-mean_edit", -7.5]
    assert scores.loc["cola", ["metric", "score"]].tolist() == ["matthews_corrcoef", 20.0]


def test_seed_averaging_and_seen(tmp_path):
    append_row(tmp_path / TRAIN_LOG, {"job_id": "job-5", "seed": 1, "run_name": "run1", "model_name": MODEL,
                                      "dataset": "flan_prompts_mixture"}, leading=TRAIN_COLUMNS)
    _eval(tmp_path, "rte", "gold_pipeline", 10.0, seed=1)
    _eval(tmp_path, "rte", "gold_pipeline", 20.0, seed=1)
    _eval(tmp_path, "rte", "gold_pipeline", 35.0, seed=2)
    _eval(tmp_path, "wic", "gold_pipeline", 50.0, seed=1)
    scores = corr.scores_by_task(corr.load_logs(tmp_path)).set_index("task")
    rte = scores.loc["rte"]
    assert rte.score == statistics.mean([15.0, 35.0]) and rte["std"] == pytest.approx(statistics.stdev([15.0, 35.0]))
    assert (rte.n_seeds, rte.n_evals, rte.cluster) == (2, 3, "nli")
    assert pd.isna(scores.loc["wic", "std"]) and scores.loc["wic", "n_seeds"] == 1
    # default mixture: rte trains (nli), wic does not (misc is dropped)
    assert (rte.seen, scores.loc["wic", "seen"]) == ("True", "False")


def test_rescored_eval_counts_once(tmp_path):
    name = _eval(tmp_path, "rte", "gold_pipeline", 10.0)
    append_row(tmp_path / EVAL_LOG, {"job_id": "job-2", "seed": 42, "run_name": MODEL, "test_task": "rte",
                                     "eval_name": name, "accuracy": 30.0, "condition": "gold_pipeline",
                                     "base_model": MODEL}, leading=EVAL_COLUMNS)
    scores = corr.scores_by_task(corr.load_logs(tmp_path))
    assert scores[["score", "n_evals"]].values.tolist() == [[30.0, 1]]


def test_filters_and_their_errors(tmp_path):
    _six_tasks(tmp_path, job="1")
    _eval(tmp_path, "rte", "gold_pipeline", 90.0, job="2", seed=7)
    _eval(tmp_path, "rte", "gold_pipeline", 10.0, model=OTHER, job="3")
    logs = corr.load_logs(tmp_path)

    def rte(**filters):
        scores = corr.scores_by_task(logs, **filters)
        return scores[(scores.task == "rte") & (scores.condition == "gold_pipeline")][["base_model", "score"]].values.tolist()

    assert rte(job_ids=["1"]) == [[MODEL, 50.0]]
    assert rte(job_ids=["job-2", "3"]) == [[MODEL, 90.0], [OTHER, 10.0]]
    assert rte(models=["Model-B"]) == [[OTHER, 10.0]]
    assert rte(models=[MODEL]) == [[MODEL, 70.0]]
    assert rte(seeds=["7"]) == [[MODEL, 90.0]]
    listing = r"^no eval rows for --job_ids job-4; job ids in the logs: job-1, job-2, job-3$"
    with pytest.raises(UserError, match=listing):
        corr.scores_by_task(logs, job_ids=["4"])
    with pytest.raises(UserError, match=r"--models foo; base models in the logs: org/Model-A, org/Model-B$"):
        corr.scores_by_task(logs, models=["foo"])
    with pytest.raises(UserError, match=r"--seeds 3; seeds in the logs: 42, 7$"):
        corr.scores_by_task(logs, seeds=[3])
    with pytest.raises(UserError, match=r"no eval row matches --job_ids job-2; --seeds 42 together"):
        corr.scores_by_task(logs, job_ids=["2"], seeds=["42"])


def test_reasons_and_no_nan_in_outputs(tmp_path):
    for task, value in (("rte", 50.0), ("sst2", 60.0)):  # two tasks only
        _eval(tmp_path, task, "base_zero_shot", value)
        _eval(tmp_path, task, "samplegen_direct", value + 1)
    for task, value in (("rte", 55.0), ("sst2", 55.0), ("copa", 55.0), ("bool_q", 55.0)):  # constant base side
        _eval(tmp_path, task, "gold_pipeline", value)
        _eval(tmp_path, task, "flan_direct", value + len(task))
    paths = corr.write_analysis(tmp_path)
    table = corr.correlations(corr.scores_by_task(corr.load_logs(tmp_path)))
    few = _row(table, base="base_zero_shot", tuned="samplegen_direct")
    assert pd.isna(few.r) and pd.isna(few.p) and few.reason == "fewer than 3 tasks (n=2)"
    constant = _row(table, group=MODEL, statistic="kendall")
    assert pd.isna(constant.r) and constant.reason == "constant scores in gold_pipeline" and constant.n == 4
    for path in (paths["correlations"], paths["scores"], paths["report"]):
        assert not re.search(r"\bnan\b", path.read_text(), flags=re.IGNORECASE), path
    written = read_log(paths["correlations"])
    assert list(written.columns) == list(corr.CORRELATION_COLUMNS)
    assert "fewer than 3 tasks (n=2)" in paths["report"].read_text()


def test_older_logs_derive_conditions(tmp_path):
    """The reference's columns: no condition/base_model; tuned runs logged as <path>saved_models/<run>."""
    append_row(tmp_path / TRAIN_LOG, {"job_id": "job-5", "seed": 42, "run_name": "20240101_000000",
                                      "model_name": MODEL, "dataset": "mix_prompts_mixture_setup4"},
               leading=TRAIN_COLUMNS)
    append_row(tmp_path / TRAIN_LOG, {"job_id": "job-6", "seed": 42, "run_name": "20240102_000000",
                                      "model_name": MODEL, "dataset": "flan_prompts_mixture_setup4"},
               leading=TRAIN_COLUMNS)
    rows = [("/p/saved_models/20240101_000000", "mix_prompts", "direct_eval", "", 1.0),
            ("/p/saved_models/20240102_000000", "flan_prompts", "direct_eval", "", 2.0),
            (MODEL, "mix_prompts", "direct_eval", "", 3.0),
            (MODEL, "mix_prompts", "samplegen_pipeline", "train_data", 4.0),
            (MODEL, "mix_prompts", "samplegen_pipeline", "model", 5.0),
            (MODEL, "mix_prompts", "samplegen_pipeline", "", 6.0)]  # no sample source: not derivable
    for run, fmt, mode, source, value in rows:
        append_row(tmp_path / EVAL_LOG, {"job_id": "job-7", "seed": 42, "run_name": run, "test_task": "mnli",
                                         "test_prompt_type": fmt, "model_type": fmt, "num_test": 10,
                                         "eval_mode": mode, "eval_name": f"e{value}",
                                         "samplegen_model_name": "", "samplegen_file_name": "",
                                         "samplegen_sample_source": source, "ablation_setup": "",
                                         "num_samples_ablation": 2, "accuracy": value})
    logs = corr.load_logs(tmp_path)
    scores = corr.scores_by_task(logs)
    assert scores[["base_model", "condition", "score", "seen"]].values.tolist() == [
        [MODEL, "base_zero_shot", 3.0, "True"], [MODEL, "gold_pipeline", 4.0, "True"],
        [MODEL, "samplegen_pipeline", 5.0, "True"], [MODEL, "flan_direct", 2.0, "True"],
        [MODEL, "samplegen_direct", 1.0, "True"]]
    assert any(note.startswith("skipped 1 eval row(s): condition not derivable") for note in logs.notes)


def test_missing_eval_log(tmp_path, cli):
    with pytest.raises(UserError, match=r"eval_logs.csv not found: test.py writes it \(run the evaluations first\)"):
        corr.load_logs(tmp_path)
    out = cli(["correlate.py", "--root", str(tmp_path)])
    assert out.returncode == 2
    assert out.stderr.splitlines() == [f"error: {tmp_path / EVAL_LOG} not found: test.py writes it "
                                       "(run the evaluations first)"]
    assert not (tmp_path / "analysis").exists()


def test_help_explains_every_flag(cli):
    out = cli(["correlate.py", "--help"])
    assert out.returncode == 0
    for flag, word in (("--root", "holding"), ("--out", "replaced"), ("--job_ids", "prefix"),
                       ("--models", "Llama-2-7b-hf"), ("--seeds", "seeds")):
        assert flag in out.stdout and word in out.stdout, flag


def test_plot_title():
    assert (corr.plot_title("meta-llama/Llama-2-7b-hf", "gold_pipeline", "flan_direct", 0.8512, 0.00312, 10)
            == "Llama-2-7b-hf: gold_pipeline vs flan_direct — Spearman r=0.85, p=0.0031, n=10")
    assert (corr.plot_title("pooled", "base_zero_shot", "samplegen_direct", None, None, 2, "fewer than 3 tasks (n=2)")
            == "pooled: base_zero_shot vs samplegen_direct — fewer than 3 tasks (n=2)")


def test_cli_writes_report_tables_and_plots(tmp_path, cli):
    _six_tasks(tmp_path)
    _eval(tmp_path, "rte", "samplegen_direct", 40.0)  # one point only: a plot without a fitted line
    _eval(tmp_path, "rte", "base_zero_shot", 30.0)
    out = cli(["correlate.py", "--root", str(tmp_path), "--job_ids", "1"])
    assert out.returncode == 0, out.stderr
    analysis = tmp_path / "analysis"
    assert f"report: {analysis / 'report.md'}" in out.stdout
    assert f"figures: {analysis / 'plots'} (8 plots)" in out.stdout
    plots = sorted(p.name for p in (analysis / "plots").iterdir())
    assert "org_Model-A__gold_pipeline__vs__flan_direct.png" in plots
    assert "pooled__base_zero_shot__vs__samplegen_direct.png" in plots
    assert len(plots) == 8  # (gold | base_zero_shot) x (flan | samplegen) x (model, pooled)
    for name in plots:
        assert (analysis / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (analysis / "report.md").read_text()
    assert "(plots/org_Model-A__gold_pipeline__vs__flan_direct.png)" in report and "--job_ids 1" in report
    assert len(read_log(analysis / "scores_by_task.csv")) == 14
    # a rerun replaces the folder; a foreign non-empty --out is refused
    (analysis / "plots" / "stale.png").write_bytes(b"x")
    assert corr.write_analysis(tmp_path)["out"] == analysis and not (analysis / "plots" / "stale.png").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(UserError, match="is not an analysis folder written by correlate.py"):
        corr.write_analysis(tmp_path, foreign)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


def test_mixed_settings_in_a_cell_stop_and_list_the_groups(tmp_path):
    _six_tasks(tmp_path)
    _eval(tmp_path, "rte", "gold_pipeline", 90.0, job="2", num_test="4", max_new_tokens="24")
    _eval(tmp_path, "rte", "gold_pipeline", 10.0, job="3", num_test="8", max_new_tokens="24")
    with pytest.raises(UserError) as err:
        corr.scores_by_task(corr.load_logs(tmp_path))
    message = str(err.value)
    assert f"{MODEL} / gold_pipeline / rte" in message and "1 cell(s)" in message
    assert "    no settings logged: 1 eval(s), jobs job-1\n" in message
    assert "    num_test=4, max_new_tokens=24: 1 eval(s), jobs job-2\n" in message
    assert "    num_test=8, max_new_tokens=24: 1 eval(s), jobs job-3" in message
    assert "--group_by max_new_tokens num_test" in message
    # one group kept by a filter: no stop, the cell is that job's alone
    scores = corr.scores_by_task(corr.load_logs(tmp_path), job_ids=["2"])
    assert scores[["task", "score", "n_evals"]].values.tolist() == [["rte", 90.0, 1]]


def test_two_adapters_of_one_condition_are_never_averaged(tmp_path):
    _eval(tmp_path, "rte", "flan_direct", 60.0, run_name="regular_a")
    _eval(tmp_path, "rte", "flan_direct", 40.0, run_name="regular_b")
    with pytest.raises(UserError, match="run_name=regular_a.*\n.*run_name=regular_b"):
        corr.scores_by_task(corr.load_logs(tmp_path))
    scores = corr.scores_by_task(corr.load_logs(tmp_path), group_by=["run_name"])
    assert sorted(zip(scores["base_model"], scores["score"])) == [
        (f"{MODEL} [run_name=regular_a]", 60.0), (f"{MODEL} [run_name=regular_b]", 40.0)]
    assert corr.short_name(f"{MODEL} [data_source=folder:/data/x]") == "Model-A [data_source=folder:/data/x]"


def test_group_by_keeps_settings_apart_and_pairs_within_each(tmp_path):
    for num_test, shift in (("100", 0.0), ("500", 7.0)):
        for task, (x, y) in POINTS.items():
            _eval(tmp_path, task, "gold_pipeline", x + shift, num_test=num_test)
            _eval(tmp_path, task, "flan_direct", y - shift * (task == "rte"), num_test=num_test)
    with pytest.raises(UserError, match=r"^12 cell"):
        corr.scores_by_task(corr.load_logs(tmp_path))
    scores = corr.scores_by_task(corr.load_logs(tmp_path), group_by=["num_test"])
    assert len(scores) == 24 and set(scores["n_evals"]) == {1}
    table = corr.correlations(scores)
    for group in (f"{MODEL} [num_test=100]", f"{MODEL} [num_test=500]"):
        assert _row(table, group=group).n == 6
    with pytest.raises(UserError, match="--group_by seeds: not a setting column"):
        corr.scores_by_task(corr.load_logs(tmp_path), group_by=["seeds"])


def test_report_shows_evaluations_seeds_and_unparsable_cells(tmp_path):
    _six_tasks(tmp_path)
    _eval(tmp_path, "rte", "samplegen_direct", 0.0, unparsable_rate=100.0)   # test.py logs percentages
    _eval(tmp_path, "sst2", "samplegen_direct", 50.0, unparsable_rate=25.0, seed=1)
    _eval(tmp_path, "sst2", "samplegen_direct", 70.0, unparsable_rate=75.0, seed=1)
    _eval(tmp_path, "bool_q", "samplegen_direct", 40.0, unparsable_rate=99.0)
    scores = corr.scores_by_task(corr.load_logs(tmp_path))
    sst2 = scores[(scores.task == "sst2") & (scores.condition == "samplegen_direct")].iloc[0]
    assert (sst2.score, sst2.n_seeds, sst2.n_evals, sst2.unparsable_rate, sst2.all_unparsable) == \
        (60.0, 1, 2, 50.0, False)
    assert scores[(scores.task == "rte") & (scores.condition == "samplegen_direct")].iloc[0].all_unparsable
    written = corr.write_analysis(tmp_path)
    report = written["report"].read_text()
    assert "60.00 (1 seeds, 2 evals, unparsable 50%)" in report
    assert "0.00 (1 seeds, 1 evals, unparsable 100%) **all unparsable**" in report
    assert "40.00 (1 seeds, 1 evals, unparsable 99%) |" in report
    assert "50.00 (1 seeds, 1 evals, unparsable ?)" in report       # a log without the rate says so


def test_report_shows_option_share_unparsable_rate_and_stand_in(tmp_path):
    from inherent_limits.evaluation.response_files import response_row, write_responses

    model = "smollm2-135m-instruct"
    rows = {  # condition -> processed answers of 4 items with options yes/no
        "base_zero_shot": ["The sentence is fine.", "yes", "Yes.", ""],
        "flan_direct": ["yes", "no", "no", "yes"]}
    for condition, answers in rows.items():
        path = tmp_path / "saved_models" / condition / "evals" / "e.csv"
        write_responses(path, [response_row("q", a, "yes", a, bool(a), ["yes", "no"], ["yes"],
                                            stopped=condition == "flan_direct" or i == 0)
                               for i, a in enumerate(answers)])
        _eval(tmp_path, "rte", condition, 50.0, model=model, response_file=str(path.relative_to(tmp_path)),
              unparsable_rate=25.0 if condition == "base_zero_shot" else 0.0)
    scores = corr.scores_by_task(corr.load_logs(tmp_path)).set_index(["condition", "task"])
    assert scores.loc[("base_zero_shot", "rte"), "option_share"] == 25.0    # "Yes." is no exact option
    assert scores.loc[("flan_direct", "rte"), "option_share"] == 100.0
    assert scores.loc[("base_zero_shot", "rte"), "stop_share"] == 25.0      # 1 of 4 ended on EOS
    assert scores.loc[("flan_direct", "rte"), "stop_share"] == 100.0
    report = corr.write_analysis(tmp_path)["report"].read_text()
    assert "## Answer format by condition" in report
    assert "| rte | 25% / 25% / 25% | 100% / 0% / 100% |" in report
    assert "| **mean** | 25% / 25% / 25% | 100% / 0% / 100% |" in report
    assert "SmolLM2-135M-Instruct" in report and "standing in for the paper's base models" in report
