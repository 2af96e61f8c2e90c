"""Stage 4: evaluate a base or tuned model in one condition on one task, score and log it.

`run_evaluation` loads the condition's test items, generates (resuming from a previous
interrupted run with the same settings), reads the answers, computes the task metrics,
writes the per-sample response file, appends an eval_logs.csv row and, for the tasks the
reference scores that way, a bertscore_evals.csv row. `rescore` recomputes the answers and
metrics of an existing response file without generating.

Crash safety: the logs are checked for damage before generating. The progress file
(.partial-<key>.jsonl) and, once generation is done, the eval name chosen for it
(.partial-<key>.finish.json) stay until the eval row and the BERTScore row are written, so a
rerun after a kill anywhere does only what is missing (each row is appended once, found by
its eval name) and the eval keeps one name, one response file and one row of each log.

Response files (the reference's layout):
    saved_models/<run>/evals/<eval_name>.csv                         tuned models
    saved_models/base_model_evals/<eval_name>.csv                    base zero-shot, Gold Pipeline
    saved_models/<samplegen_model>/samplegen_pipeline_evals/<eval_name>.csv   pipelines of a model
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Callable, Optional

from inherent_limits.core import csv_logs
from inherent_limits.core.conditions import BASE_CONDITIONS
from inherent_limits.core.crash_points import crash_point
from inherent_limits.core.errors import UserError
from inherent_limits.core.run_info import RUN_INFO, git_hash
from inherent_limits.data.loading import data_source
from inherent_limits.data.registry import LETTER_FORMATS, TaskSpec, get_task
from inherent_limits.evaluation.answers import MATCHING_MODES, extract_answer
from inherent_limits.evaluation.response_files import Progress, read_responses, response_row, write_responses
from inherent_limits.evaluation.test_sets import (
    TestItem,
    check_test_set,
    test_set_source,
    bigbench_items,
    direct_items,
    gold_pipeline_items,
    samplegen_pipeline_items,
)


@dataclass
class EvalRequest:
    root: Path
    task: str
    condition: str
    job: str
    run_name: str = "base"
    model: Optional[str] = None              # base model; default: the run's (or SampleGen model's) base
    test_prompt_format: Optional[str] = None
    bb_format: str = "closed"
    num_test: Optional[int] = None
    seed: int = 42
    batch_size: int = 8
    backend: str = "hf"
    max_new_tokens: Optional[int] = None
    unified: bool = False
    num_inner: int = 2
    gp_num_data: Optional[int] = None
    ablation_setup: Optional[str] = None
    num_samples_ablation: int = 2
    samplegen_model: Optional[str] = None
    samplegen_eval_file: Optional[str] = None
    data_dir: Optional[str] = None
    manual_dir: Optional[str] = None
    prompt_templates: Optional[str] = None
    bertscore: bool = True
    bertscore_model: str = "roberta-large"
    bertscore_empty_answers: str = "reference"  # bertscore_accuracy.EMPTY_ANSWER_MODES
    num_layers: Optional[int] = None
    load_in_4bit: bool = False
    tensor_parallel_size: int = 1
    dtype: Optional[str] = None                     # both backends; default bfloat16 on CUDA, float32 on CPU
    max_model_len: Optional[int] = None             # vLLM engine knobs (generation.VLLMSettings)
    gpu_memory_utilization: Optional[float] = None
    enforce_eager: bool = True
    max_num_seqs: Optional[int] = None
    max_lora_rank: Optional[int] = None
    extra: dict = field(default_factory=dict)
    answer_matching: str = "reference"       # answers.MATCHING_MODES


# --- runs and files --------------------------------------------------------

def run_dir(root: Path, run_name: str) -> Path:
    """saved_models/<run_name>, or a UserError listing the saved runs."""
    path = root / "saved_models" / run_name
    if not (path / "adapter_config.json").is_file():
        saved = sorted(p.name for p in (root / "saved_models").glob("*") if (p / "adapter_config.json").is_file())
        listing = ", ".join(saved) if saved else "none (train one with train.py)"
        raise UserError(f"unknown run {run_name!r}: no adapter in {path}. Saved runs: {listing}")
    return path


def run_info(path: Path) -> dict:
    info = path / RUN_INFO
    try:
        data = json.loads(info.read_text(encoding="utf-8")) if info.is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise UserError(f"{info} is empty or corrupt; train.py writes it last: retrain the run, "
                        "or pass --model to name its base model")
    return data


def base_model_of(req: EvalRequest) -> str:
    """The base model: --model, else the tuned run's, else the SampleGen model's."""
    if req.model:
        return req.model
    for name in (req.run_name if req.run_name != "base" else None, req.samplegen_model):
        if name:
            base = run_info(run_dir(req.root, name)).get("base_model")
            if base:
                return base
    raise UserError("which base model? pass --model (hub id, local path or 'tiny') or "
                    "--model_path_idx/--model_size_idx")


def response_folder(req: EvalRequest) -> Path:
    models = req.root / "saved_models"
    if req.condition not in BASE_CONDITIONS:
        return models / req.run_name / "evals"
    if req.condition == "base_zero_shot" or not req.samplegen_model:
        return models / "base_model_evals"
    return models / req.samplegen_model / "samplegen_pipeline_evals"


def samplegen_response_file(req: EvalRequest) -> tuple[Path, str]:
    """The SampleGen model's direct-eval responses: --samplegen_eval_file, else by job id in eval_logs.csv."""
    if not req.samplegen_model:
        raise UserError("--sample_source model needs --samplegen_model <run name of the SampleGen model>")
    evals = req.root / "saved_models" / req.samplegen_model / "evals"
    if req.samplegen_eval_file:
        given = Path(req.samplegen_eval_file)
        path = given if given.is_file() else evals / f"{req.samplegen_eval_file}.csv"
        return path, path.stem
    log = req.root / csv_logs.EVAL_LOG
    rows = csv_logs.read_log(log).astype(object).fillna("").to_dict("records") if log.is_file() else []
    direct = [r for r in rows if r.get("eval_mode") == "direct_eval" and r.get("run_name") == req.samplegen_model
              and r.get("test_task") == req.task]
    mine = [r for r in direct if r.get("job_id") == f"job-{req.job}"]
    if not mine:
        jobs = sorted({r["job_id"] for r in direct})
        raise UserError(f"no SampleGen responses of {req.samplegen_model} on {req.task} for job-{req.job} in "
                        f"{log}; job ids with some: {', '.join(jobs) or 'none'} (pass --slurm_job_id "
                        "or --samplegen_eval_file)")
    name = str(mine[-1]["eval_name"])
    return evals / f"{name}.csv", name


# --- items ------------------------------------------------------------------

def load_items(req: EvalRequest, spec: TaskSpec) -> tuple[list[TestItem], Optional[str]]:
    """The condition's test items and, for the SampleGen pipeline, the responses' eval name."""
    from inherent_limits.prompts.builder import read_prompt_templates
    if req.condition == "samplegen_pipeline":
        path, name = samplegen_response_file(req)
        return samplegen_pipeline_items(path, req.num_test, req.seed), name
    if spec.template_family is None:
        templates = read_prompt_templates(req.prompt_templates)
        return bigbench_items(spec, req.condition, req.bb_format, templates, req.num_test, req.seed,
                              req.data_dir, req.manual_dir, req.num_inner, req.unified), None
    if req.condition == "gold_pipeline":
        return gold_pipeline_items(req.root, req.task, req.num_test, req.seed, req.unified, req.gp_num_data,
                                   req.ablation_setup, req.num_samples_ablation), None
    return direct_items(req.root, req.task, req.test_prompt_format or "flan_prompts", req.unified, req.num_test,
                        req.seed, strip_instructions=req.condition == "base_zero_shot"), None


# --- scoring ----------------------------------------------------------------

def answer_settings(req: EvalRequest, spec: TaskSpec) -> dict:
    bigbench = spec.template_family is None
    return {"base_model": req.condition in BASE_CONDITIONS, "numeric": spec.numeric_answer,
            "letter_format": bigbench and req.bb_format in LETTER_FORMATS,
            "regression": "pearson" in spec.metrics, "regular_prompt": req.condition == "flan_direct",
            "matching": req.answer_matching, "bb_format": req.bb_format if bigbench else None, "task": spec.name}


def score(spec: TaskSpec, rows: list[dict], matching: str = "reference") -> dict[str, float]:
    """Task metrics of response rows (unparsable answers as None) and the unparsable rate."""
    from inherent_limits.evaluation.metrics import compute_metrics
    predictions = [r["proc_model_response"] if r["parsed"] else None for r in rows]
    result = compute_metrics(spec.metrics, predictions, [r["target"] for r in rows],
                             options=[r["options"] for r in rows], references=[r["references"] for r in rows],
                             groups=[r["group_id"] for r in rows], matching=matching)
    unparsable = sum(1 for r in rows if not r["parsed"])
    result.update(unparsable_rate=100.0 * unparsable / len(rows), num_unparsable=unparsable)
    return result


def versions() -> dict[str, str]:
    out = {}
    for package in ("torch", "transformers", "peft", "vllm"):
        try:
            out[f"{package}_version"] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[f"{package}_version"] = ""
    return out


def progress_key(req: EvalRequest, base_model: str, samplegen_file: Optional[str] = None) -> str:
    """Settings that determine the responses: a rerun with the same ones resumes."""
    fields = asdict(req)
    for name in ("job", "bertscore", "bertscore_model", "bertscore_empty_answers", "num_layers", "extra", "root",
                 "answer_matching"):
        fields.pop(name)
    fields.update(model=base_model, root=str(Path(req.root).resolve()), samplegen_eval_file=samplegen_file)
    return hashlib.sha1(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]


def new_eval_name() -> str:
    """A timestamp as the reference, plus a random suffix: concurrent jobs never collide."""
    return f"{time.strftime('%Y%m%d_%H%M%S')}_{secrets.token_hex(3)}"


def vllm_settings(req: EvalRequest):
    from inherent_limits.evaluation.generation import VLLMSettings
    return VLLMSettings(dtype=req.dtype, max_model_len=req.max_model_len,
                        gpu_memory_utilization=req.gpu_memory_utilization, enforce_eager=req.enforce_eager,
                        max_num_seqs=req.max_num_seqs, tensor_parallel_size=req.tensor_parallel_size,
                        max_lora_rank=req.max_lora_rank, load_in_4bit=req.load_in_4bit)


def build_backend(req: EvalRequest, base_model: str, adapter: Optional[Path]):
    """The generation backend of a request: its base model (+ adapter) loaded with its settings."""
    from inherent_limits.evaluation.generation import make_backend
    from inherent_limits.models.loading import resolve_model_name
    return make_backend(req.backend, resolve_model_name(base_model), adapter=adapter, batch_size=req.batch_size,
                        max_new_tokens=req.max_new_tokens, tensor_parallel_size=req.tensor_parallel_size,
                        load_in_4bit=req.load_in_4bit, dtype=req.dtype, vllm_settings=vllm_settings(req))


def _generate(req: EvalRequest, base_model: str, adapter: Optional[Path], items: list[TestItem],
              progress: Progress, backend=None) -> list[str]:
    todo = [i for i in range(len(items)) if i not in progress.done]
    if todo:
        crash_point("eval_generate")
        backend = backend or build_backend(req, base_model, adapter)
        prompts = [items[i].text for i in todo]
        named = {"names": todo} if req.backend == "vllm" else {}  # vLLM refuses prompts too long, by item
        for batch in backend.generate_batches(prompts, **named):
            progress.add((todo[j], text, stopped) for j, text, stopped in batch)
    return [progress.done[i] for i in range(len(items))]


def eval_row(req: EvalRequest, spec: TaskSpec, base_model: str, eval_name: str, n: int,
             samplegen_file: Optional[str], result: dict, response_file: Path) -> dict:
    pipeline = req.condition in ("gold_pipeline", "samplegen_pipeline")
    row = {
        "job_id": f"job-{req.job}", "seed": req.seed,
        "run_name": req.run_name if req.run_name != "base" else base_model,
        "test_task": req.task,
        "test_prompt_type": req.bb_format if spec.template_family is None else req.test_prompt_format,
        "model_type": req.test_prompt_format, "num_test": n,
        "eval_mode": "samplegen_pipeline" if pipeline else "direct_eval", "eval_name": eval_name,
        "samplegen_model_name": req.samplegen_model, "samplegen_file_name": samplegen_file,
        "samplegen_sample_source": {"gold_pipeline": "train_data", "samplegen_pipeline": "model"}.get(req.condition),
        "ablation_setup": req.ablation_setup, "num_samples_ablation": req.num_samples_ablation,
    }
    row.update(result)
    source = (data_source(req.task, "test", req.data_dir, req.manual_dir) if spec.template_family is None else
              test_set_source(req.root, req.task, req.condition, req.test_prompt_format, req.unified))
    row.update(condition=req.condition, answer_matching=req.answer_matching, base_model=base_model, data_source=source,
               backend=req.backend, batch_size=req.batch_size,
               response_file=str(response_file.relative_to(req.root)), git_hash=git_hash(), **versions(),
               **engine_columns(req), **req.extra)
    return row


def engine_columns(req: EvalRequest) -> dict:
    """The generation knobs as eval_logs.csv columns: dtype and max_new_tokens (both backends), vLLM's engine knobs."""
    from inherent_limits.evaluation.generation import default_max_new_tokens
    knobs = vllm_settings(req).logged()
    tuned = req.condition not in BASE_CONDITIONS
    length = default_max_new_tokens(tuned) if req.max_new_tokens is None else req.max_new_tokens
    columns = {"dtype": knobs.pop("dtype"), "max_new_tokens": length}
    if req.backend == "vllm":
        columns.update(knobs)
    return columns


def _logged_bertscore(root: Path, eval_name: str) -> Optional[float]:
    """The BERTScore accuracy already logged for this eval, else None."""
    rows = csv_logs.find_rows(root / csv_logs.BERTSCORE_LOG, {"input_file": eval_name})
    return float(rows[-1]["bertscore_accuracy"]) if rows else None


@lru_cache(maxsize=2)
def _scorer(model: str, num_layers: Optional[int]):
    """One BERTScore scorer per encoder in a process: the evaluations of a run_many call share it."""
    from inherent_limits.evaluation.bertscore_accuracy import make_scorer
    return make_scorer(model, num_layers)


def _bertscore(req: EvalRequest, spec: TaskSpec, eval_name: str, response_file: Path, row: dict) -> float:
    """Score the response file and append its bertscore_evals.csv row, unless that row is there."""
    from inherent_limits.evaluation.bertscore_accuracy import log_bertscore, score_response_file
    logged = _logged_bertscore(req.root, eval_name)
    if logged is not None:
        return logged
    scorer = _scorer(req.bertscore_model, req.num_layers)
    crash_point("eval_bertscore")
    accuracy, _, n = score_response_file(response_file, scorer, req.bertscore_empty_answers)
    input_model = req.samplegen_model if req.condition in ("gold_pipeline", "samplegen_pipeline") else req.run_name
    with csv_logs.log_lock(req.root / csv_logs.BERTSCORE_LOG):
        if _logged_bertscore(req.root, eval_name) is None:
            log_bertscore(req.root, eval_name, input_model or "base", response_file, accuracy, n, req.job,
                          eval_row=row, extra={"condition": req.condition, "base_model": row["base_model"],
                                               "bertscore_model": req.bertscore_model,
                                               "empty_answers": req.bertscore_empty_answers})
    return accuracy


def _pending_eval_name(progress: Progress, journal: Path) -> Optional[str]:
    """The eval name of a generated but unlogged eval; a journal without progress is a finished one's."""
    if not journal.is_file():
        return None
    if not progress.path.is_file():
        journal.unlink()
        return None
    return json.loads(journal.read_text(encoding="utf-8"))["eval_name"]


def _write_journal(journal: Path, eval_name: str) -> None:
    tmp = journal.with_name(f"{journal.name}.tmp")
    tmp.write_text(json.dumps({"eval_name": eval_name}), encoding="utf-8")
    os.replace(tmp, journal)


def wants_bertscore(req: EvalRequest, spec: TaskSpec, items: list[TestItem]) -> bool:
    return req.bertscore and spec.bertscore and any(item.options for item in items)


def run_evaluation(req: EvalRequest, backend=None, on_logged: Optional[Callable[[str], None]] = None) -> dict:
    """Evaluate, write the response file, append the log rows; returns the eval_logs row.

    `backend`: an already-built backend of this request's model and adapter (see run_many);
    by default one is built when there is something to generate. `on_logged(eval_name)` runs
    once the rows are written, before the progress file goes (run_many marks the eval done there).
    """
    spec = get_task(req.task)
    adapter = run_dir(req.root, req.run_name) if req.condition not in BASE_CONDITIONS else None
    base_model = base_model_of(req)
    items, samplegen_file = load_items(req, spec)
    bertscore = wants_bertscore(req, spec, items)
    if bertscore:  # fail on a missing BERTScore model before generating
        from inherent_limits.evaluation.bertscore_accuracy import resolve_scorer_model
        resolve_scorer_model(req.bertscore_model, req.num_layers)
    for log in (csv_logs.EVAL_LOG, *((csv_logs.BERTSCORE_LOG,) if bertscore else ())):
        csv_logs.check_log(req.root / log)  # a damaged log fails now, not after generating
    folder = response_folder(req)
    progress = Progress(folder / f".partial-{progress_key(req, base_model, samplegen_file)}.jsonl")
    journal = progress.path.with_name(progress.path.name.replace(".jsonl", ".finish.json"))
    eval_name = _pending_eval_name(progress, journal)
    if progress.done:
        print(f"resuming: {len(progress.done)} of {len(items)} responses already generated"
              + (f" (eval {eval_name}, finishing its logs)" if eval_name else ""))
    responses = _generate(req, base_model, adapter, items, progress, backend)
    settings = answer_settings(req, spec)
    rows = []
    for index, (item, response) in enumerate(zip(items, responses)):
        answer = extract_answer(response, options=item.options, **settings)
        rows.append(response_row(item.text, response, item.target, answer.text, answer.parsed, item.options,
                                 item.references, item.group_id, progress.stopped.get(index),
                                 **({"samplegen_eval_file": samplegen_file} if samplegen_file else {})))
    result = score(spec, [dict(r, options=i.options, references=i.references) for r, i in zip(rows, items)],
                   req.answer_matching)
    if eval_name is None:
        eval_name = new_eval_name()
        _write_journal(journal, eval_name)
    response_file = folder / f"{eval_name}.csv"
    write_responses(response_file, rows)
    row = eval_row(req, spec, base_model, eval_name, len(items), samplegen_file, result, response_file)
    crash_point("eval_before_log")
    if not csv_logs.append_row_once(req.root / csv_logs.EVAL_LOG, row, key=("eval_name",),
                                    leading=csv_logs.EVAL_COLUMNS):
        print(f"{eval_name}: its eval_logs.csv row was already written")
    if bertscore:
        row["bertscore_accuracy"] = _bertscore(req, spec, eval_name, response_file, row)
    if on_logged is not None:
        on_logged(eval_name)
    progress.remove()  # first: a journal without progress is known to be finished
    journal.unlink(missing_ok=True)
    crash_point("eval_done")
    return row


def rescore(root: Path, response_file: Path, job: str, answer_matching: Optional[str] = None) -> dict:
    """Recompute answers and metrics of a response file; rewrite it and append an eval_logs row.

    answer_matching: reference or normalised (default: the logged row's, else reference)."""
    from inherent_limits.evaluation.bertscore_accuracy import find_eval_row
    eval_name = Path(response_file).stem
    logged = find_eval_row(root, eval_name)
    if logged is None:
        raise UserError(f"no eval_logs.csv row for {eval_name} under {root}: --rescore needs the row test.py wrote")
    spec = get_task(str(logged["test_task"]))
    if not logged.get("condition"):
        raise UserError(f"the eval_logs.csv row of {eval_name} has no condition column (an older log): "
                        "rerun the evaluation instead")
    logged_matching = logged.get("answer_matching")
    matching = answer_matching or (logged_matching if logged_matching in MATCHING_MODES else "reference")
    req = EvalRequest(root=root, task=spec.name, condition=str(logged["condition"]), job=job,
                      bb_format=str(logged.get("test_prompt_type") or "closed"), answer_matching=matching)
    settings = answer_settings(req, spec)
    rows = read_responses(response_file)
    out = []
    for r in rows:
        answer = extract_answer(r["response"], options=r["options"], **settings)
        out.append(response_row(r["text"], r["response"], r["target"], answer.text, answer.parsed, r["options"],
                                r["references"], r["group_id"], r["stopped"]))
    result = score(spec, [dict(o, options=r["options"], references=r["references"]) for o, r in zip(out, rows)],
                   matching)
    write_responses(Path(response_file), out)
    row = {k: v for k, v in logged.items() if k in csv_logs.EVAL_COLUMNS or k.endswith("_version") or k in (
        "condition", "base_model", "backend", "batch_size", "response_file", "dtype", "max_new_tokens", "data_source")}
    row.update(job_id=f"job-{job}", answer_matching=matching, **result, rescored_from=logged.get("job_id"),
               git_hash=git_hash())
    csv_logs.append_row(root / csv_logs.EVAL_LOG, row, leading=csv_logs.EVAL_COLUMNS)
    return row


# --- many evaluations, one model load -----------------------------------------

def backend_key(req: EvalRequest) -> tuple:
    """What a backend is built from: requests with equal keys can share one."""
    adapter = run_dir(req.root, req.run_name) if req.condition not in BASE_CONDITIONS else None
    tuned = adapter is not None
    return (req.backend, base_model_of(req), str(adapter), req.batch_size, req.max_new_tokens, tuned,
            vllm_settings(req))


class CallProgress:
    """Which requests of a multi-evaluation call finished: a rerun of an interrupted call skips them.

    Kept in ROOT/.partial-call-<key>.json, the key naming the call's requests (not its job id);
    removed once every request finished.
    """

    def __init__(self, root: Path, reqs: list[EvalRequest]):
        self.keys = [self.request_key(r) for r in reqs]
        digest = hashlib.sha1(json.dumps(self.keys).encode()).hexdigest()[:16]
        self.path = Path(root) / f".partial-call-{digest}.json"
        self.done: dict[str, str] = json.loads(self.path.read_text(encoding="utf-8")) if self.path.is_file() else {}

    @staticmethod
    def request_key(req: EvalRequest) -> str:
        fields = asdict(req)
        for name in ("job", "extra"):
            fields.pop(name)
        fields["root"] = str(Path(req.root).resolve())
        return hashlib.sha1(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def mark(self, index: int, eval_name: str) -> None:
        self.done[self.keys[index]] = eval_name
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(self.done), encoding="utf-8")
        tmp.replace(self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def share_key(key: tuple) -> tuple:
    """What requests sharing one model load have in common: on vLLM one engine per base model and
    settings serves the base model and every adapter; on HF a model is loaded per adapter."""
    backend, base_model, *_, settings = key
    return (backend, base_model, settings) if backend == "vllm" else key


def run_order(reqs: list[EvalRequest], keys: list[tuple]) -> list[int]:
    """The order run_many runs requests in: those sharing a model load together, in order of first
    appearance; SampleGen direct evaluations first (the SampleGen pipeline reads their responses)."""
    first: dict = {}
    for i, key in enumerate(keys):
        first.setdefault(share_key(key), i)
        first.setdefault(key, i)
    direct = {share_key(k) for r, k in zip(reqs, keys) if r.condition == "samplegen_direct"}

    def rank(i: int) -> tuple:
        shared = share_key(keys[i])
        return shared not in direct, first[shared], reqs[i].condition != "samplegen_direct", first[keys[i]]
    return sorted(range(len(reqs)), key=rank)


def build_shared(req: EvalRequest, key: tuple, adapters: list[Path]):
    """The model load of a share_key: a VLLMEngine serving `adapters` (vLLM) or an HF backend."""
    if req.backend != "vllm":
        return build_backend(req, key[1], Path(key[2]) if key[5] else None)
    from inherent_limits.evaluation.generation import VLLMEngine
    from inherent_limits.models.loading import resolve_model_name
    return VLLMEngine(resolve_model_name(key[1]), adapters, vllm_settings(req))


def run_many(reqs: list[EvalRequest], report=print) -> list[Optional[dict]]:
    """Run requests with one model load per share_key: on vLLM one engine per base model serves the
    base model and all the call's adapters (base and adapter prompts in separate generate calls).
    Each request gets its own response file and log rows, as run alone; rows come in request order.

    A rerun of an interrupted call skips the requests it finished (their row is None) and
    resumes the interrupted one from its partial responses.
    """
    if not reqs:
        return []
    keys = [backend_key(r) for r in reqs]            # unknown runs, missing base models: before anything runs
    if any(r.backend == "vllm" for r in reqs):
        from inherent_limits.evaluation.generation import import_vllm
        import_vllm()                                # a missing vLLM is said first
    for req in reqs:                                 # and missing test sets
        if get_task(req.task).template_family is not None:
            check_test_set(req.root, req.task, req.condition, req.test_prompt_format, req.unified)
    adapters: dict = {}
    for key in keys:
        if key[5]:
            adapters.setdefault(share_key(key), {})[Path(key[2])] = None
    call = CallProgress(reqs[0].root, reqs)
    written_here = {(r.run_name, r.task) for r in reqs if r.condition == "samplegen_direct"}
    for index, req in enumerate(reqs):               # test sets, gold examples, SampleGen responses too
        if call.done.get(call.keys[index]):
            continue
        if req.condition == "samplegen_pipeline" and (req.samplegen_model, req.task) in written_here:
            continue                                 # its examples are this call's samplegen_direct responses
        load_items(req, get_task(req.task))
    rows: list[Optional[dict]] = [None] * len(reqs)
    loaded, loaded_for = None, None
    for index in run_order(reqs, keys):
        req, key = reqs[index], keys[index]
        finished = call.done.get(call.keys[index])
        if finished:
            report(f"{req.condition} on {req.task}: done by the interrupted call (eval {finished}), skipped")
            continue
        if share_key(key) != loaded_for:
            _close(loaded)                           # free the previous model before loading the next
            loaded_for = share_key(key)
            loaded = build_shared(req, key, list(adapters.get(loaded_for, ())))
        backend = loaded.backend(Path(key[2]) if key[5] else None, req.max_new_tokens) \
            if req.backend == "vllm" else loaded
        report(f"{req.condition} on {req.task} ({req.backend})")
        rows[index] = run_evaluation(req, backend=backend, on_logged=lambda name, i=index: call.mark(i, name))
    _close(loaded)
    call.remove()
    return rows


def _close(loaded) -> None:
    if hasattr(loaded, "close"):                     # a VLLMEngine
        loaded.close()
