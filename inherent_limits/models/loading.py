"""Loading base models, tokenizers and LoRA adapters, with user-facing errors."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

from inherent_limits.core.errors import UserError
from inherent_limits.data import registry

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


def resolve_model_name(model: Optional[str], model_path_idx: Optional[int] = None,
                       model_size_idx: Optional[int] = None) -> str:
    """A loadable name: "tiny" -> the built tiny model's dir; a named offline model or a .gguf file ->
    its converted folder; hub id or path -> itself; else by index."""
    if model is not None:
        if model_path_idx is not None or model_size_idx is not None:
            raise UserError("pass either --model or --model_path_idx/--model_size_idx, not both")
        if model == registry.TINY_MODEL:
            from inherent_limits.models.tiny import ensure_tiny_model
            return str(ensure_tiny_model())
        from inherent_limits.models import offline
        if model in offline.OFFLINE_MODELS:
            return str(offline.ensure_named_model(model))
        if model.endswith(".gguf"):
            return str(offline.ensure_gguf_file(Path(model)))
        return model
    if model_path_idx is None and model_size_idx is None:
        raise UserError('no model given: pass --model (a hub id, a local path or "tiny") '
                        "or --model_path_idx/--model_size_idx")
    path = _pick("--model_path_idx", model_path_idx or 0, registry.MODEL_PATHS)
    size = _pick("--model_size_idx", model_size_idx or 0, registry.MODEL_SIZES)
    return path.format(size=size)


def base_model_name(model: Optional[str], model_path_idx: Optional[int] = None,
                    model_size_idx: Optional[int] = None) -> str:
    """The base model as logs and run info name it: "tiny" and the named offline models keep their
    names (their paths are per machine)."""
    from inherent_limits.models.offline import OFFLINE_MODELS

    if model in (registry.TINY_MODEL, *OFFLINE_MODELS) and model_path_idx is None and model_size_idx is None:
        return model
    return resolve_model_name(model, model_path_idx, model_size_idx)


def _pick(flag: str, index: int, choices: tuple[str, ...]) -> str:
    if not 0 <= index < len(choices):
        listing = ", ".join(f"{i} ({c})" for i, c in enumerate(choices))
        raise UserError(f"{flag} {index} is out of range: choose one of {listing}")
    return choices[index]


def has_tokenizer(path) -> bool:
    """Whether a directory holds a saved tokenizer (e.g. an adapter saved with its tokenizer)."""
    return path is not None and any((Path(path) / name).is_file() for name in TOKENIZER_FILES)


def _detail(err: Exception) -> str:
    """An exception's message on one line, cut to a readable length."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _not_found(kind: str, name, err: Exception) -> UserError:
    text = str(name)
    if Path(text).expanduser().exists():
        return UserError(f"cannot load {kind} from {text}: {_detail(err)}")
    if text.startswith(("/", ".", "~")) or text.count("/") > 1:
        return UserError(f"cannot load {kind} {text!r}: no such directory")
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        why = "HF_HUB_OFFLINE is set, so the hub is not asked"
    else:
        why = "the Hugging Face hub could not provide it (unreachable, gated or misspelled)"
    return UserError(f"cannot load {kind} {text!r}: not a local directory, and {why} ({_detail(err)})")


def load_tokenizer(name_or_path, padding_side: str = "left"):
    """AutoTokenizer with a pad token and the given padding side.

    Without a pad token, <unk> is used when it exists and differs from EOS, else EOS (training masks
    padding by the attention mask, so the EOS is learned either way).
    """
    from transformers import AutoTokenizer

    if padding_side not in ("left", "right"):
        raise UserError(f"padding side must be 'left' or 'right', got {padding_side!r}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(name_or_path))
    except (OSError, ValueError) as err:
        raise _not_found("tokenizer", name_or_path, err) from None
    if tokenizer.pad_token is None:
        unk = tokenizer.unk_token
        tokenizer.pad_token = unk if unk is not None and unk != tokenizer.eos_token else tokenizer.eos_token
    tokenizer.padding_side = padding_side
    return tokenizer


def adapter_config(adapter_dir) -> dict:
    """The parsed adapter_config.json of a saved PEFT adapter."""
    path = Path(adapter_dir) / "adapter_config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{adapter_dir}: not a saved adapter (no adapter_config.json); "
                        "pass the run directory that train.py wrote") from None
    except OSError as err:
        raise UserError(f"cannot read {path}: {err.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        where = f"{path}:{err.lineno}" if isinstance(err, json.JSONDecodeError) else str(path)
        raise UserError(f"{where}: corrupt adapter config (malformed JSON: {getattr(err, 'msg', err)}); "
                        "train.py writes it: retrain the run, or restore the file") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: corrupt adapter config (not a JSON object); train.py writes it: "
                        "retrain the run")
    return data


def device_name() -> str:
    """The device generation runs on: "cpu", or the CUDA device's name."""
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"


def _quantization(device: str, dtype):
    import torch

    if not device.startswith("cuda") or not torch.cuda.is_available():
        raise UserError("4-bit loading needs a CUDA GPU with bitsandbytes; on this machine drop "
                        "--load_in_4bit")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise UserError("4-bit loading needs bitsandbytes: pip install '.[bnb]', or drop --load_in_4bit") from None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=dtype)


def load_model(name_or_path, *, adapter: Optional[Path] = None, load_in_4bit: bool = False,
               dtype=None, device: Optional[str] = None, trainable: bool = False):
    """A causal LM (bf16 on CUDA, float32 on CPU unless `dtype`), optionally with a LoRA adapter.

    In eval mode, unless `trainable` (then in train mode, with the adapter's weights trainable).
    """
    import torch
    from transformers import AutoModelForCausalLM

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if dtype is None:
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    kwargs = {"dtype": dtype}
    if (Path(str(name_or_path)) / "adapter_config.json").is_file():
        adapter_config(name_or_path)  # transformers reads it too, and would fail with a traceback
    if adapter is not None:
        check_adapter(Path(adapter))  # before the base model loads
    if load_in_4bit:
        kwargs.update(quantization_config=_quantization(device, dtype), device_map={"": device})
    try:
        model = AutoModelForCausalLM.from_pretrained(str(name_or_path), **kwargs)
    except OSError as err:
        raise _not_found("model", name_or_path, err) from None
    if not load_in_4bit:
        model.to(device)
    if adapter is not None:
        model = _attach_adapter(model, name_or_path, Path(adapter), trainable)
    model.train(trainable)  # eval mode unless it is about to be trained
    return model


def check_adapter(adapter: Path) -> None:
    """A saved adapter's config parses and its safetensors header reads; else a UserError naming the file."""
    from safetensors import SafetensorError, safe_open

    adapter_config(adapter)
    weights = adapter / "adapter_model.safetensors"
    if weights.is_file():
        try:
            with safe_open(str(weights), framework="pt"):
                pass
        except (SafetensorError, OSError) as err:
            raise UserError(f"{weights}: corrupt adapter weights ({_detail(err)}); train.py writes them: "
                            "retrain the run, or restore the file") from None


def _attach_adapter(model, base_name, adapter: Path, trainable: bool):
    from peft import PeftModel

    trained_on = adapter_config(adapter).get("base_model_name_or_path") or "an unrecorded base model"
    try:
        return PeftModel.from_pretrained(model, str(adapter), is_trainable=trainable)
    except (RuntimeError, ValueError, KeyError) as err:
        raise UserError(f"adapter {adapter} does not fit base model {str(base_name)!r}: it was trained on "
                        f"{trained_on!r}; pass that base model ({_detail(err)})") from None
