"""Generation backends: batched HF generation equals one-by-one generation; vLLM argument translation."""
import importlib.util
import json

import pytest
import torch

from inherent_limits.core.errors import UserError
from inherent_limits.data.loading import BUNDLED_RAW
from inherent_limits.evaluation import generation
from inherent_limits.evaluation.generation import (
    HFBackend,
    VLLMEngine,
    VLLMSettings,
    adapter_rank,
    default_max_new_tokens,
    engine_lora_rank,
    llm_kwargs,
    lora_request_args,
    make_backend,
    max_lora_rank,
    prompt_length_error,
    resolve_dtype,
    sampling_kwargs,
)
from inherent_limits.models.loading import load_model, load_tokenizer

HAS_VLLM = importlib.util.find_spec("vllm") is not None


@pytest.fixture(scope="module")
def loaded(tiny_model):
    return load_model(tiny_model, device="cpu", dtype=torch.float32), load_tokenizer(tiny_model)


def prompts(count=12):
    """Real texts of very different lengths (1 to 20 news items), each ending mid-sentence."""
    rows = [json.loads(line) for line in (BUNDLED_RAW / "ag_news" / "train.jsonl").read_text().splitlines()]
    items = [f"Title: {r['title']}\n{r['description']}\n" for r in rows]
    return ["".join(items[i:i + 1 + (7 * i) % 31]) + "Title: "
            + " ".join(rows[(i + 3) % len(rows)]["description"].split()[:2 + i % 4]) for i in range(count)]


def one_by_one(model, tokenizer, texts, max_new_tokens):
    """Reference outputs: each prompt generated alone, unpadded, with plain `model.generate`."""
    outs = []
    for text in texts:
        ids = tokenizer(text, return_tensors="pt")["input_ids"]
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False, pad_token_id=tokenizer.pad_token_id)
        outs.append(tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True))
    return outs


def test_batched_generation_equals_generating_each_prompt_alone(loaded):
    model, tokenizer = loaded
    texts = prompts(12)
    lengths = [len(tokenizer(t)["input_ids"]) for t in texts]
    assert max(lengths) > 8 * min(lengths)
    alone = one_by_one(model, tokenizer, texts, 10)
    assert len(set(alone)) >= 6  # varied outputs: a real check, not one repeated answer
    for batch_size in (1, 4):
        backend = HFBackend(model, tokenizer, batch_size=batch_size, max_new_tokens=10)
        assert backend.generate(texts, progress=False) == alone, batch_size


def test_generate_batches_covers_every_prompt_once_longest_first(loaded):
    model, tokenizer = loaded
    texts = prompts(10)
    backend = HFBackend(model, tokenizer, batch_size=4, max_new_tokens=4)
    batches = list(backend.generate_batches(texts, progress=False))
    assert [len(b) for b in batches] == [4, 4, 2]
    indices = [i for batch in batches for i, _, _ in batch]
    assert sorted(indices) == list(range(10))
    lengths = [len(tokenizer(t)["input_ids"]) for t in texts]
    assert [lengths[i] for i in indices] == sorted(lengths, reverse=True)
    by_index = {i: text for batch in batches for i, text, _ in batch}
    assert backend.generate(texts, progress=False) == [by_index[i] for i in range(10)]
    assert backend.generate([], progress=False) == []


def test_stopped_says_whether_generation_ended_on_the_eos_token(loaded):
    """A token the model writes for some prompts and not others becomes the EOS: exactly those stop."""
    model, tokenizer = loaded
    texts = prompts(8)
    ids = [tokenizer(t)["input_ids"] for t in texts]
    free = [model.generate(input_ids=torch.tensor([i]), max_new_tokens=12, do_sample=False,
                           pad_token_id=tokenizer.pad_token_id, eos_token_id=None)[0, len(i):].tolist() for i in ids]
    eos = free[0][5]
    expected = [eos in f for f in free]
    assert True in expected and False in expected
    saved = model.generation_config.eos_token_id
    model.generation_config.eos_token_id = eos
    try:
        batches = list(HFBackend(model, tokenizer, batch_size=3, max_new_tokens=12).generate_batches(
            texts, progress=False))
    finally:
        model.generation_config.eos_token_id = saved
    got = {i: (text, stopped) for batch in batches for i, text, stopped in batch}
    assert [got[i][1] for i in range(8)] == expected
    assert len(tokenizer(got[0][0], add_special_tokens=False)["input_ids"]) < 12  # cut at the new EOS


def test_outputs_are_new_text_only(loaded):
    model, tokenizer = loaded
    text = prompts(1)[0]
    out = HFBackend(model, tokenizer, max_new_tokens=8).generate([text], progress=False)[0]
    assert out == one_by_one(model, tokenizer, [text], 8)[0]
    assert not out.startswith(text[:20])


def test_long_prompts_are_truncated_from_the_left(loaded):
    model, tokenizer = loaded
    text = prompts(6)[5]
    ids = tokenizer(text)["input_ids"]
    assert len(ids) > 40
    out = HFBackend(model, tokenizer, max_new_tokens=8, max_input_tokens=32).generate([text], progress=False)
    tail = torch.tensor([ids[-32:]])
    expected = model.generate(input_ids=tail, attention_mask=torch.ones_like(tail), max_new_tokens=8,
                              do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert out == [tokenizer.decode(expected[0, 32:], skip_special_tokens=True)]


def test_backend_rejects_bad_settings(loaded):
    model, tokenizer = loaded
    with pytest.raises(UserError, match="must be positive"):
        HFBackend(model, tokenizer, batch_size=0)


def test_sampling_kwargs():
    assert sampling_kwargs(True) == {"temperature": 0.0, "max_tokens": 1024}
    assert sampling_kwargs(False) == {"temperature": 0.0, "max_tokens": 250}
    assert sampling_kwargs(True, 77) == sampling_kwargs(False, 77) == {"temperature": 0.0, "max_tokens": 77}


def _adapter(tmp_path, r, name="adapter", rank_pattern=None):
    from peft import LoraConfig

    path = tmp_path / name
    LoraConfig(r=r, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM",
               rank_pattern=rank_pattern or {}).save_pretrained(path)
    return path


def test_adapter_rank_and_max_lora_rank(tmp_path):
    assert adapter_rank(_adapter(tmp_path, 64, "r64")) == 64
    assert max_lora_rank(adapter_rank(_adapter(tmp_path, 64, "r64"))) == 64
    assert max_lora_rank(adapter_rank(_adapter(tmp_path, 12, "r12"))) == 16
    assert adapter_rank(_adapter(tmp_path, 8, "pattern", {"v_proj": 96})) == 96
    assert [max_lora_rank(r) for r in (1, 2, 8, 9, 100, 300, 320, 500)] == [1, 8, 8, 16, 128, 320, 320, 512]
    with pytest.raises(UserError, match="above vLLM's limit of 512"):
        max_lora_rank(513)
    with pytest.raises(UserError, match="no adapter_config.json"):
        adapter_rank(tmp_path)


def test_llm_kwargs(tmp_path):
    cpu = not torch.cuda.is_available()
    base = llm_kwargs("meta-llama/Llama-2-7b-hf", [], VLLMSettings(tensor_parallel_size=2))
    expected = {"model": "meta-llama/Llama-2-7b-hf", "tokenizer": "meta-llama/Llama-2-7b-hf",
                "tensor_parallel_size": 2, "dtype": "float32" if cpu else "bfloat16", "enforce_eager": True}
    if cpu:
        expected["gpu_memory_utilization"] = generation.CPU_MEMORY_SHARE
    assert base == expected
    bare, wide = _adapter(tmp_path, 12, "bare"), _adapter(tmp_path, 64, "wide")
    knobs = VLLMSettings(dtype="bfloat16", max_model_len=4096, gpu_memory_utilization=0.9, enforce_eager=False,
                         max_num_seqs=64, load_in_4bit=True)
    assert llm_kwargs("m", [bare, wide], knobs) == dict(
        model="m", tokenizer="m", tensor_parallel_size=1, dtype="bfloat16", enforce_eager=False,
        gpu_memory_utilization=0.9, max_model_len=4096, max_num_seqs=64, enable_lora=True, max_lora_rank=64,
        max_loras=2, quantization="bitsandbytes", load_format="bitsandbytes")
    assert llm_kwargs("m", [bare], VLLMSettings())["max_lora_rank"] == 16


def test_engine_lora_rank_checks_max_lora_rank(tmp_path):
    adapters = [_adapter(tmp_path, 12, "r12"), _adapter(tmp_path, 64, "r64")]
    assert engine_lora_rank(adapters, None) == 64 and engine_lora_rank(adapters, 128) == 128
    with pytest.raises(UserError, match=r"r64 has LoRA rank 64, above --max_lora_rank 32: pass --max_lora_rank 64"):
        engine_lora_rank(adapters, 32)
    with pytest.raises(UserError, match=r"--max_lora_rank 48 is not one vLLM accepts: choose one of 1, 8, 16"):
        engine_lora_rank(adapters, 48)


def test_vllm_settings_refuse_bad_knobs():
    with pytest.raises(UserError, match="--max_model_len must be a positive integer, got 0"):
        VLLMSettings(max_model_len=0)
    with pytest.raises(UserError, match=r"--gpu_memory_utilization is a share: give a number in \(0, 1\], got 1.5"):
        VLLMSettings(gpu_memory_utilization=1.5)
    with pytest.raises(UserError, match="unknown dtype 'fp8'"):
        VLLMSettings(dtype="fp8")
    assert resolve_dtype(None) == resolve_dtype("auto") == ("bfloat16" if torch.cuda.is_available() else "float32")
    assert VLLMSettings(dtype="float16").logged()["dtype"] == "float16"


def test_prompt_length_error_names_items_and_the_setting():
    assert prompt_length_error([3, 17], 2100, 2048, 250, 40) == (
        "2 of 40 prompts do not fit --max_model_len 2048 with --max_new_tokens 250 (items 3, 17; the longest "
        "needs 2100 tokens): set --max_model_len 2100 or more (up to the model's context), or lower --max_new_tokens")


def test_lora_request_args(tmp_path):
    assert lora_request_args(tmp_path) == ("trained_adapter", 1, str(tmp_path))
    assert lora_request_args(tmp_path, 2) == ("trained_adapter_2", 2, str(tmp_path))


def test_make_backend_hf(tiny_model, tmp_path):
    backend = make_backend("hf", str(tiny_model), batch_size=3)
    assert isinstance(backend, HFBackend)
    assert (backend.batch_size, backend.max_new_tokens) == (3, default_max_new_tokens(False)) == (3, 250)
    assert backend.model.dtype == (torch.bfloat16 if torch.cuda.is_available() else torch.float32)
    assert backend.tokenizer.padding_side == "left" and not backend.model.training
    assert make_backend("hf", str(tiny_model), max_new_tokens=5).max_new_tokens == 5
    with pytest.raises(UserError, match="unknown backend 'tgi'"):
        make_backend("tgi", str(tiny_model))
    with pytest.raises(UserError, match="no adapter_config.json"):
        make_backend("hf", str(tiny_model), adapter=tmp_path)


def test_make_backend_hf_uses_the_adapters_tokenizer(tiny_model, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    adapter = tmp_path / "run"
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model),
                                LoraConfig(r=4, target_modules=["q_proj"], task_type="CAUSAL_LM"))
    peft_model.save_pretrained(adapter)
    tokenizer = load_tokenizer(tiny_model)
    tokenizer.model_max_length = 1234  # a mark that this tokenizer, not the base model's, is used
    tokenizer.save_pretrained(adapter)
    backend = make_backend("hf", str(tiny_model), adapter=adapter, max_new_tokens=3)
    assert backend.tokenizer.model_max_length == 1234
    assert len(backend.generate(["Title: hello"], progress=False)) == 1


@pytest.mark.skipif(HAS_VLLM, reason="vllm is installed")
def test_vllm_backend_without_vllm_is_a_user_error(tiny_model, cli):
    with pytest.raises(UserError, match=r"vLLM is not installed.*pip install '\.\[vllm\]'.*setup_vllm_env\.sh"
                                        r".*--backend hf"):
        VLLMEngine(str(tiny_model))
    with pytest.raises(UserError, match="vLLM is not installed"):
        make_backend("vllm", str(tiny_model))
    out = cli(["test.py", "--root", str(tiny_model.parent), "--test_task", "cola", "--model", "tiny",
               "--backend", "vllm"])
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert out.stderr.startswith("error: vLLM is not installed in this environment: on a CUDA machine")
