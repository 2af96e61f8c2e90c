"""The vLLM backend against the hf backend on a real pretrained model (SmolLM2-135M-Instruct), base and
with a LoRA adapter trained on it, and its chat template on vLLM (runs in .venv-vllm: scripts/test.sh)."""
import pytest
from test_realmodel import MODEL, flan_items, train_regular_run

from inherent_limits.evaluation.generation import VLLMEngine, VLLMSettings, make_backend
from inherent_limits.models.loading import resolve_model_name

pytestmark = [pytest.mark.vllm, pytest.mark.realmodel, pytest.mark.slow]
NEW_TOKENS = 48


@pytest.fixture(scope="module")
def study(tmp_path_factory, model_cache):
    """A Regular-Prompt adapter on SmolLM2 and one vLLM engine serving the model and the adapter."""
    root = train_regular_run(tmp_path_factory.mktemp("realmodel-vllm"))
    smol = resolve_model_name(MODEL)
    adapter = root / "saved_models" / "regular"
    engine = VLLMEngine(smol, [adapter], VLLMSettings(max_model_len=2048))
    yield root, smol, adapter, engine
    engine.close()


@pytest.mark.parametrize("tuned", [False, True], ids=["base", "adapter"])
def test_greedy_outputs_equal_the_hf_backend(study, tuned):
    root, smol, adapter, engine = study
    prompts = [item.text for item in flan_items(root)]
    adapter = adapter if tuned else None
    backends = {"hf": make_backend("hf", smol, adapter=adapter, batch_size=8, max_new_tokens=NEW_TOKENS),
                "vllm": engine.backend(adapter, max_new_tokens=NEW_TOKENS)}
    out = {name: {i: (text, stopped) for batch in backend.generate_batches(prompts, progress=False)
                  for i, text, stopped in batch} for name, backend in backends.items()}
    assert len({text for text, _ in out["hf"].values()}) > len(prompts) // 4, "outputs too uniform to compare"
    assert out["vllm"] == out["hf"]            # the texts, and whether each ended on EOS
    if tuned:                                  # the tuned model stops after its answer
        assert sum(stopped for _, stopped in out["hf"].values()) >= len(prompts) * 3 // 4


def test_chat_prompt_has_one_bos_and_stops_at_the_end_token_on_vllm(study):
    from inherent_limits.base_vs_instruct.benchmarks import get_bench
    from inherent_limits.base_vs_instruct.decoding import DecodeSettings, HFDecoder, VLLMDecoder
    from inherent_limits.base_vs_instruct.items import load_items
    from inherent_limits.base_vs_instruct.prompts import prompt_ids
    from inherent_limits.models.loading import load_model

    _, smol, _, engine = study
    tokenizer = engine.tokenizer()
    bench, item = get_bench("gsm8k"), load_items("gsm8k", data_dir="bundled")[0]
    ids = prompt_ids(tokenizer, bench, item, (), chat=True)
    assert ids[0] == tokenizer.bos_token_id and ids[1] != tokenizer.bos_token_id
    settings = DecodeSettings("greedy", max_new_tokens=400)
    (on_vllm,) = VLLMDecoder(engine.llm, tokenizer).decode(ids, settings)
    (on_hf,) = HFDecoder(load_model(smol), tokenizer).decode(ids, settings)
    assert on_vllm.text.strip() and len(on_vllm.token_ids) < 400      # stopped at <|im_end|>, not at the cap
    assert on_vllm.token_ids == on_hf.token_ids
