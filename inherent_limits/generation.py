"""Inference backends behind one interface: Hugging Face `generate` and vLLM.

Both give greedy outputs (the new text only, special tokens removed) and yield them in
chunks as (original index, text) pairs, so callers can save progress as they go.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional, Sequence

from tqdm import tqdm

from .errors import UserError
from .modeling import adapter_config, has_tokenizer, load_model, load_tokenizer

VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # vllm.config.lora.MaxLoRARanks
VLLM_CHUNK = 256            # prompts per vLLM call: outputs are yielded (and can be saved) per chunk
HF_MAX_NEW_TOKENS = 200     # the reference's Hugging Face setting (config.max_new_tokens)
ADAPTER_MAX_TOKENS = 1024   # the reference's vLLM settings: tuned models may write SampleGen examples,
BASE_MAX_TOKENS = 250       # base models only answer
LORA_NAME, LORA_ID = "trained_adapter", 1


class HFBackend:
    """Greedy batched generation with a transformers model: length-sorted batches, left padding."""

    def __init__(self, model, tokenizer, batch_size: int = 8, max_new_tokens: int = HF_MAX_NEW_TOKENS,
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

    def generate_batches(self, prompts: Sequence[str], progress: bool = True) -> Iterator[list[tuple[int, str]]]:
        """Yield, batch by batch (longest prompts first), (index in `prompts`, generated text) pairs."""
        import torch

        if not prompts:
            return
        encoded = [ids[-self.max_input_tokens:] for ids in self.tokenizer(list(prompts))["input_ids"]]
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        config = self._generation_config()
        with tqdm(total=len(order), desc="generating", unit="prompt", disable=not progress) as bar:
            for start in range(0, len(order), self.batch_size):
                indices = order[start:start + self.batch_size]
                ids, mask = self._batch([encoded[i] for i in indices])
                with torch.inference_mode():
                    out = self.model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
                texts = self.tokenizer.batch_decode(out[:, ids.shape[1]:], skip_special_tokens=True,
                                                    clean_up_tokenization_spaces=False)
                bar.update(len(indices))
                yield list(zip(indices, texts))

    def generate(self, prompts: Sequence[str], progress: bool = True) -> list[str]:
        """All outputs, in input order."""
        return _in_order(self.generate_batches(prompts, progress), len(prompts))


class VLLMBackend:
    """Greedy generation with vLLM (LoRA adapters through a LoRARequest)."""

    def __init__(self, model: str, adapter: Optional[Path] = None, tokenizer: Optional[str] = None,
                 tensor_parallel_size: int = 1, max_new_tokens: Optional[int] = None, load_in_4bit: bool = False):
        try:
            from vllm import LLM, SamplingParams
            from vllm.lora.request import LoRARequest
        except ImportError:
            raise UserError("vLLM is not installed: the vLLM backend needs a CUDA machine with "
                            "pip install '.[vllm]', or use --backend hf") from None
        adapter = Path(adapter) if adapter is not None else None
        self.llm = LLM(**llm_kwargs(model, tokenizer, adapter, tensor_parallel_size, load_in_4bit))
        self.params = SamplingParams(**sampling_kwargs(adapter is not None, max_new_tokens))
        self.lora = LoRARequest(*lora_request_args(adapter)) if adapter is not None else None

    def generate_batches(self, prompts: Sequence[str], progress: bool = True) -> Iterator[list[tuple[int, str]]]:
        """Yield outputs in chunks of VLLM_CHUNK prompts (vLLM schedules each chunk itself)."""
        prompts = list(prompts)
        with tqdm(total=len(prompts), desc="generating", unit="prompt", disable=not progress) as bar:
            for start in range(0, len(prompts), VLLM_CHUNK):
                chunk = prompts[start:start + VLLM_CHUNK]
                outputs = self.llm.generate(chunk, self.params, use_tqdm=False, lora_request=self.lora)
                bar.update(len(chunk))
                yield [(start + i, out.outputs[0].text) for i, out in enumerate(outputs)]

    def generate(self, prompts: Sequence[str], progress: bool = True) -> list[str]:
        """All outputs, in input order."""
        return _in_order(self.generate_batches(prompts, progress), len(prompts))


def _in_order(batches, count: int) -> list[str]:
    out: list[Optional[str]] = [None] * count
    for batch in batches:
        for index, text in batch:
            out[index] = text
    return out


def sampling_kwargs(has_adapter: bool, max_new_tokens: Optional[int] = None) -> dict:
    """vLLM SamplingParams: greedy; 1024 new tokens for a tuned model, 250 for a base model."""
    if max_new_tokens is None:
        max_new_tokens = ADAPTER_MAX_TOKENS if has_adapter else BASE_MAX_TOKENS
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


def llm_kwargs(model, tokenizer, adapter_dir, tensor_parallel_size, load_in_4bit) -> dict:
    """Arguments of vllm.LLM, as the reference sets them (bfloat16, eager mode)."""
    if tokenizer is None:
        tokenizer = str(adapter_dir) if has_tokenizer(adapter_dir) else str(model)
    kwargs = {"model": str(model), "tokenizer": str(tokenizer), "tensor_parallel_size": tensor_parallel_size,
              "dtype": "bfloat16", "enforce_eager": True}
    if adapter_dir is not None:
        kwargs.update(enable_lora=True, max_lora_rank=max_lora_rank(adapter_rank(adapter_dir)))
    if load_in_4bit:
        kwargs.update(quantization="bitsandbytes", load_format="bitsandbytes")
    return kwargs


def lora_request_args(adapter_dir) -> tuple:
    """Positional arguments of vllm's LoRARequest(lora_name, lora_int_id, lora_path)."""
    return (LORA_NAME, LORA_ID, str(adapter_dir))


def make_backend(kind: str, model_name: str, *, adapter=None, batch_size: int = 8,
                 max_new_tokens: Optional[int] = None, tensor_parallel_size: int = 1,
                 load_in_4bit: bool = False):
    """An HFBackend or VLLMBackend for `model_name` (+ adapter), ready to generate."""
    adapter = Path(adapter) if adapter is not None else None
    if kind == "vllm":
        return VLLMBackend(model_name, adapter=adapter, tensor_parallel_size=tensor_parallel_size,
                           max_new_tokens=max_new_tokens, load_in_4bit=load_in_4bit)
    if kind != "hf":
        raise UserError(f"unknown backend {kind!r}: choose 'hf' or 'vllm'")
    if adapter is not None:
        adapter_config(adapter)  # a clear error before any model is loaded
    tokenizer = load_tokenizer(adapter if has_tokenizer(adapter) else model_name, padding_side="left")
    model = load_model(model_name, adapter=adapter, load_in_4bit=load_in_4bit)
    return HFBackend(model, tokenizer, batch_size=batch_size,
                     max_new_tokens=max_new_tokens if max_new_tokens is not None else HF_MAX_NEW_TOKENS)
