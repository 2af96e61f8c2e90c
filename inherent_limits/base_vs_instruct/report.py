"""Metrics, report and figures of the base-vs-instruct study, computed from the per-sample log alone.

Per group (model, dataset, prompting, shots, seed, decoding and its settings, grader): pass@k with the unbiased estimator for
sampled outputs and "any correct among the first k branches" for CoT decoding; the mean correct
share; for CoT decoding the max-confidence branch (cot@1) and the confidence-weighted vote.
The report (report.md) sets instruct against base per pair and dataset with the gap, shows the
gap under each grader (flagging pairs whose winner flips), the MATH-500 -> MATH-Perturb drop and
pass@k curves (PNG). Every table and curve keeps apart the groups that differ in any setting that
changes the samples: a comparison row exists for each pair of base and instruct groups with the
same prompting, shots and seed, labelled with both sides' decoding settings.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Optional

from inherent_limits.base_vs_instruct.passk import pass_at_k, ranked_pass_at_k
from inherent_limits.base_vs_instruct.samples import read_samples
from inherent_limits.core.atomic_files import atomic_dir
from inherent_limits.core.errors import UserError

GROUP = ("pair", "model", "model_kind", "dataset", "prompting", "n_shots", "seed", "decoding", "decoding_settings")
SHARED = ("pair", "dataset", "prompting", "n_shots", "seed")   # what the two sides of a comparison share
PERTURBED = {"math500": "math_perturb_hard"}
REPORT_INFO = "report.json"  # the pairs a report folder shows: only their next report may replace it


def graders_in(rows: list[dict]) -> tuple[str, ...]:
    """The graders whose correct_<grader> column the log has."""
    return tuple(name[len("correct_"):] for name in (rows[0] if rows else {}) if name.startswith("correct_"))


def _flag(value) -> bool:
    return str(value) == "True"


def _conf(value) -> float:
    return float(value) if value not in (None, "") else 0.0


def cot_at_1(branches: list[dict], grader: str) -> bool:
    """Whether the branch with the highest confidence (the first on ties) is correct."""
    best = max(branches, key=lambda r: (_conf(r["confidence"]), -int(r["sample_index"])))
    return _flag(best[f"correct_{grader}"])


def _vote_key(answer: str) -> str:
    return re.sub(r"\s+", "", answer)


def cot_vote(branches: list[dict], grader: str) -> bool:
    """Whether the answer with the largest summed confidence over its branches is correct."""
    totals: dict[str, float] = defaultdict(float)
    first: dict[str, dict] = {}
    for row in branches:
        if row["extracted"]:
            key = _vote_key(row["extracted"])
            totals[key] += _conf(row["confidence"])
            first.setdefault(key, row)
    if not totals:
        return False
    winner = max(totals, key=lambda key: (totals[key], -int(first[key]["sample_index"])))
    return _flag(first[winner][f"correct_{grader}"])


def _items(rows: Iterable[dict]) -> dict[tuple, dict[str, list[dict]]]:
    """Rows grouped by GROUP, then by item, each item's samples in sample order (duplicates: last wins)."""
    groups: dict[tuple, dict[str, dict[int, dict]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        groups[tuple(row[name] for name in GROUP)][row["item_id"]][int(row["sample_index"])] = row
    return {key: {item: [samples[i] for i in sorted(samples)] for item, samples in per_item.items()}
            for key, per_item in groups.items()}


def group_metrics(rows: list[dict], graders: Optional[tuple[str, ...]] = None,
                  ks_by_kind: Optional[dict] = None, curves: bool = False) -> list[dict]:
    """One metrics dict per group and grader; only items with all n samples count.

    `ks_by_kind` maps model_kind to the k of pass@k (default: every k from 1 to n); with
    `curves`, "curve" holds pass@k for k = 1..n.
    """
    graders = graders or graders_in(rows)
    out = []
    for key, per_item in sorted(_items(rows).items()):
        group = dict(zip(GROUP, key))
        n = max(len(samples) for samples in per_item.values())
        complete = [samples for samples in per_item.values() if len(samples) == n]
        ks = (ks_by_kind or {}).get(group["model_kind"]) or tuple(range(1, n + 1))
        ks = tuple(k for k in ks if k <= n)
        ranked = group["decoding"] == "cot"
        for grader in graders:
            flags = [[_flag(r[f"correct_{grader}"]) for r in samples] for samples in complete]
            metrics = {**group, "grader": grader, "n_items": len(complete), "n": n,
                       "mean_correct": _mean(sum(f) / n for f in flags)}
            for k in (range(1, n + 1) if curves else ks):
                value = _mean(ranked_pass_at_k(f, k) if ranked else pass_at_k(n, sum(f), k) for f in flags)
                if k in ks:
                    metrics[f"pass@{k}"] = value
                if curves:
                    metrics.setdefault("curve", []).append(value)
            if ranked:
                metrics["cot_at_1"] = _mean(float(cot_at_1(s, grader)) for s in complete)
                metrics["cot_vote"] = _mean(float(cot_vote(s, grader)) for s in complete)
            metrics["timeouts"] = sum(_flag(r.get(f"timeout_{grader}")) for s in complete for r in s)
            metrics["no_answer"] = sum(not r.get("extracted") for s in complete for r in s)
            out.append(metrics)
    return out


def _mean(values: Iterable[float]) -> Optional[float]:
    values = list(values)
    return sum(values) / len(values) if values else None


def _pct(value: Optional[float]) -> str:
    return "" if value is None else f"{100 * value:.2f}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _decoding(m: dict) -> str:
    return f"{m['decoding']} {m['decoding_settings']}"


def comparisons(metrics: list[dict]) -> list[dict]:
    """Instruct against base at k = the smaller n of the two: one row per grader and per pair of base and
    instruct groups with the same pair, dataset, prompting, shots and seed (each side's decoding named)."""
    out = []
    bases = [m for m in metrics if m["model_kind"] == "base"]
    for inst in (m for m in metrics if m["model_kind"] == "instruct"):
        for base in bases:
            if any(base[f] != inst[f] for f in (*SHARED, "grader")):
                continue
            k = min(base["n"], inst["n"])
            b, i = base["curve"][k - 1], inst["curve"][k - 1]
            out.append({**{f: inst[f] for f in SHARED}, "grader": inst["grader"], "k": k, "base": b, "instruct": i,
                        "gap": None if b is None or i is None else i - b, "base_model": base["model"],
                        "instruct_model": inst["model"], "base_decoding": _decoding(base),
                        "instruct_decoding": _decoding(inst)})
    return sorted(out, key=lambda c: tuple(str(c[f]) for f in (*SHARED, "base_decoding", "instruct_decoding",
                                                                  "grader")))


def grader_flips(rows: list[dict]) -> list[dict]:
    """Per comparison (pair, dataset, prompting, shots, seed, both decodings): the gap under each grader, and
    whether the winner flips."""
    fields = (*SHARED, "base_decoding", "instruct_decoding", "k")
    by: dict[tuple, dict[str, Optional[float]]] = defaultdict(dict)
    for row in rows:
        by[tuple(row[f] for f in fields)][row["grader"]] = row["gap"]
    out = []
    for key, gaps in by.items():
        signs = {(g > 0) - (g < 0) for g in gaps.values() if g is not None}
        out.append({**dict(zip(fields, key)), "gaps": gaps, "flips": {1, -1} <= signs})
    return out


def perturbation_drops(metrics: list[dict]) -> list[dict]:
    """pass@n on MATH-500 against MATH-Perturb (hard) per group (model, side, prompting, shots, seed,
    decoding) and grader."""
    fields = [f for f in GROUP if f != "dataset"] + ["grader"]
    index = {(tuple(m[f] for f in fields), m["dataset"]): m for m in metrics}
    out = []
    for (key, dataset), m in sorted(index.items(), key=lambda kv: tuple(map(str, kv[0][0])) + (kv[0][1],)):
        other = index.get((key, PERTURBED.get(dataset)))
        if other is None:
            continue
        k = min(m["n"], other["n"])
        a, b = m["curve"][k - 1], other["curve"][k - 1]
        out.append({**{f: m[f] for f in fields}, "decoding_label": _decoding(m), "k": k,
                    "original": a, "perturbed": b, "drop": None if a is None or b is None else a - b})
    return out


def _table(header: list[str], lines: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(cells) + " |" for cells in lines), ""]


def render(metrics: list[dict], source: str) -> str:
    """The markdown report."""
    comps, drops = comparisons(metrics), perturbation_drops(metrics)
    flips = grader_flips(comps)
    lines = ["# Base vs instruct (arXiv 2601.13244 protocol)", "",
             f"Recomputed from the per-sample log `{source}`. Values are percentages; gap = instruct - base.", ""]
    lines += ["## Instruct vs base, pass@k", ""]
    lines += _table(["pair", "dataset", "prompting", "shots", "seed", "base decoding", "instruct decoding", "grader",
                     "k", "base pass@k", "instruct pass@k", "gap"],
                    [[c["pair"], c["dataset"], c["prompting"], str(c["n_shots"]), str(c["seed"]), c["base_decoding"],
                      c["instruct_decoding"], c["grader"], str(c["k"]), _pct(c["base"]), _pct(c["instruct"]),
                      _pct(c["gap"])] for c in comps]) if comps else \
        ["(no pair with both sides under the same prompting, shots and seed)", ""]
    graders = sorted({g for f in flips for g in f["gaps"]})
    lines += ["## Grader dependence", "", "Gap (instruct - base) under each grader; **flip** marks a pair whose "
              "winner depends on the grader.", ""]
    lines += _table(["pair", "dataset", "prompting", "shots", "seed", "base decoding", "instruct decoding", "k",
                     *[f"gap ({g})" for g in graders], "winner flips"],
                    [[f["pair"], f["dataset"], f["prompting"], str(f["n_shots"]), str(f["seed"]), f["base_decoding"],
                      f["instruct_decoding"], str(f["k"]), *[_pct(f["gaps"].get(g)) for g in graders],
                      "**flip**" if f["flips"] else "no"] for f in flips]) if flips else \
        ["(no pair with both sides under the same prompting, shots and seed)", ""]
    lines += ["## Perturbation drop (MATH-500 -> MATH-Perturb hard)", ""]
    lines += _table(["model", "side", "prompting", "shots", "seed", "decoding", "grader", "k", "MATH-500",
                     "MATH-Perturb", "drop"],
                    [[d["model"], d["model_kind"], d["prompting"], str(d["n_shots"]), str(d["seed"]),
                      d["decoding_label"], d["grader"], str(d["k"]), _pct(d["original"]), _pct(d["perturbed"]),
                      _pct(d["drop"])] for d in drops]) if drops else \
        ["(needs both math500 and math_perturb_hard in the log)", ""]
    lines += ["## Every group", "", "pass@1: the unbiased estimate for samples (equal to the mean correct share), the top-1 "
              "first token's branch for CoT; mean = mean correct share; cot@1 = max-confidence branch; "
              "vote = confidence-weighted vote; no answer = samples (of items x n) from which no answer was "
              "extracted (they count as wrong).", ""]
    lines += _table(["model", "side", "dataset", "prompting", "shots", "seed", "decoding", "grader", "items", "n",
                     "mean", "pass@1", "pass@n", "cot@1", "vote", "no answer", "timeouts"],
                    [[m["model"], m["model_kind"], m["dataset"], m["prompting"], str(m["n_shots"]), str(m["seed"]),
                      _decoding(m), m["grader"], str(m["n_items"]), str(m["n"]), _pct(m["mean_correct"]), _pct(m["curve"][0]),
                      _pct(m["curve"][-1]), _pct(m.get("cot_at_1")), _pct(m.get("cot_vote")),
                      f"{m['no_answer']}/{m['n_items'] * m['n']}", str(m["timeouts"])]
                     for m in metrics])
    lines += ["## Figures", ""]
    for dataset in sorted({m["dataset"] for m in metrics}):
        lines.append(f"![pass@k on {dataset}](passk_{_slug(dataset)}.png)")
    return "\n".join(lines) + "\n"


def curve_label(m: dict) -> str:
    """A curve's legend entry: every setting of its group."""
    return (f"{m['model_kind']} {m['model']} {m['prompting']} {m['n_shots']}-shot seed {m['seed']} "
            f"({_decoding(m)})")


def _curves(metrics: list[dict], dataset: str, path: Path) -> None:
    from matplotlib.figure import Figure  # object API: no pyplot state, Agg canvas for PNG
    from matplotlib.ticker import MaxNLocator

    mine = [m for m in metrics if m["dataset"] == dataset]
    graders = sorted({m["grader"] for m in mine})
    figure = Figure(figsize=(5 * len(graders), 4), dpi=100)
    for i, grader in enumerate(graders, 1):
        axes = figure.add_subplot(1, len(graders), i)
        for m in (m for m in mine if m["grader"] == grader):
            ks = list(range(1, m["n"] + 1))
            axes.plot(ks, [100 * (v or 0.0) for v in m["curve"]], marker="o", markersize=3,
                      linestyle="-" if m["model_kind"] == "instruct" else "--",
                      label=curve_label(m))
        axes.set_xlabel("k")
        axes.set_ylabel("pass@k (%)")
        axes.set_ylim(-2, 102)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(f"{dataset}, grader {grader}", fontsize=9)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(path)


def check_report_dir(out: Path, pairs: list[str]) -> None:
    """`out` must be absent, empty, or hold a report (its report.json) of the same pairs: it is replaced whole."""
    if not out.exists():
        return
    if not out.is_dir():
        raise UserError(f"report folder {out} is a file: pass a new folder (--report_dir)")
    if not any(out.iterdir()):
        return
    try:
        previous = json.loads((out / REPORT_INFO).read_text(encoding="utf-8")).get("pairs")
    except (OSError, ValueError, AttributeError):
        previous = None
    if previous != pairs:
        what = f"the report of {', '.join(previous)}" if isinstance(previous, list) else "files that are not a report"
        raise UserError(f"report folder {out} holds {what}, and writing a report replaces the folder: pass a new "
                        "folder (--report_dir), or move it away")


def write_report(samples_path: Path, out: Optional[Path] = None) -> dict:
    """Rebuild report.md and the pass@k PNGs from a per-sample log (atomically replaces `out`, which
    check_report_dir allows only for a new folder or a previous report of the same pairs)."""
    samples_path = Path(samples_path)
    rows = read_samples(samples_path)
    if not rows:
        raise UserError(f"no samples in {samples_path}: nothing to report")
    if not graders_in(rows) or any(name not in rows[0] for name in (*GROUP, "item_id", "sample_index")):
        raise UserError(f"{samples_path} is not a per-sample log of the base-vs-instruct study")
    out = Path(out) if out is not None else samples_path.parent / "report"
    pairs = sorted({row["pair"] for row in rows})
    check_report_dir(out, pairs)
    metrics = group_metrics(rows, curves=True)
    text = render(metrics, str(samples_path))
    with atomic_dir(out, overwrite=True) as tmp:
        (tmp / "report.md").write_text(text, encoding="utf-8")
        (tmp / REPORT_INFO).write_text(json.dumps({"samples": str(samples_path), "pairs": pairs}), encoding="utf-8")
        for dataset in sorted({m["dataset"] for m in metrics}):
            _curves(metrics, dataset, tmp / f"passk_{_slug(dataset)}.png")
    return {"report": out / "report.md", "figures": sorted(out.glob("*.png"))}
