"""HF/vLLM parity of CoT decoding on the tiny model, base and LoRA (runs in the vLLM environment)."""
import os

import pytest
from test_bvi_runner import make_lora_run  # noqa: E402

from inherent_limits.base_vs_instruct.decoding import DecodeSettings, HFDecoder, VLLMDecoder  # noqa: E402
from inherent_limits.base_vs_instruct.runner import StudyRequest  # noqa: E402
from inherent_limits.base_vs_instruct.vllm_engine import engine_kwargs  # noqa: E402
from inherent_limits.models.loading import load_model, load_tokenizer  # noqa: E402

pytestmark = pytest.mark.vllm

PROMPTS = ("Question: Tom has 3 apples and buys 4 more. How many apples does he have?\nAnswer:",
           "Work through the problem one step at a time.\n\nQuestion: What is 12 divided by 4?\nAnswer: 12 / 4 = 3.\n"
           "The answer is 3.\n\nQuestion: A patient weighs 70 kg and is 1.75 m tall. What is the BMI?\nAnswer:")
K, MAX_NEW = 20, 24


@pytest.fixture(scope="module")
def engines(tiny_model, tmp_path_factory):
    """One vLLM engine with LoRA enabled (CPU: float32, a small memory share) and the HF models."""
    from vllm import LLM
    from vllm.lora.request import LoRARequest

    from inherent_limits.evaluation.generation import lora_request_args

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    adapter = make_lora_run(tmp_path_factory.mktemp("bvi_vllm"), tiny_model)
    req = StudyRequest(root=adapter.parent.parent, cot_k=K, gpu_memory_utilization=0.1, max_model_len=1024)
    llm = LLM(**engine_kwargs(req, str(tiny_model), adapter))
    tokenizer = load_tokenizer(tiny_model)
    hf_base = HFDecoder(load_model(tiny_model), tokenizer)
    hf_tuned = HFDecoder(load_model(tiny_model, adapter=adapter), tokenizer)
    return {"base": (hf_base, VLLMDecoder(llm, tokenizer)),
            "tuned": (hf_tuned, VLLMDecoder(llm, tokenizer, LoRARequest(*lora_request_args(adapter)))),
            "tokenizer": tokenizer}


@pytest.mark.parametrize("side", ["base", "tuned"])
@pytest.mark.parametrize("prompt", PROMPTS)
def test_hf_and_vllm_branches_are_identical(engines, side, prompt):
    hf, vllm = engines[side]
    ids = engines["tokenizer"](prompt)["input_ids"]
    a, b = hf.cot_branches(ids, K, MAX_NEW), vllm.cot_branches(ids, K, MAX_NEW)
    assert [x.first_token for x in a] == [y.first_token for y in b]          # same first tokens, same order
    assert [x.token_ids for x in a] == [y.token_ids for y in b]              # same greedy continuations
    assert [x.text for x in a] == [y.text for y in b]
    for x, y in zip(a, b):
        assert x.margins == pytest.approx(y.margins, abs=1e-4)


def test_many_prompts_in_one_call_give_each_prompt_its_own_branches(engines):
    hf, vllm = engines["base"]
    prompts = [engines["tokenizer"](p)["input_ids"] for p in PROMPTS]
    settings = [DecodeSettings("cot", k=5, max_new_tokens=MAX_NEW), DecodeSettings("cot", k=3, max_new_tokens=9)]
    together = vllm.decode_many(prompts, settings)
    assert [[s.token_ids for s in out] for out in together] == \
        [[s.token_ids for s in hf.decode(p, st)] for p, st in zip(prompts, settings)]


def test_vllm_greedy_equals_hf_greedy_and_sampling_gives_n(engines):
    hf, vllm = engines["tuned"]
    ids = engines["tokenizer"](PROMPTS[0])["input_ids"]
    greedy = DecodeSettings("greedy", max_new_tokens=MAX_NEW)
    assert [s.token_ids for s in vllm.decode(ids, greedy)] == [s.token_ids for s in hf.decode(ids, greedy)]
    sampled = DecodeSettings("sample", n=5, max_new_tokens=8, seed=3)
    first, again = vllm.decode(ids, sampled), vllm.decode(ids, sampled)
    assert len(first) == 5 and [s.token_ids for s in first] == [s.token_ids for s in again]


def test_runner_on_vllm_logs_the_branches_the_hf_backend_logs(tiny_model, tmp_path):
    from inherent_limits.base_vs_instruct.runner import run_study
    from inherent_limits.base_vs_instruct.samples import read_samples

    make_lora_run(tmp_path, tiny_model)
    common = dict(root=tmp_path, instruct="tiny_lora", no_chat_template=True, datasets=("gsm8k",),
                  promptings=("zero_shot",), data_dir="bundled", num_items=2, cot_k=3, num_samples=2,
                  max_new_tokens=12, progress=False, job="t", gpu_memory_utilization=0.1, max_model_len=1024)
    hf = read_samples(run_study(StudyRequest(out_name="hf", **common))["samples"])
    vllm = read_samples(run_study(StudyRequest(out_name="vllm", backend="vllm", **common))["samples"])
    assert len(hf) == len(vllm) == 2 * (3 + 2)  # on vLLM both items' prompts go to the engine together
    assert {r["backend"] for r in vllm} == {"vllm"}
    cot = [(r["first_token"], r["response"], r["extracted"]) for r in hf if r["decoding"] == "cot"]
    assert cot == [(r["first_token"], r["response"], r["extracted"]) for r in vllm if r["decoding"] == "cot"]
    for a, b in zip((r for r in hf if r["decoding"] == "cot"), (r for r in vllm if r["decoding"] == "cot")):
        assert (a["confidence"] == "") == (b["confidence"] == "")
        if a["confidence"]:
            assert float(a["confidence"]) == pytest.approx(float(b["confidence"]), abs=1e-4)
