"""Stage 6: does a base model's in-context performance predict its instruction-tuned performance?

Reads the CSV logs under a root (eval_logs.csv; bertscore_evals.csv and train_logs.csv if
present), reduces them to one score per (base model, condition, task), correlates every base
condition with every tuned condition across tasks (Spearman, the paper's statistic, plus
Pearson and Kendall) and writes <root>/analysis/: scores_by_task.csv, correlations.csv,
report.md and plots/*.png.

Scores: the eval's BERTScore accuracy when the task's registry entry allows BERTScore and
bertscore_evals.csv has a row for the eval (the reference gives it priority), else the task's
primary metric; fix_punct's word edit distance is negated (-mean_edit) so that higher is better
everywhere. An eval_name counts once (its latest row: `test.py --rescore` appends one), rows
with an ablation_setup are left out (the Gold Pipeline ablations are a separate study), and the
rows of one seed are averaged before the mean and sample standard deviation over seeds.

A cell only averages evaluations with the same result-changing settings (SETTING_COLUMNS: the
adapter, the SampleGen model, the format, test items, new tokens, answer matching, data source).
When a cell would mix them, scores_by_task stops and lists the groups, unless `group_by` names
the columns to keep apart (each value becomes a group of its own, like a base model).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
import pandas as pd
import scipy.stats
from tqdm import tqdm

from inherent_limits.core import csv_logs
from inherent_limits.core.atomic_files import atomic_dir
from inherent_limits.core.conditions import BASE_CONDITIONS, CONDITIONS, TUNED_CONDITIONS
from inherent_limits.core.errors import UserError
from inherent_limits.data.registry import MIXTURE_SETUPS, get_task, group_of, mixture_tasks
from inherent_limits.evaluation.metrics import primary_column
from inherent_limits.evaluation.response_files import read_responses
from inherent_limits.models.offline import stand_in_note

STATISTICS = {"spearman": scipy.stats.spearmanr, "pearson": scipy.stats.pearsonr,
              "kendall": scipy.stats.kendalltau}
MIN_TASKS = 3
BERTSCORE_METRIC = "bertscore_accuracy"
EDIT_METRIC = "-mean_edit"
AXIS_UNIT = "score (BERTScore acc. / task metric)"
SCORE_COLUMNS = ("base_model", "condition", "task", "cluster", "seen", "metric", "score", "std",
                 "n_seeds", "n_evals", "unparsable_rate", "all_unparsable", "option_share", "stop_share")
# eval_logs.csv columns whose values change a result: evaluations that differ in one are never averaged
SETTING_COLUMNS = ("run_name", "samplegen_model_name", "test_prompt_type", "num_test", "max_new_tokens",
                   "answer_matching", "data_source")
CORRELATION_COLUMNS = ("group", "subset", "base_condition", "tuned_condition", "statistic", "r", "p",
                       "n", "reason")


@dataclass
class Logs:
    """The logs under a root. `evals` has every row whose condition and base model are known."""
    root: Path
    evals: pd.DataFrame
    bertscore: pd.DataFrame
    train: pd.DataFrame
    rows_read: dict[str, Optional[int]]       # log file -> rows (None: file not found)
    notes: list[str] = field(default_factory=list)


# --- reading ---------------------------------------------------------------------------------

def _text(value) -> str:
    """A log cell as text; empty for a missing cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _run_key(run_name: str) -> str:
    """The reference logs tuned runs as <path>saved_models/<run>: keep <run>."""
    return run_name.rstrip("/").rsplit("/", 1)[-1] if "saved_models/" in run_name else run_name


def short_name(model: str) -> str:
    """A base model id without its organisation: meta-llama/Llama-2-7b-hf -> Llama-2-7b-hf.

    A group label "<model> [<settings>]" (--group_by) keeps its settings.
    """
    name, bracket, settings = model.partition(" [")
    return name.rstrip("/").rsplit("/", 1)[-1] + bracket + settings


def _derive(row: dict, train_models: dict[str, str]) -> tuple[str, str, str]:
    """(condition, base_model, skip reason) of an eval row; older logs lack the first two."""
    condition, base_model = _text(row.get("condition")), _text(row.get("base_model"))
    run = _text(row.get("run_name"))
    tuned = _run_key(run) in train_models or "saved_models/" in run
    if not condition:
        mode, source, fmt = (_text(row.get(k)) for k in ("eval_mode", "samplegen_sample_source", "model_type"))
        if mode == "samplegen_pipeline":
            condition = {"train_data": "gold_pipeline", "model": "samplegen_pipeline"}.get(source, "")
        elif mode == "direct_eval" and tuned:
            condition = {"flan_prompts": "flan_direct", "mix_prompts": "samplegen_direct"}.get(fmt, "")
        elif mode == "direct_eval":
            condition = "base_zero_shot"
        if not condition:
            return "", "", "condition not derivable (eval_mode, samplegen_sample_source, model_type)"
    if condition not in CONDITIONS:
        return "", "", f"unknown condition {condition!r}"
    if not base_model:
        base_model = run if condition in BASE_CONDITIONS else train_models.get(_run_key(run), "")
        if not base_model:
            return "", "", "base model unknown (tuned run not in train_logs.csv)"
    return condition, base_model, ""


def _check_numeric(frame: pd.DataFrame, path: Path, column: str) -> None:
    """A UserError naming file, line and column of the first cell of `column` that is not a number."""
    if frame.empty or column not in frame.columns:
        return
    cells = frame[column]
    bad = cells.notna() & pd.to_numeric(cells, errors="coerce").isna()
    if bad.any():
        index = int(bad.to_numpy().nonzero()[0][0])
        line = csv_logs.record_lines(path)[index]
        raise UserError(f"{path}, line {line}, column {column}: {cells.iloc[index]!r} is not a number; "
                        "fix or remove that row")


def load_logs(root: Path) -> Logs:
    """Read the three logs under `root`; derive condition and base_model where a row lacks them."""
    root = Path(root)
    eval_path = root / csv_logs.EVAL_LOG
    if not eval_path.is_file():
        raise UserError(f"{eval_path} not found: test.py writes it (run the evaluations first)")
    evals = csv_logs.read_log(eval_path)
    if evals.empty:
        raise UserError(f"{eval_path} has no rows: test.py writes them (run the evaluations first)")
    logs = Logs(root, evals, pd.DataFrame(), pd.DataFrame(), {csv_logs.EVAL_LOG: len(evals)})
    for name, attr, use in ((csv_logs.BERTSCORE_LOG, "bertscore", "BERTScore accuracies not used"),
                            (csv_logs.TRAIN_LOG, "train", "seen/unseen tasks unknown")):
        path = root / name
        frame = csv_logs.read_log(path) if path.is_file() else pd.DataFrame()
        if name == csv_logs.BERTSCORE_LOG:
            _check_numeric(frame, path, BERTSCORE_METRIC)
        setattr(logs, attr, frame)
        logs.rows_read[name] = len(frame) if path.is_file() else None
        if not path.is_file():
            logs.notes.append(f"{path} not found: {use}")
    train_models = {_run_key(_text(r.get("run_name"))): _text(r.get("model_name"))
                    for r in logs.train.to_dict("records")}
    keep, derived, skipped = [], [], Counter()
    for row in evals.to_dict("records"):
        condition, base_model, reason = _derive(row, train_models)
        if reason:
            skipped[reason] += 1
            continue
        derived.append((condition, base_model))
        keep.append(row)
    logs.evals = pd.DataFrame(keep, columns=[c for c in evals.columns if c not in ("condition", "base_model")])
    logs.evals["condition"] = [c for c, _ in derived]
    logs.evals["base_model"] = [m for _, m in derived]
    for reason, count in sorted(skipped.items()):
        logs.notes.append(f"skipped {count} eval row(s): {reason}")
    return logs


# --- scores ----------------------------------------------------------------------------------

def _listing(values: Iterable[str], limit: int = 20) -> str:
    values = sorted(set(values))
    return ", ".join(values[:limit]) + (f" ... ({len(values)} in all)" if len(values) > limit else "")


def _job_id(value) -> str:
    text = _text(value)
    return text if text.startswith("job-") else f"job-{text}"


def _split(values: Optional[Sequence]) -> Optional[list[str]]:
    if values is None:
        return None
    if isinstance(values, (str, int)):
        values = [values]
    return [part for value in values for part in re.split(r"[\s,]+", str(value)) if part]


def _filter(rows: pd.DataFrame, job_ids, models, seeds) -> pd.DataFrame:
    """Apply the filters; a UserError naming the flag and what exists when one matches nothing."""
    filters = []  # (flag, wanted, mask, values in the logs, what they are)
    if job_ids is not None:
        wanted, jobs = {_job_id(j) for j in _split(job_ids)}, rows["job_id"].map(_job_id)
        filters.append(("--job_ids", wanted, jobs.isin(wanted), jobs, "job ids"))
    if models is not None:
        wanted = set(_split(models))
        mask = rows["base_model"].isin(wanted) | rows["base_model"].map(short_name).isin(wanted)
        filters.append(("--models", wanted, mask, rows["base_model"], "base models"))
    if seeds is not None:
        wanted, seed = {_text(s) for s in _split(seeds)}, rows["seed"].map(_text)
        filters.append(("--seeds", wanted, seed.isin(wanted), seed, "seeds"))
    keep = pd.Series(True, index=rows.index)
    for flag, wanted, mask, existing, what in filters:
        if not mask.any():
            raise UserError(f"no eval rows for {flag} {' '.join(sorted(wanted))}; {what} in the logs: "
                            f"{_listing(existing)}")
        keep &= mask
    if not keep.any():
        given = "; ".join(f"{flag} {' '.join(sorted(wanted))}" for flag, wanted, *_ in filters)
        raise UserError(f"no eval row matches {given} together; each matches rows on its own")
    return rows[keep]


def _score_of(row: dict, bertscores: dict[str, float]) -> tuple[str, Optional[float], str]:
    """(metric, value, skip reason) of one eval row."""
    task = _text(row.get("test_task"))
    try:
        spec = get_task(task)
    except UserError:
        return "", None, f"unknown task {task!r}"
    if spec.bertscore and _text(row.get("eval_name")) in bertscores:
        return BERTSCORE_METRIC, bertscores[_text(row["eval_name"])], ""
    if spec.metrics[0] == "edit_distance":
        metric, column, sign = EDIT_METRIC, "mean_edit", -1.0
    else:
        metric = column = primary_column(spec.metrics, len(spec.label_names))
        sign = 1.0
    try:
        value = float(row.get(column))
    except (TypeError, ValueError):
        value = math.nan
    if math.isnan(value):
        return metric, None, f"no {column} value"
    return metric, sign * value, ""


def _bertscore_map(frame: pd.DataFrame) -> dict[str, float]:
    """eval_name -> BERTScore accuracy; the last row of an eval wins."""
    if frame.empty or not {"input_file", "bertscore_accuracy"} <= set(frame.columns):
        return {}
    values = pd.to_numeric(frame["bertscore_accuracy"], errors="coerce")
    return {_text(name): float(v) for name, v in zip(frame["input_file"], values) if not pd.isna(v)}


def _setup_of(dataset: str) -> Optional[str]:
    """Mixture folder name -> its setup: suffix _setupN, else default; None if unknown."""
    if not dataset:
        return None
    match = re.search(r"_(setup\d+)$", dataset)
    setup = match.group(1) if match else "default"
    return setup if setup in MIXTURE_SETUPS else None


def _seen_sets(rows: pd.DataFrame, train: pd.DataFrame, notes: list[str]) -> dict[str, Optional[list[set]]]:
    """Base model -> the task sets of its tuned runs' mixtures (the evaluated runs, else all its runs)."""
    runs = {_run_key(_text(r.get("run_name"))): (_text(r.get("model_name")), _setup_of(_text(r.get("dataset"))))
            for r in train.to_dict("records")}
    out: dict[str, Optional[list[set]]] = {}
    for model in sorted(set(rows["base_model"])):
        tuned = rows[(rows["base_model"] == model) & rows["condition"].isin(TUNED_CONDITIONS)]
        names = {_run_key(_text(r)) for r in tuned["run_name"]} or {k for k, (m, _) in runs.items() if m == model}
        setups = {runs[n][1] for n in names if n in runs}
        out[model] = None
        if not runs:
            continue
        if not names:
            notes.append(f"{model}: no tuned run in train_logs.csv: seen/unseen unknown")
        elif not setups or None in setups:
            notes.append(f"{model}: the mixture of its tuned runs is unknown (run not in train_logs.csv, or "
                         "an unknown dataset name): seen/unseen unknown")
        else:
            out[model] = [set(mixture_tasks(s)) for s in sorted(setups)]
            if len(setups) > 1:
                notes.append(f"{model}: tuned runs trained on different mixture setups ({', '.join(sorted(setups))});"
                             " a task counts as seen/unseen only where they agree (filter with --job_ids)")
    return out


def _seen(task: str, sets: Optional[list[set]]) -> str:
    if sets is None:
        return "unknown"
    flags = {task in s for s in sets}
    return str(flags.pop()) if len(flags) == 1 else "unknown"


def answer_shares(root: Path, response_file) -> tuple[Optional[float], Optional[float]]:
    """(option share, stop share) of an eval, in %: the share of its items with options whose processed
    answer is exactly one of them, and the share of its responses that ended on an end-of-sequence
    token before the new-token limit; None when the file is gone, no item has options, or the file
    does not record where generation stopped (an older file)."""
    path = root / _text(response_file)
    if not _text(response_file) or not path.is_file():
        return None, None
    rows = read_responses(path)
    with_options = [r for r in rows if r["options"]]
    known = [r["stopped"] for r in rows if r["stopped"] is not None]
    return (100.0 * sum(r["answer"] in r["options"] for r in with_options) / len(with_options)
            if with_options else None, 100.0 * sum(known) / len(known) if known else None)


def _sort_key(column: pd.Series) -> pd.Series:
    return column.map(CONDITIONS.index) if column.name == "condition" else column


def _settings_text(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items() if v) or "no settings logged"


def _mixed_error(mixed: list[tuple[str, pd.DataFrame]], columns: list[str]) -> UserError:
    """The stop when cells would average evaluations of different settings: each cell's groups."""
    lines = []
    for name, cell in mixed[:10]:
        lines.append(f"  {name}:")
        varying = [c for c in columns if cell[c].nunique() > 1]
        for values, group in cell.groupby(varying, sort=True):
            settings = _settings_text(dict(zip(varying, values)))
            lines.append(f"    {settings}: {len(group)} eval(s), jobs {_listing(group['job_id'])}")
    more = f"\n  ... and {len(mixed) - 10} more cell(s)" if len(mixed) > 10 else ""
    varying = sorted({c for _, cell in mixed for c in columns if cell[c].nunique() > 1})
    return UserError(f"{len(mixed)} cell(s) would average evaluations with different settings:\n"
                     + "\n".join(lines) + more + "\nkeep one group with --job_ids (or --models/--seeds), or keep "
                     f"them apart with --group_by {' '.join(varying)}")


def scores_by_task(logs: Logs, job_ids=None, models=None, seeds=None, group_by=()) -> pd.DataFrame:
    """One score per (base model, condition, task): mean and sample std over seeds.

    Filters: job ids (with or without "job-"), base models (full id or its last path part),
    seeds. `group_by`: setting columns whose values become groups of their own (the base_model
    column then reads "<model> [<column>=<value>, ...]"). A cell whose evaluations differ in any
    other setting column is a UserError listing its groups. Notes about rows left out are in
    `.attrs["notes"]`, rows used in `.attrs["rows"]`.
    """
    unknown = [c for c in group_by if c not in SETTING_COLUMNS]
    if unknown:
        raise UserError(f"--group_by {' '.join(unknown)}: not a setting column; choose from "
                        f"{', '.join(SETTING_COLUMNS)}")
    notes: list[str] = []
    rows = _filter(logs.evals, job_ids, models, seeds)
    ablation = rows["ablation_setup"].map(_text) != "" if "ablation_setup" in rows else None
    if ablation is not None and ablation.any():
        notes.append(f"left out {int(ablation.sum())} Gold Pipeline ablation row(s) (ablation_setup set)")
        rows = rows[~ablation]
    names = rows["eval_name"].map(_text) if "eval_name" in rows else pd.Series("", index=rows.index)
    repeated = names.duplicated(keep="last") & (names != "")
    if repeated.any():
        notes.append(f"{int(repeated.sum())} row(s) superseded by a later row of the same eval_name (rescored)")
        rows = rows[~repeated]
    bertscores = _bertscore_map(logs.bertscore)
    records, skipped = [], Counter()
    for row in rows.to_dict("records"):
        metric, value, reason = _score_of(row, bertscores)
        if reason:
            skipped[reason] += 1
            continue
        try:
            unparsable = float(row.get("unparsable_rate"))
        except (TypeError, ValueError):
            unparsable = math.nan
        shares = answer_shares(logs.root, row.get("response_file"))
        records.append({"base_model": row["base_model"], "condition": row["condition"],
                        "task": _text(row["test_task"]), "seed": _text(row.get("seed")), "metric": metric,
                        "value": value, "job_id": _job_id(row.get("job_id")), "unparsable_rate": unparsable,
                        "option_share": shares[0], "stop_share": shares[1],
                        **{c: _text(row.get(c)) for c in SETTING_COLUMNS}})
    notes.extend(f"skipped {n} eval row(s): {reason}" for reason, n in sorted(skipped.items()))
    frame = pd.DataFrame(records, columns=["base_model", "condition", "task", "seed", "metric", "value", "job_id",
                                           "unparsable_rate", "option_share", "stop_share", *SETTING_COLUMNS])
    kept_apart = [c for c in SETTING_COLUMNS if c in group_by]
    checked = [c for c in SETTING_COLUMNS if c not in group_by]
    frame["group"] = [f"{m} [{_settings_text(dict(zip(kept_apart, values)))}]" if kept_apart else m
                      for m, *values in zip(frame["base_model"], *(frame[c] for c in kept_apart))]
    cells, mixed = [], []
    for (group, model, condition, task), cell in frame.groupby(["group", "base_model", "condition", "task"],
                                                               sort=False):
        if cell["metric"].nunique() > 1:  # some evals of the cell lack a BERTScore row: keep one metric
            notes.append(f"{group} / {condition} / {task}: {int((cell['metric'] != BERTSCORE_METRIC).sum())} "
                         "eval(s) without a BERTScore row left out")
            cell = cell[cell["metric"] == BERTSCORE_METRIC]
        if len(cell.groupby(checked)) > 1:
            mixed.append((f"{group} / {condition} / {task}", cell))
            continue
        per_seed = cell.groupby("seed")["value"].mean()
        rates = cell["unparsable_rate"].dropna()
        cells.append({"base_model": group, "model": model, "condition": condition, "task": task,
                      "cluster": group_of(task), "metric": cell["metric"].iloc[0], "score": float(per_seed.mean()),
                      "std": float(per_seed.std(ddof=1)) if len(per_seed) > 1 else None,
                      "n_seeds": len(per_seed), "n_evals": len(cell),
                      "unparsable_rate": float(rates.mean()) if len(rates) else None,
                      "all_unparsable": bool(len(rates) == len(cell) and (rates >= 100).all()),
                      "option_share": cell["option_share"].astype(float).mean(),
                      "stop_share": cell["stop_share"].astype(float).mean()})
    if mixed:
        raise _mixed_error(mixed, checked)
    seen = _seen_sets(rows, logs.train, notes)
    scores = pd.DataFrame(cells, columns=["model", *(c for c in SCORE_COLUMNS if c != "seen")])
    scores.insert(4, "seen", [_seen(t, seen.get(m)) for m, t in zip(scores.pop("model"), scores["task"])])
    scores = scores.sort_values(["base_model", "condition", "task"], key=_sort_key).reset_index(drop=True)
    scores.attrs.update(notes=notes, rows=int(scores["n_evals"].sum()))
    return scores


# --- correlations ----------------------------------------------------------------------------

def _coefficients(x: np.ndarray, y: np.ndarray, base: str, tuned: str) -> list[tuple]:
    """(statistic, r, p, reason) for each statistic; no coefficient for too few or constant scores."""
    reason = ""
    if len(x) < MIN_TASKS:
        reason = f"fewer than {MIN_TASKS} tasks (n={len(x)})"
    else:
        constant = [name for name, v in ((base, x), (tuned, y)) if np.all(v == v[0])]
        if constant:
            reason = f"constant scores in {' and '.join(constant)}"
    out = []
    for name, fn in STATISTICS.items():
        if reason:
            out.append((name, None, None, reason))
            continue
        result = fn(x, y)
        r, p = float(result[0]), float(result[1])
        if math.isnan(r) or math.isnan(p):
            out.append((name, None, None, f"{name} undefined for these scores"))
        else:
            out.append((name, r, p, ""))
    return out


def paired(scores: pd.DataFrame, base: str, tuned: str) -> pd.DataFrame:
    """Points with both conditions: base_model, task, cluster, seen, x (base score), y (tuned score).

    Sorted by base model and task: the order in which the coefficients are computed.
    """
    keys = ["base_model", "task"]
    left = scores[scores["condition"] == base][keys + ["cluster", "seen", "score"]].rename(columns={"score": "x"})
    right = scores[scores["condition"] == tuned][keys + ["score"]].rename(columns={"score": "y"})
    return left.merge(right, on=keys).sort_values(keys, kind="stable").reset_index(drop=True)


def _subsets(points: pd.DataFrame) -> list[tuple[str, pd.Series]]:
    subsets = [("all", pd.Series(True, index=points.index))]
    for flag, name in (("True", "seen"), ("False", "unseen")):
        subsets.append((name, points["seen"] == flag))
    return subsets + [(f"cluster:{c}", points["cluster"] == c) for c in sorted(set(points["cluster"]))]


def correlations(scores: pd.DataFrame) -> pd.DataFrame:
    """Spearman, Pearson and Kendall between each base and tuned condition, task by task.

    Groups: each base model, and "pooled" (all (model, task) points). Subsets: all tasks,
    seen, unseen and each cluster (seen/unseen and clusters only where the groups have such
    tasks). r and p are empty, with a reason, when there is no coefficient.
    """
    groups = sorted(set(scores["base_model"]))
    has_seen = set(scores["seen"]) & {"True", "False"}
    rows = []
    for base in BASE_CONDITIONS:
        for tuned in TUNED_CONDITIONS:
            points = paired(scores, base, tuned)
            for group in [*groups, "pooled"]:
                mine = points if group == "pooled" else points[points["base_model"] == group]
                for subset, mask in _subsets(mine):
                    if (subset in ("seen", "unseen") and not has_seen) or (
                            subset.startswith("cluster:") and not mask.any()):
                        continue
                    chosen = mine[mask]
                    x, y = chosen["x"].to_numpy(float), chosen["y"].to_numpy(float)
                    for statistic, r, p, reason in _coefficients(x, y, base, tuned):
                        rows.append({"group": group, "subset": subset, "base_condition": base,
                                     "tuned_condition": tuned, "statistic": statistic, "r": r, "p": p,
                                     "n": len(chosen), "reason": reason})
    return pd.DataFrame(rows, columns=list(CORRELATION_COLUMNS))


# --- plots -----------------------------------------------------------------------------------

def plot_title(group: str, base: str, tuned: str, r: Optional[float], p: Optional[float], n: int,
               reason: str = "") -> str:
    """ "<model>: <base> vs <tuned> — Spearman r=0.85, p=0.003, n=10", or the reason instead."""
    head = f"{short_name(group)}: {base} vs {tuned} — "
    if r is None or p is None:
        return head + (reason or f"no coefficient (n={n})")
    return head + f"Spearman r={r:.2f}, p={p:.2g}, n={n}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _scatter(points: pd.DataFrame, base: str, tuned: str, title: str, fit: bool, path: Path) -> None:
    from matplotlib.figure import Figure  # object API: no pyplot state, Agg canvas for PNG

    figure = Figure(figsize=(7, 5.5), dpi=100)
    axes = figure.add_subplot()
    models = sorted(set(points["base_model"]))
    for model in models:
        mine = points[points["base_model"] == model]
        axes.scatter(mine["x"], mine["y"], s=24, label=short_name(model))
        for x, y, task in zip(mine["x"], mine["y"], mine["task"]):
            label = task if len(models) == 1 else f"{task} ({short_name(model)})"
            axes.annotate(label, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=7)
    if fit:
        slope, intercept = np.polyfit(points["x"].to_numpy(float), points["y"].to_numpy(float), 1)
        xs = np.linspace(points["x"].min(), points["x"].max(), 2)
        axes.plot(xs, slope * xs + intercept, color="black", linewidth=1, label="least-squares fit")
    if len(models) > 1 or fit:
        axes.legend(fontsize=7)
    axes.set_xlabel(f"{base} {AXIS_UNIT}")
    axes.set_ylabel(f"{tuned} {AXIS_UNIT}")
    axes.set_title(title, fontsize=9)
    axes.grid(alpha=0.3)
    axes.margins(0.1)
    figure.tight_layout()
    figure.savefig(path, format="png")


def write_plots(scores: pd.DataFrame, table: pd.DataFrame, folder: Path) -> list[Path]:
    """One scatter per (group, base condition, tuned condition) with at least one point."""
    folder.mkdir(parents=True, exist_ok=True)
    jobs = []
    for base in BASE_CONDITIONS:
        for tuned in TUNED_CONDITIONS:
            points = paired(scores, base, tuned)
            for group in [*sorted(set(scores["base_model"])), "pooled"]:
                mine = points if group == "pooled" else points[points["base_model"] == group]
                if len(mine):
                    jobs.append((group, base, tuned, mine))
    written = []
    for group, base, tuned, points in tqdm(jobs, desc="plots", unit="plot", delay=1.0):
        row = _spearman_row(table, group, "all", base, tuned)
        title = plot_title(group, base, tuned, row["r"], row["p"], int(row["n"]), row["reason"])
        path = folder / f"{_slug(group)}__{base}__vs__{tuned}.png"
        _scatter(points, base, tuned, title, row["r"] is not None, path)
        written.append(path)
    return written


def _spearman_row(table: pd.DataFrame, group: str, subset: str, base: str, tuned: str) -> dict:
    hit = table[(table["group"] == group) & (table["subset"] == subset) & (table["base_condition"] == base)
                & (table["tuned_condition"] == tuned) & (table["statistic"] == "spearman")]
    row = hit.iloc[0].to_dict()
    return {k: (None if k in ("r", "p") and pd.isna(v) else v) for k, v in row.items()}


# --- report ----------------------------------------------------------------------------------

def _num(value, digits: int = 3) -> str:
    if value is None or pd.isna(value):
        return "–"
    return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"


def _markdown(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]


def _cell(score: dict) -> str:
    spread = "" if pd.isna(score["std"]) else f" ± {score['std']:.2f}"
    rate = score["unparsable_rate"]
    unparsable = "unparsable ?" if rate is None or pd.isna(rate) else f"unparsable {rate:.0f}%"  # logged in %
    mark = " **all unparsable**" if score["all_unparsable"] else ""
    return f"{score['score']:.2f}{spread} ({score['n_seeds']} seeds, {score['n_evals']} evals, {unparsable}){mark}"


def _condition_tables(scores: pd.DataFrame, header: Sequence[str], lead, cell, footer=None) -> list[str]:
    """One table per base model: a row per task (`lead(task, cells)`, then `cell(score)` per condition),
    and `footer(scores of the model, conditions)` as a last row when given."""
    lines = []
    for model, mine in scores.groupby("base_model", sort=True):
        conditions = [c for c in CONDITIONS if c in set(mine["condition"])]
        lines += ["", f"### {model}", ""]
        body = []
        for task, cells in mine.groupby("task", sort=True):
            by = {r["condition"]: r for r in cells.to_dict("records")}
            body.append(lead(task, cells) + [cell(by[c]) if c in by else "–" for c in conditions])
        if footer is not None:
            body.append(footer(mine, conditions))
        lines += _markdown([*header, *conditions], body)
    return lines


def _score_tables(scores: pd.DataFrame) -> list[str]:
    def lead(task, cells):
        return [task, cells["cluster"].iloc[0], cells["seen"].iloc[0], ", ".join(sorted(set(cells["metric"])))]

    return _condition_tables(scores, ["task", "cluster", "seen", "metric"], lead, _cell)


def _share(value) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.0f}%"


def _format_cell(score) -> str:
    return f"{_share(score['option_share'])} / {_share(score['unparsable_rate'])} / {_share(score['stop_share'])}"


def _format_tables(scores: pd.DataFrame) -> list[str]:
    """Per model: option share, unparsable rate and stop share per condition and task, and their means."""
    def means(mine, conditions):
        shares = ["option_share", "unparsable_rate", "stop_share"]
        return ["**mean**"] + [_format_cell(mine[mine["condition"] == c][shares]
                                            .astype(float).mean()) for c in conditions]

    return _condition_tables(scores, ["task"], lambda task, cells: [task], _format_cell, means)


def render_report(logs: Logs, scores: pd.DataFrame, table: pd.DataFrame, plots: Sequence[Path],
                  filters: dict) -> str:
    """report.md: inputs, score table, main correlations, notes, plot links."""
    lines = ["# Base vs instruction-tuned performance across tasks", "",
             "Question: does a base model's in-context performance (base_zero_shot, gold_pipeline, "
             "samplegen_pipeline) predict its instruction-tuned performance (flan_direct, samplegen_direct) "
             "across tasks? The paper reports Spearman r = 0.851 on its main setting.", "", "## Inputs", ""]
    for name, n in logs.rows_read.items():
        lines.append(f"- `{logs.root / name}`: " + (f"{n} rows" if n is not None else "not found"))
    given = {k: v for k, v in filters.items() if v is not None}
    lines.append("- filters: " + ("; ".join(f"--{k} {' '.join(map(str, v))}" for k, v in given.items())
                                  if given else "none"))
    lines.append(f"- eval rows used: {scores.attrs.get('rows', 0)}; scores: {len(scores)} "
                 f"(base model, condition, task) cells")
    lines += ["", "## Scores by task", "",
              "Mean ± sample standard deviation over seeds (number of seeds, number of evaluations, mean "
              "share of unparsable answers); every evaluation of a cell has the same settings (adapter, "
              "format, test items, new tokens, answer matching, data source). **all unparsable** marks a "
              "cell where no answer could be read (empty or unparsable): its task metric is the score of "
              "no answers, and a BERTScore accuracy there only says which option an unreadable answer "
              "happens to be closest to. The full table is [scores_by_task.csv](scores_by_task.csv)."]
    lines += _score_tables(scores)
    lines += ["", "## Answer format by condition", "",
              "Option share / unparsable rate / stop share: the share of items with options whose processed "
              "answer is exactly one of the item's options (– for tasks without options), the share the "
              "answer rules could not read, and the share of responses that ended on the model's "
              "end-of-sequence token before the new-token limit (– where the response files do not record "
              "it). A base model's first line still counts as parsed when it is no option, so only the "
              "option share shows whether a model answers in the task's format; a tuned model that never "
              "stops costs the whole new-token limit on every item."]
    lines += _format_tables(scores)
    main = table[table["subset"] == "all"]
    order = {g: i for i, g in enumerate([*sorted(set(scores["base_model"])), "pooled"])}
    main = main.sort_values("group", key=lambda g: g.map(order), kind="stable")
    lines += ["", "## Correlations across tasks (all tasks)", "",
              "Base condition vs tuned condition, one point per task (pooled: per model and task); "
              "every subset (seen, unseen, clusters) is in [correlations.csv](correlations.csv).", ""]
    body = []
    for (group, base, tuned), rows in main.groupby(["group", "base_condition", "tuned_condition"], sort=False):
        stat = {r["statistic"]: r for r in rows.to_dict("records")}
        cells = [f"{_num(stat[s]['r'])} (p={_num(stat[s]['p'])})" if not pd.isna(stat[s]["r"]) else "–"
                 for s in STATISTICS]
        body.append([group, base, tuned, *cells, int(rows["n"].iloc[0]), rows["reason"].iloc[0] or ""])
    lines += _markdown(["group", "base condition", "tuned condition", "Spearman r (p)", "Pearson r (p)",
                        "Kendall tau (p)", "n", "note"], body)
    lines += ["", "## Notes", ""]
    models = sorted({group.split(" [")[0] for group in scores["base_model"]})  # a --group_by group: "model [settings]"
    lines += [f"- {note}" for note in filter(None, map(stand_in_note, models))]
    metrics = scores.groupby("metric")["task"].agg(lambda t: ", ".join(sorted(set(t))))
    for metric, tasks in metrics.items():
        extra = (" (BERTScore accuracy, priority where the task allows it)" if metric == BERTSCORE_METRIC else
                 " (fix_punct: word edit distance negated, so higher is better)" if metric == EDIT_METRIC else "")
        lines.append(f"- metric `{metric}`{extra}: {tasks}")
    lines += [f"- {note}" for note in [*logs.notes, *scores.attrs.get("notes", [])]]
    lines += ["- p-values are scipy's (two-sided); no coefficient is computed for fewer than "
              f"{MIN_TASKS} tasks or constant scores.", "", "## Plots", ""]
    lines += [f"- [{p.stem}](plots/{p.name})" for p in plots] or ["- none (no task has both conditions)"]
    return "\n".join(lines) + "\n"


# --- driver ----------------------------------------------------------------------------------

def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "report.md").is_file())):
        raise UserError(f"--out {out} exists and is not an analysis folder written by correlate.py "
                        "(it would be replaced): choose another --out")


def write_analysis(root, out_dir=None, job_ids=None, models=None, seeds=None, group_by=()) -> dict:
    """Read the logs, write scores, correlations, report and plots to `out_dir` (default <root>/analysis).

    The folder is built aside and replaces the old one in one rename. Returns the written paths:
    {"out", "scores", "correlations", "report", "plots" (the folder), "plot_files" (a list)}.
    """
    root = Path(root)
    out = Path(out_dir) if out_dir is not None else root / "analysis"
    _check_out(out)
    logs = load_logs(root)
    scores = scores_by_task(logs, job_ids, models, seeds, group_by)
    if scores.empty:
        raise UserError(f"no scores: every selected eval row of {root / csv_logs.EVAL_LOG} was left out "
                        f"({'; '.join(scores.attrs['notes']) or 'no rows'})")
    table = correlations(scores)
    for note in [*logs.notes, *scores.attrs["notes"]]:
        print(f"note: {note}")
    with atomic_dir(out, overwrite=True) as tmp:
        scores.to_csv(tmp / "scores_by_task.csv", index=False)
        table.to_csv(tmp / "correlations.csv", index=False)
        plots = write_plots(scores, table, tmp / "plots")
        filters = {"job_ids": job_ids, "models": models, "seeds": seeds, "group_by": list(group_by) or None}
        (tmp / "report.md").write_text(render_report(logs, scores, table, plots, filters), encoding="utf-8")
    return {"out": out, "scores": out / "scores_by_task.csv", "correlations": out / "correlations.csv",
            "report": out / "report.md", "plots": out / "plots",
            "plot_files": [out / "plots" / p.name for p in plots]}
