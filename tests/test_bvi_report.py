"""The base-vs-instruct report keeps apart every group that differs in a sample-changing setting."""
import csv

from inherent_limits.base_vs_instruct.report import (
    comparisons,
    curve_label,
    grader_flips,
    group_metrics,
    perturbation_drops,
    write_report,
)


def _rows(shots, base_correct, inst_correct, dataset="gsm8k", n=4, settings=("k=4,max=48", "n=4,t=0.05,max=48")):
    """Two items x n samples per side, all correct or all wrong, for one shot count."""
    rows = []
    for kind, decoding, label, correct in (("base", "cot", settings[0], base_correct),
                                           ("instruct", "sample", settings[1], inst_correct)):
        for item in ("1", "2"):
            for index in range(n):
                rows.append({"pair": "b vs i", "model": kind, "model_kind": kind, "dataset": dataset,
                             "prompting": "few_shot", "n_shots": str(shots), "seed": "42", "decoding": decoding,
                             "decoding_settings": label, "item_id": item, "sample_index": str(index),
                             "correct_standard": str(correct), "timeout_standard": "False",
                             "confidence": "0.5", "extracted": "7"})
    return rows


def test_two_and_eight_shots_are_two_groups_everywhere(tmp_path):
    rows = _rows(2, base_correct=False, inst_correct=True) + _rows(8, base_correct=True, inst_correct=False)
    metrics = group_metrics(rows, curves=True)
    assert len(metrics) == 4
    comps = comparisons(metrics)
    assert [(c["n_shots"], c["base"], c["instruct"], c["gap"]) for c in comps] == [("2", 0.0, 1.0, 1.0),
                                                                                   ("8", 1.0, 0.0, -1.0)]
    assert [(f["n_shots"], f["gaps"]) for f in grader_flips(comps)] == [("2", {"standard": 1.0}),
                                                                       ("8", {"standard": -1.0})]
    assert len({curve_label(m) for m in metrics}) == 4
    log = tmp_path / "samples.csv"
    with open(log, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = write_report(log, tmp_path / "report")["report"].read_text(encoding="utf-8")
    assert "| b vs i | gsm8k | few_shot | 2 | 42 | cot k=4,max=48 | sample n=4,t=0.05,max=48 | standard | 4 | " \
           "0.00 | 100.00 | 100.00 |" in report
    assert "| b vs i | gsm8k | few_shot | 8 | 42 | cot k=4,max=48 | sample n=4,t=0.05,max=48 | standard | 4 | " \
           "100.00 | 0.00 | -100.00 |" in report


def test_other_decoding_settings_give_their_own_rows_never_a_silent_pick():
    rows = _rows(8, True, False) + _rows(8, False, False, settings=("k=20,max=48", "n=4,t=0.05,max=48"))
    comps = comparisons(group_metrics(rows, curves=True))
    assert sorted((c["base_decoding"], c["base"]) for c in comps) == [("cot k=20,max=48", 0.0),
                                                                      ("cot k=4,max=48", 1.0)]


def test_perturbation_drop_pairs_only_the_same_settings():
    rows = (_rows(2, True, True, dataset="math500") + _rows(2, False, True, dataset="math_perturb_hard")
            + _rows(8, False, False, dataset="math500") + _rows(8, False, False, dataset="math_perturb_hard"))
    drops = perturbation_drops(group_metrics(rows, curves=True))
    assert sorted((d["model_kind"], d["n_shots"], d["drop"]) for d in drops) == [
        ("base", "2", 1.0), ("base", "8", 0.0), ("instruct", "2", 0.0), ("instruct", "8", 0.0)]
