"""vLLM engines for the study: the project's engine arguments plus what CoT decoding needs."""
from __future__ import annotations

from ..errors import UserError
from ..generation import llm_kwargs, lora_request_args
from .decoding import VLLMDecoder


def engine_kwargs(req, model: str, tokenizer, adapter) -> dict:
    """generation.llm_kwargs, with CoT's logprob count, prefix caching (the K branches share the
    prompt), the seed and the dtype (float32 on CPU, so outputs match transformers)."""
    import torch

    kwargs = llm_kwargs(model, tokenizer, adapter, 1, False)
    kwargs.update(max_logprobs=max(20, req.cot_k), enable_prefix_caching=True, seed=req.seed,
                  dtype=req.dtype or ("bfloat16" if torch.cuda.is_available() else "float32"))
    if req.gpu_memory_utilization is not None:
        kwargs["gpu_memory_utilization"] = req.gpu_memory_utilization
    if req.max_model_len is not None:
        kwargs["max_model_len"] = req.max_model_len
    return kwargs


def vllm_decoder(req, side, sides: dict, tokenizer, engines: dict) -> VLLMDecoder:
    """A VLLMDecoder for `side`; sides on the same weights share one engine (LoRA per request)."""
    try:
        from vllm import LLM
        from vllm.lora.request import LoRARequest
    except ImportError:
        raise UserError("vLLM is not installed: pip install '.[vllm]' (CUDA) or use the vLLM CPU "
                        "environment, or pass --backend hf") from None
    if side.path not in engines:
        adapter = next((s.adapter for s in sides.values() if s.path == side.path and s.adapter), None)
        engines[side.path] = LLM(**engine_kwargs(req, side.path, None, adapter))
    lora = LoRARequest(*lora_request_args(side.adapter)) if side.adapter is not None else None
    return VLLMDecoder(engines[side.path], tokenizer, lora)
