"""Run the base-vs-instruct study: prompt, decode, extract, grade, log every sample, summarise.

Layout under --root:
    base_vs_instruct/<out_name>/samples.csv     one row per item x sample (the per-sample log)
    base_vs_instruct/<out_name>/report/          report.md and figures, rebuilt from samples.csv
    base_vs_instruct_logs.csv                    summary rows, one per group (csv_logs.replace_rows)
A rerun with the same settings skips the (item, sample) rows already in samples.csv, so an
interrupted run resumes item by item; a logged item whose prompt or gold answer changed is
refused. `rescore` re-extracts and re-grades samples.csv in place.
"""
from __future__ import annotations

import gc
import hashlib
import json
import os
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Optional

from inherent_limits.base_vs_instruct import extraction
from inherent_limits.base_vs_instruct.benchmarks import BENCHMARKS, get_bench
from inherent_limits.base_vs_instruct.decoding import DECODINGS, DecodeSettings, HFDecoder, Sample, confidence
from inherent_limits.base_vs_instruct.items import bench_source, fewshot_exemplars, load_items
from inherent_limits.base_vs_instruct.prompts import PROMPTINGS, check_chat_template, prompt_ids
from inherent_limits.base_vs_instruct.report import check_report_dir, group_metrics, write_report
from inherent_limits.base_vs_instruct.samples import (
    PROMPT_COLUMNS,
    PROMPTS,
    SAMPLE_COLUMNS,
    SAMPLE_KEY,
    SAMPLES,
    logged_prompts,
    read_samples,
    sample_key,
    write_samples,
)
from inherent_limits.core import csv_logs
from inherent_limits.core.checks import usable_log, writable_root
from inherent_limits.core.crash_points import crash_point
from inherent_limits.core.errors import UserError
from inherent_limits.core.run_info import RUN_INFO, git_hash
from inherent_limits.models.loading import has_tokenizer, load_model, load_tokenizer, resolve_model_name

SUMMARY_LOG = "base_vs_instruct_logs.csv"
DEFAULT_PASS_K = (1, 5, 10, 20)
VLLM_ITEMS_PER_CALL = 64  # vLLM: the prompts of this many items go to the engine together
HF_ITEMS_PER_CALL = 8     # HF: greedy and CoT prompts of this many items are decoded in one batch
SUMMARY_COLUMNS = ("job_id", "seed", "pair", "model", "model_kind", "dataset", "dataset_version", "data_source",
                   "items_available", "prompting", "n_shots", "decoding", "decoding_settings", "grader", "n_items",
                   "n")


@dataclass(frozen=True)
class ModelSide:
    """One side of the comparison: what is loaded and how it is prompted and decoded."""
    kind: str                      # "base" or "instruct"
    name: str                      # as logged (hub id, path, "tiny" or the run name)
    path: str                      # loadable weights (a LoRA run: its base model)
    adapter: Optional[Path]
    decoding: str
    chat: bool                     # prompts through the chat template


@dataclass
class StudyRequest:
    """Everything one run needs (the CLI fills it; tests build it directly)."""
    root: Path
    base: Optional[str] = None
    instruct: Optional[str] = None
    datasets: tuple[str, ...] = tuple(BENCHMARKS)
    promptings: tuple[str, ...] = PROMPTINGS
    n_shots: Optional[int] = None
    graders: tuple[str, ...] = ("standard", "math_verify")
    sides: tuple[str, ...] = ("base", "instruct")
    base_decoding: str = "cot"
    instruct_decoding: str = "sample"
    cot_k: int = 20
    num_samples: int = 20
    temperature: float = 0.05
    max_new_tokens: int = 8192
    pass_k: Optional[tuple[int, ...]] = None
    num_items: Optional[int] = None
    data_dir: Optional[str] = None
    backend: str = "hf"
    no_chat_template: bool = False
    extractor: Optional[str] = None
    out_name: Optional[str] = None
    seed: int = 42
    job: str = "local"
    dtype: Optional[str] = None
    gpu_memory_utilization: Optional[float] = None
    max_model_len: Optional[int] = None
    progress: bool = True


# ---- models ---------------------------------------------------------------------------------------

def saved_run(root: Path, name: Optional[str]) -> Optional[Path]:
    """The run folder when `name` is a finished run under saved_models/ (or a path to one)."""
    if not name or name == "tiny":
        return None
    for candidate in (Path(root) / "saved_models" / name, Path(name)):
        if (candidate / RUN_INFO).is_file() and (candidate / "adapter_config.json").is_file():
            return candidate
    return None


def _run_base(run: Path) -> str:
    try:
        base = json.loads((run / RUN_INFO).read_text(encoding="utf-8")).get("base_model")
    except (OSError, json.JSONDecodeError) as err:
        raise UserError(f"cannot read {run / RUN_INFO}: {err}") from None
    if not base:
        raise UserError(f"{run / RUN_INFO} records no base_model: pass --base explicitly")
    return str(base)


def resolve_sides(req: StudyRequest) -> dict[str, ModelSide]:
    """The base and instruct sides; a saved run as --instruct is its base model + its adapter."""
    if not req.instruct and "instruct" in req.sides:
        raise UserError("no instruct model: pass --instruct (a hub id, a local path, 'tiny' or a run "
                        "under saved_models/)")
    instruct_run = saved_run(req.root, req.instruct)
    base = req.base
    base_run = saved_run(req.root, base)
    if base_run is not None:
        base = _run_base(base_run)
    if instruct_run is not None:
        run_base = _run_base(instruct_run)
        if base is None:
            base = run_base
        elif base != run_base:
            raise UserError(f"--instruct {req.instruct} was tuned from {run_base!r}, not from --base "
                            f"{base!r}: pass --base {run_base} (or leave --base out)")
    if not base:
        runs = sorted(p.parent.name for p in (Path(req.root) / "saved_models").glob(f"*/{RUN_INFO}")
                      if saved_run(req.root, p.parent.name))
        known = (f"--instruct {req.instruct!r} is no saved run under {Path(req.root) / 'saved_models'} "
                 f"(saved runs: {', '.join(runs) or 'none'}), so it names no base model; " if req.instruct else "")
        raise UserError(f"{known}no base model: pass --base (a hub id, a local path, 'tiny' or a run under "
                        "saved_models/, whose base model is used)")
    for decoding in (req.base_decoding, req.instruct_decoding):
        if decoding not in DECODINGS:
            raise UserError(f"unknown decoding {decoding!r}: choose one of {', '.join(DECODINGS)}")
    sides = {"base": ModelSide("base", base, resolve_model_name(base), None, req.base_decoding, False)}
    if req.instruct:
        if instruct_run is not None:
            sides["instruct"] = ModelSide("instruct", instruct_run.name, resolve_model_name(run_base),
                                          instruct_run, req.instruct_decoding, not req.no_chat_template)
        else:
            sides["instruct"] = ModelSide("instruct", req.instruct, resolve_model_name(req.instruct), None,
                                          req.instruct_decoding, not req.no_chat_template)
    return sides


def side_tokenizer(side: ModelSide):
    """The side's tokenizer (a run's own, when it saved one)."""
    return load_tokenizer(side.adapter if has_tokenizer(side.adapter) else side.path, padding_side="left")


def settings_for(req: StudyRequest, decoding: str) -> DecodeSettings:
    return DecodeSettings(decoding, k=req.cot_k, n=req.num_samples, temperature=req.temperature,
                          max_new_tokens=req.max_new_tokens, seed=req.seed)


def settings_label(settings: DecodeSettings) -> str:
    """The decoding settings as logged (part of the resume key)."""
    head = {"cot": f"k={settings.k}", "sample": f"n={settings.n},t={settings.temperature:g}",
            "greedy": "greedy"}[settings.decoding]
    return f"{head},max={settings.max_new_tokens}"


def item_seed(seed: int, dataset: str, item_id: str, prompting: str) -> int:
    """A per-item seed, so a resumed run samples what an uninterrupted one would."""
    digest = hashlib.sha256(f"{seed}:{dataset}:{item_id}:{prompting}".encode()).hexdigest()
    return int(digest[:8], 16)


class Decoders:
    """Decoders per side, built on first use; vLLM sides sharing weights share one engine."""

    def __init__(self, req: StudyRequest, sides: dict[str, ModelSide]):
        self.req, self.sides, self.cache, self.engines = req, sides, {}, {}

    def get(self, side: ModelSide, tokenizer):
        if side.kind not in self.cache:
            if self.req.backend == "hf":  # one HF model in memory at a time
                self.cache.clear()
                gc.collect()
            self.cache[side.kind] = self._build(side, tokenizer)
        return self.cache[side.kind]

    def _build(self, side: ModelSide, tokenizer):
        if self.req.backend == "hf":
            return HFDecoder(load_model(side.path, adapter=side.adapter), tokenizer)
        from inherent_limits.base_vs_instruct.vllm_engine import vllm_decoder
        return vllm_decoder(self.req, side, self.sides, tokenizer, self.engines)


# ---- per-sample log ---------------------------------------------------------------------------------

def out_dir(req: StudyRequest, sides: dict[str, ModelSide]) -> Path:
    """base_vs_instruct/<out_name>, by default named after the pair."""
    name = req.out_name or "__vs__".join(re.sub(r"[^A-Za-z0-9._-]+", "_", s.name).strip("_")
                                         for s in sides.values())
    return Path(req.root) / "base_vs_instruct" / name


# ---- grading ---------------------------------------------------------------------------------------

class Grading:
    """Extraction (regex, or an extractor model) and every grader, applied to one response."""

    def __init__(self, graders: tuple[str, ...], extractor: Optional[str] = None):
        from inherent_limits.base_vs_instruct.graders import GRADERS

        unknown = [g for g in graders if g not in GRADERS]
        if unknown or not graders:
            raise UserError(f"unknown grader(s) {', '.join(unknown) or '(none given)'}: choose from "
                            f"{', '.join(GRADERS)}")
        self.graders = tuple(dict.fromkeys(graders))  # a grader named twice is applied and logged once
        self.extractor = _Extractor(extractor) if extractor else None

    def grade(self, bench, item, response: str) -> tuple[Optional[extraction.Extracted], dict]:
        """The regex extraction (its span gives CoT confidence) and the row cells of the answer and grades."""
        from inherent_limits.base_vs_instruct.graders import grade

        found = extraction.extract(bench.answer_kind, response)
        answer = found.answer if found else None
        if self.extractor is not None:
            cut = extraction.cut_at_stops(response, extraction.STOP_STRINGS[bench.answer_kind])
            answer = self.extractor.answer(item.question, cut)
        cells = {"extracted": answer or ""}
        for grader in self.graders:
            result = grade(grader, bench, item, response, answer)
            cells[f"correct_{grader}"] = bool(result.correct)
            cells[f"timeout_{grader}"] = bool(result.timed_out)
            cells[f"note_{grader}"] = result.note or ""
        return found, cells


class _Extractor:
    """A small model that writes the final answer of a response (greedy, its chat template if any)."""

    MAX_NEW_TOKENS = 48

    def __init__(self, name: str):
        path = resolve_model_name(name)
        self.tokenizer = load_tokenizer(path)
        self.decoder = HFDecoder(load_model(path), self.tokenizer)
        self.settings = DecodeSettings("greedy", max_new_tokens=self.MAX_NEW_TOKENS)

    def answer(self, question: str, response: str) -> Optional[str]:
        text = extraction.extractor_prompt(question, response)
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                                      add_generation_prompt=True)
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        else:
            ids = self.tokenizer(text)["input_ids"]
        (sample,) = self.decoder.decode(list(ids), self.settings)
        return extraction.parse_extractor_output(sample.text)


# ---- the run ---------------------------------------------------------------------------------------

def check_pass_k(req: StudyRequest, sides: dict[str, ModelSide]) -> dict[str, tuple[int, ...]]:
    """The k of pass@k per side: --pass_k as given (each k <= n), else {1, 5, 10, 20} up to n."""
    out = {}
    for kind in req.sides:
        n = settings_for(req, sides[kind].decoding).samples
        if req.pass_k:
            too_big = [k for k in req.pass_k if k > n or k < 1]
            if too_big:
                raise UserError(f"--pass_k {', '.join(map(str, too_big))}: k must be between 1 and n, and the "
                                f"{kind} side has n = {n} samples per item ({sides[kind].decoding}); lower k "
                                "or raise --cot_k / --num_samples")
            out[kind] = tuple(sorted(set(req.pass_k)))
        else:
            out[kind] = tuple(k for k in DEFAULT_PASS_K if k <= n)
    return out


@lru_cache(maxsize=256)
def _exemplars(dataset: str, n: int, seed: int, data_dir: Optional[str], calculator_id: Optional[int]):
    return tuple(fewshot_exemplars(dataset, n, seed, data_dir=data_dir, calculator_id=calculator_id))


def shots_for(req: StudyRequest, dataset: str, prompting: str) -> int:
    if prompting not in PROMPTINGS:
        raise UserError(f"unknown prompting {prompting!r}: choose from {', '.join(PROMPTINGS)}")
    if prompting == "zero_shot":
        return 0
    return get_bench(dataset).default_shots if req.n_shots is None else req.n_shots


AVAILABLE: dict[tuple, int] = {}   # (dataset, data_dir) -> test items in the source, for the summary log


def load_all_items(req: StudyRequest) -> dict[str, list]:
    """Every dataset's (first --num_items) test items, checked before anything is generated."""
    if req.num_items is not None and req.num_items < 1:
        raise UserError(f"--num_items must be at least 1, got {req.num_items}")
    items = {}
    for dataset in req.datasets:
        get_bench(dataset)
        every = load_items(dataset, data_dir=req.data_dir)
        AVAILABLE[(dataset, req.data_dir)] = len(every)
        items[dataset] = every[:req.num_items]
        for prompting in req.promptings:
            shots = shots_for(req, dataset, prompting)
            if shots:
                calc = items[dataset][0].meta.get("calculator_id")
                _exemplars(dataset, shots, req.seed, req.data_dir, calc)
    return items


def input_sha(ids: list[int], item) -> str:
    """The fingerprint of what a sample is generated from and graded against: prompt ids and gold answer."""
    return hashlib.sha256(json.dumps([list(ids), item.gold]).encode()).hexdigest()[:16]


def plan(req: StudyRequest, sides: dict[str, ModelSide], items: dict, tokenizers: dict, pair: str) -> list:
    """(side, dataset, prompting, item, first cells of its rows, prompt ids) of every item to run, in order."""
    out = []
    for kind in req.sides:
        side = sides[kind]
        label = settings_label(settings_for(req, side.decoding))
        for dataset in req.datasets:
            bench = get_bench(dataset)
            for prompting in req.promptings:
                shots = shots_for(req, dataset, prompting)
                for item in items[dataset]:
                    exemplars = _exemplars(dataset, shots, req.seed, req.data_dir,
                                           item.meta.get("calculator_id")) if shots else ()
                    ids = prompt_ids(tokenizers[kind], bench, item, exemplars, side.chat)
                    base_row = {"job_id": f"job-{req.job}", "pair": pair, "dataset": dataset,
                                "item_id": item.item_id, "model": side.name, "model_kind": kind,
                                "decoding": side.decoding, "decoding_settings": label, "prompting": prompting,
                                "n_shots": shots, "seed": req.seed, "input_sha": input_sha(ids, item),
                                "gold": item.gold, "prompt_sha256": prompt_sha(tokenizers[kind], ids)}
                    out.append((side, dataset, prompting, item, base_row, ids))
    return out


def prompt_sha(tokenizer, ids: list[int]) -> str:
    """The sha256 of the prompt's text as the model sees it (prompts.csv holds the text)."""
    return hashlib.sha256(tokenizer.decode(ids).encode("utf-8")).hexdigest()


def log_prompt(prompts_path: Path, logged: set, base_row: dict, tokenizer, ids: list[int]) -> None:
    """Append the prompt to prompts.csv once per prompt_sha256."""
    if base_row["prompt_sha256"] not in logged:
        csv_logs.append_row(prompts_path, {**{k: base_row[k] for k in PROMPT_COLUMNS[:-1]},
                                           "prompt": tokenizer.decode(ids)}, leading=PROMPT_COLUMNS)
        logged.add(base_row["prompt_sha256"])


def check_same_inputs(samples_path: Path, rows: list[dict], planned: list) -> None:
    """Refuse to add to a log whose samples of these items came from another prompt or gold answer."""
    def where(row):
        return tuple(str(row.get(name, "")) for name in SAMPLE_KEY if name not in ("input_sha", "sample_index"))

    logged = {where(row): row.get("input_sha", "") for row in rows}
    for _, dataset, prompting, item, base_row, _ in planned:
        old = logged.get(where(base_row))
        if old is not None and old != base_row["input_sha"]:
            made = ("made from another prompt or gold answer (other --data_dir, exemplars or tokenizer)" if old
                    else "without an input fingerprint (an older log)")
            raise UserError(f"{samples_path} holds {base_row['model_kind']} samples of {dataset} item "
                            f"{item.item_id} ({prompting}) {made}: pass --out_name for this data, or move the "
                            "log away")


def run_study(req: StudyRequest) -> dict:
    """Generate (resuming), grade and log every sample; write the summary rows; rebuild the report."""

    writable_root(req.root)
    usable_log(Path(req.root) / SUMMARY_LOG)
    sides = resolve_sides(req)
    unknown = [s for s in req.sides if s not in ("base", "instruct")]
    if unknown or not req.sides:
        raise UserError(f"unknown side(s) {unknown}: choose base and/or instruct")
    if req.backend == "vllm":
        from inherent_limits.evaluation.generation import import_vllm
        import_vllm()  # a UserError saying how to install it, before any folder is made
    ks = check_pass_k(req, sides)
    grading = Grading(tuple(req.graders), req.extractor)
    items = load_all_items(req)
    tokenizers = {kind: side_tokenizer(sides[kind]) for kind in req.sides}
    for kind in req.sides:
        if sides[kind].chat:
            check_chat_template(tokenizers[kind], sides[kind].name)
    pair = " vs ".join(s.name for s in sides.values())
    planned = plan(req, sides, items, tokenizers, pair)
    folder = out_dir(req, sides)
    samples_path = folder / SAMPLES
    rows = read_samples(samples_path, repair=True)
    check_same_inputs(samples_path, rows, planned)
    check_report_dir(folder / "report", sorted({row["pair"] for row in rows} | {pair}))
    done = {sample_key(row) for row in rows}
    folder.mkdir(parents=True, exist_ok=True)
    prompts_path = folder / PROMPTS
    prompts_done = logged_prompts(prompts_path)
    decoders = Decoders(req, sides)
    written = 0
    chunk = VLLM_ITEMS_PER_CALL if req.backend == "vllm" else HF_ITEMS_PER_CALL
    pending = []  # (item, first cells of its rows, missing sample indices, prompt ids, settings)
    for index, (side, dataset, prompting, item, base_row, ids) in enumerate(
            _progress(planned, "generating", req.progress)):
        settings = settings_for(req, side.decoding)
        missing = {i for i in range(settings.samples) if sample_key({**base_row, "sample_index": i}) not in done}
        if missing:
            decoder = decoders.get(side, tokenizers[side.kind])
            room = decoder.context - len(ids)
            if room < 1:
                raise UserError(f"{dataset} item {item.item_id}: the {prompting} prompt has {len(ids)} "
                                f"tokens, the model's context {decoder.context}; use fewer --n_shots")
            seeded = replace(settings, seed=item_seed(req.seed, dataset, item.item_id, prompting),
                             max_new_tokens=min(settings.max_new_tokens, room))
            log_prompt(prompts_path, prompts_done, base_row, tokenizers[side.kind], ids)
            pending.append((item, base_row, missing, ids, seeded))
        following = planned[index + 1][:3] if index + 1 < len(planned) else None
        if pending and (len(pending) >= chunk or following != (side, dataset, prompting)):
            written += _decode_and_log(decoders.get(side, tokenizers[side.kind]), pending, get_bench(dataset),
                                       tokenizers[side.kind], grading, req, samples_path)
            pending = []
    crash_point("bvi_before_summary")
    summary = write_summary(req, this_run(req, read_samples(samples_path), planned), sides, ks, grading.graders)
    report = write_report(samples_path, folder / "report")
    return {"samples": samples_path, "written": written, "summary_rows": summary, **report}


def _decode_and_log(decoder, pending: list, bench, tokenizer, grading: Grading, req: StudyRequest,
                    samples_path: Path) -> int:
    """Decode the pending items' prompts together, then grade and append their missing samples, item by item."""
    outputs = decoder.decode_many([p[3] for p in pending], [p[4] for p in pending])
    count = 0
    for (item, base_row, missing, _, _), samples in zip(pending, outputs):
        for sample in samples:
            if sample.index in missing:
                row = sample_row(base_row, sample, bench, item, tokenizer, grading, req)
                csv_logs.append_row(samples_path, row, leading=SAMPLE_COLUMNS)
                count += 1
    return count


def sample_row(base_row: dict, sample: Sample, bench, item, tokenizer, grading: Grading,
               req: StudyRequest) -> dict:
    found, cells = grading.grade(bench, item, sample.text)
    conf = None
    if sample.margins is not None and found is not None and found.end > found.start:
        conf = confidence(tokenizer, sample, found.start, found.end)
    first_text = "" if sample.first_token is None else tokenizer.decode([sample.first_token])
    return {**base_row, "sample_index": sample.index, "backend": req.backend, "first_token": sample.first_token,
            "first_token_text": first_text, "response": sample.text, **cells, "confidence": conf}


def _progress(items, desc: str, enabled: bool):
    from tqdm import tqdm
    return tqdm(items, desc=desc, unit="item", disable=not enabled)


# ---- summary log and rescoring ------------------------------------------------------------------------

def versions() -> dict:
    """Library versions for the provenance columns."""
    from importlib import metadata
    out = {}
    for package in ("torch", "transformers", "peft", "vllm", "math-verify"):
        try:
            out[f"{package.replace('-', '_')}_version"] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[f"{package.replace('-', '_')}_version"] = None
    return out


def _run_key(row: dict) -> tuple:
    return tuple(str(row.get(name, "")) for name in SAMPLE_KEY if name != "sample_index")


def this_run(req: StudyRequest, rows: list[dict], planned: list) -> list[dict]:
    """The rows of this run's planned items (sides, decoding settings, promptings, seed, inputs)."""
    wanted = {_run_key(base_row) for *_, base_row, _ in planned}
    return [r for r in rows if _run_key(r) in wanted]


SUMMARY_KEY = ("samples_file", "pair", "model", "model_kind", "dataset", "prompting", "n_shots", "decoding",
               "decoding_settings", "grader", "seed")


def write_summary(req: StudyRequest, rows: list[dict], sides: dict[str, ModelSide], ks: dict,
                  graders: tuple[str, ...], rescored: bool = False) -> int:
    """One summary row per model, dataset, prompting, decoding and grader in `rows`, replacing the
    rows of the same groups of this per-sample log (one rewrite of the log: a kill leaves old or new)."""

    provenance = {"backend": req.backend, "extractor": req.extractor, "rescored": rescored, "git_hash": git_hash(),
                  **versions(), "samples_file": str((out_dir(req, sides) / SAMPLES).relative_to(req.root))}
    summary = []
    for metrics in group_metrics(rows, graders, ks_by_kind=ks):
        source = bench_source(metrics["dataset"], data_dir=req.data_dir)
        version = get_bench(metrics["dataset"]).version
        summary.append({"job_id": f"job-{req.job}", "seed": req.seed,
                        "dataset_version": version if source.startswith("hub:")
                        else f"{source} (not the release: {version})",
                        "data_source": source, "items_available": AVAILABLE.get((metrics["dataset"], req.data_dir)),
                        **metrics, **provenance})
    csv_logs.replace_rows(Path(req.root) / SUMMARY_LOG, summary, key=SUMMARY_KEY, leading=SUMMARY_COLUMNS)
    return len(summary)


def rescore(req: StudyRequest) -> dict:
    """Re-extract and re-grade every row of the per-sample log with --graders; no generation."""

    writable_root(req.root)
    usable_log(Path(req.root) / SUMMARY_LOG)
    sides = resolve_sides(req)
    grading = Grading(tuple(req.graders), req.extractor)
    path = out_dir(req, sides) / SAMPLES
    rows = read_samples(path)
    if not rows:
        raise UserError(f"nothing to rescore: {path} has no samples; run the study first")
    missing = [c for c in SAMPLE_COLUMNS if c not in rows[0]]
    if missing:
        raise UserError(f"{path} is not a per-sample log of this study (no column(s) {', '.join(missing)})")
    check_report_dir(path.parent / "report", sorted({row["pair"] for row in rows}))
    by_dataset = {}
    for dataset in sorted({row["dataset"] for row in rows}):
        by_dataset[dataset] = {item.item_id: item for item in load_items(dataset, data_dir=req.data_dir)}
    new_rows = []
    for row in _progress(rows, "rescoring", req.progress):
        item = by_dataset[row["dataset"]].get(row["item_id"])
        if item is None:
            raise UserError(f"{path}: item {row['item_id']!r} of {row['dataset']} is not in the dataset "
                            "given by --data_dir; pass the data the run used")
        kept = {k: v for k, v in row.items() if not k.startswith(("correct_", "timeout_", "note_"))}
        _, cells = grading.grade(get_bench(row["dataset"]), item, row["response"])
        new_rows.append({**kept, **cells})
    ks = rescore_pass_k(req, new_rows)
    write_samples(path, new_rows)
    summary = write_summary(req, new_rows, sides, ks, grading.graders, rescored=True)
    report = write_report(path, path.parent / "report")
    return {"samples": path, "rescored": len(new_rows), "summary_rows": summary, **report}


def rescore_pass_k(req: StudyRequest, rows: list[dict]) -> dict[str, tuple[int, ...]]:
    """The k of pass@k per side for a logged run: --pass_k (each <= the side's n), else {1, 5, 10, 20}."""
    ns: dict[str, int] = {}
    for row in rows:
        ns[row["model_kind"]] = max(ns.get(row["model_kind"], 0), int(row["sample_index"]) + 1)
    too_big = {kind: n for kind, n in ns.items() if req.pass_k and max(req.pass_k) > n}
    if too_big:
        raise UserError(f"--pass_k {max(req.pass_k)}: k must be between 1 and n, and the log has n = "
                        + ", ".join(f"{n} for the {kind} side" for kind, n in too_big.items()))
    return {kind: tuple(req.pass_k) if req.pass_k else DEFAULT_PASS_K for kind in ns}
