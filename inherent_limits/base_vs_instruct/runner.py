"""Run the base-vs-instruct study: prompt, decode, extract, grade, log every sample, summarise.

Layout under --root:
    base_vs_instruct/<out_name>/samples.csv     one row per item x sample (the per-sample log)
    base_vs_instruct/<out_name>/report/          report.md and figures, rebuilt from samples.csv
    base_vs_instruct_logs.csv                    summary rows (csv_logs.append_row, its lock)
A rerun with the same settings skips the (item, sample) rows already in samples.csv, so an
interrupted run resumes item by item; `rescore` re-extracts and re-grades samples.csv in place.
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
from inherent_limits.base_vs_instruct.items import fewshot_exemplars, load_items
from inherent_limits.base_vs_instruct.prompts import PROMPTINGS, check_chat_template, prompt_ids
from inherent_limits.base_vs_instruct.report import group_metrics, write_report
from inherent_limits.base_vs_instruct.samples import SAMPLE_COLUMNS, SAMPLES, read_samples, sample_key, write_samples
from inherent_limits.core import csv_logs
from inherent_limits.core.errors import UserError
from inherent_limits.core.run_info import RUN_INFO, git_hash
from inherent_limits.models.loading import has_tokenizer, load_model, load_tokenizer, resolve_model_name

SUMMARY_LOG = "base_vs_instruct_logs.csv"
DEFAULT_PASS_K = (1, 5, 10, 20)
VLLM_ITEMS_PER_CALL = 64  # vLLM: the prompts of this many items go to the engine together
HF_ITEMS_PER_CALL = 8     # HF: greedy and CoT prompts of this many items are decoded in one batch
SUMMARY_COLUMNS = ("job_id", "seed", "pair", "model", "model_kind", "dataset", "dataset_version", "prompting",
                   "n_shots", "decoding", "decoding_settings", "grader", "n_items", "n")


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
        raise UserError("no base model: pass --base (a hub id, a local path, 'tiny' or a run under "
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
        self.graders = graders
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


def load_all_items(req: StudyRequest) -> dict[str, list]:
    """Every dataset's (first --num_items) test items, checked before anything is generated."""
    if req.num_items is not None and req.num_items < 1:
        raise UserError(f"--num_items must be at least 1, got {req.num_items}")
    items = {}
    for dataset in req.datasets:
        get_bench(dataset)
        items[dataset] = load_items(dataset, data_dir=req.data_dir)[:req.num_items]
        for prompting in req.promptings:
            shots = shots_for(req, dataset, prompting)
            if shots:
                calc = items[dataset][0].meta.get("calculator_id")
                _exemplars(dataset, shots, req.seed, req.data_dir, calc)
    return items


def run_study(req: StudyRequest) -> dict:
    """Generate (resuming), grade and log every sample; append summary rows; rebuild the report."""

    sides = resolve_sides(req)
    unknown = [s for s in req.sides if s not in ("base", "instruct")]
    if unknown or not req.sides:
        raise UserError(f"unknown side(s) {unknown}: choose base and/or instruct")
    ks = check_pass_k(req, sides)
    grading = Grading(tuple(req.graders), req.extractor)
    items = load_all_items(req)
    tokenizers = {kind: side_tokenizer(sides[kind]) for kind in req.sides}
    for kind in req.sides:
        if sides[kind].chat:
            check_chat_template(tokenizers[kind], sides[kind].name)
    folder = out_dir(req, sides)
    folder.mkdir(parents=True, exist_ok=True)
    samples_path = folder / SAMPLES
    done = {sample_key(row) for row in read_samples(samples_path)}
    pair = " vs ".join(s.name for s in sides.values())
    decoders = Decoders(req, sides)
    written = 0
    chunk = VLLM_ITEMS_PER_CALL if req.backend == "vllm" else HF_ITEMS_PER_CALL
    for kind in req.sides:
        side = sides[kind]
        settings = settings_for(req, side.decoding)
        label = settings_label(settings)
        for dataset in req.datasets:
            bench = get_bench(dataset)
            for prompting in req.promptings:
                shots = shots_for(req, dataset, prompting)
                pending = []  # (item, first cells of its rows, missing sample indices, prompt ids, settings)
                for item in _progress(items[dataset], f"{kind} {dataset} {prompting}", req.progress):
                    base_row = {"job_id": f"job-{req.job}", "pair": pair, "dataset": dataset,
                                "item_id": item.item_id, "model": side.name, "model_kind": kind,
                                "decoding": side.decoding, "decoding_settings": label, "prompting": prompting,
                                "n_shots": shots, "seed": req.seed}
                    missing = {i for i in range(settings.samples)
                               if sample_key({**base_row, "sample_index": i}) not in done}
                    if not missing:
                        continue
                    exemplars = _exemplars(dataset, shots, req.seed, req.data_dir,
                                           item.meta.get("calculator_id")) if shots else ()
                    ids = prompt_ids(tokenizers[kind], bench, item, exemplars, side.chat)
                    decoder = decoders.get(side, tokenizers[kind])
                    room = decoder.context - len(ids)
                    if room < 1:
                        raise UserError(f"{dataset} item {item.item_id}: the {prompting} prompt has {len(ids)} "
                                        f"tokens, the model's context {decoder.context}; use fewer --n_shots")
                    seeded = replace(settings, seed=item_seed(req.seed, dataset, item.item_id, prompting),
                                     max_new_tokens=min(settings.max_new_tokens, room))
                    pending.append((item, base_row, missing, ids, seeded))
                    if len(pending) >= chunk:
                        written += _decode_and_log(decoder, pending, bench, tokenizers[kind], grading, req,
                                                   samples_path)
                        pending = []
                if pending:
                    written += _decode_and_log(decoders.get(side, tokenizers[kind]), pending, bench,
                                               tokenizers[kind], grading, req, samples_path)
    summary = append_summary(req, this_run(req, read_samples(samples_path), sides, items), sides, ks)
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
    return {**base_row, "sample_index": sample.index, "backend": req.backend, "first_token": sample.first_token,
            "response": sample.text, **cells, "confidence": conf}


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


def this_run(req: StudyRequest, rows: list[dict], sides: dict[str, ModelSide], items: dict) -> list[dict]:
    """The rows of this run's sides, decoding settings, items, promptings and seed."""
    wanted = {(kind, sides[kind].name, sides[kind].decoding, settings_label(settings_for(req, sides[kind].decoding)), d)
              for kind in req.sides for d in items}
    ids = {d: {item.item_id for item in items[d]} for d in items}
    fields = ("model_kind", "model", "decoding", "decoding_settings", "dataset")
    return [r for r in rows if tuple(r[f] for f in fields) in wanted and r["item_id"] in ids[r["dataset"]]
            and r["prompting"] in req.promptings and r["seed"] == str(req.seed)]


def append_summary(req: StudyRequest, rows: list[dict], sides: dict[str, ModelSide], ks: dict,
                   rescored: bool = False) -> int:
    """One summary row per model, dataset, prompting, decoding and grader in `rows`."""

    provenance = {"backend": req.backend, "extractor": req.extractor, "rescored": rescored, "git_hash": git_hash(),
                  **versions(), "samples_file": str(out_dir(req, sides) / SAMPLES)}
    count = 0
    for metrics in group_metrics(rows, tuple(req.graders), ks_by_kind=ks):
        row = {"job_id": f"job-{req.job}", "seed": req.seed,
               "dataset_version": get_bench(metrics["dataset"]).version, **metrics, **provenance}
        csv_logs.append_row(Path(req.root) / SUMMARY_LOG, row, leading=SUMMARY_COLUMNS)
        count += 1
    return count


def rescore(req: StudyRequest) -> dict:
    """Re-extract and re-grade every row of the per-sample log with --graders; no generation."""

    sides = resolve_sides(req)
    grading = Grading(tuple(req.graders), req.extractor)
    path = out_dir(req, sides) / SAMPLES
    rows = read_samples(path)
    if not rows:
        raise UserError(f"nothing to rescore: {path} has no samples; run the study first")
    missing = [c for c in SAMPLE_COLUMNS if c not in rows[0]]
    if missing:
        raise UserError(f"{path} is not a per-sample log of this study (no column(s) {', '.join(missing)})")
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
    summary = append_summary(req, new_rows, sides, ks, rescored=True)
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
