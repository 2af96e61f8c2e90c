"""vLLM engines for the study: the project's engine arguments plus what CoT decoding needs."""
from __future__ import annotations

from inherent_limits.base_vs_instruct.decoding import VLLMDecoder
from inherent_limits.evaluation.generation import VLLMSettings, import_vllm, llm_kwargs, lora_request_args


def engine_kwargs(req, model: str, adapter) -> dict:
    """generation.llm_kwargs (the project's engine knobs and dtype: float32 on CPU, so outputs match
    transformers), with CoT's logprob count, prefix caching (the K branches share the prompt) and the seed."""
    settings = VLLMSettings(dtype=req.dtype, max_model_len=req.max_model_len,
                            gpu_memory_utilization=req.gpu_memory_utilization)
    kwargs = llm_kwargs(model, [adapter] if adapter is not None else [], settings)
    kwargs.update(max_logprobs=max(20, req.cot_k), enable_prefix_caching=True, seed=req.seed)
    return kwargs


def vllm_decoder(req, side, sides: dict, tokenizer, engines: dict) -> VLLMDecoder:
    """A VLLMDecoder for `side`; sides on the same weights share one engine (LoRA per request)."""
    vllm = import_vllm()  # a UserError saying how to install it
    from vllm.lora.request import LoRARequest

    if side.path not in engines:
        adapter = next((s.adapter for s in sides.values() if s.path == side.path and s.adapter), None)
        engines[side.path] = vllm.LLM(**engine_kwargs(req, side.path, adapter))
    lora = LoRARequest(*lora_request_args(side.adapter)) if side.adapter is not None else None
    return VLLMDecoder(engines[side.path], tokenizer, lora)
