"""A tiny local Llama-architecture model for tests and the offline demo.

A byte-level BPE tokenizer is trained on the bundled raw data and the prompt templates,
a 2-layer Llama model is initialised under a fixed seed and pretrained for 250 steps
(10-30 s on 2 CPU cores) on the same texts (so greedy generation gives text-like tokens, not one repeated token),
and both are saved as an ordinary model directory that Auto classes load.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

import torch
from tqdm import tqdm

from inherent_limits.core.atomic_files import atomic_dir
from inherent_limits.data.loading import BUNDLED_RAW
from inherent_limits.models.offline import build_once, cache_root
from inherent_limits.prompts.builder import DEFAULT_PROMPT_TEMPLATES

VERSION = 3  # part of the cache path: bump it when the build changes (v3: base-vs-instruct rows)
VOCAB_SIZE = 2000
SPECIAL_TOKENS = ("<s>", "</s>", "<unk>", "<pad>")  # ids 0..3: bos, eos, unk, pad
BLOCK = 128          # pretraining sequence length
BATCH = 8
STEPS = 250
LEARNING_RATE = 3e-3
TEMPLATE_COPIES = 20  # the prompt templates are few: repeat them so their markers become tokens


ID_KEY = re.compile(r"(^|_)(u|l|e)?ids?x?$")  # id, idx, uid, turn_ids...: identifiers, not text


def _strings(value) -> Iterator[str]:
    """Every string in a JSON value, except under identifier keys."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if not ID_KEY.search(key):
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def corpus() -> list[str]:
    """One document per bundled raw row (its string values, one per line) plus the prompt templates."""
    docs = []
    for path in sorted(BUNDLED_RAW.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                docs.append("\n".join(s for s in _strings(json.loads(line)) if s.strip()))
    templates = list(json.loads(DEFAULT_PROMPT_TEMPLATES.read_text(encoding="utf-8")).values())
    docs.extend(templates * TEMPLATE_COPIES)
    return [d for d in docs if d]


def train_tokenizer(docs: list[str]):
    """Byte-level BPE (exact round trip of any text), <s> prepended to every encoding."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(docs, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B:1", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", pad_token="<pad>", padding_side="left",
                                   clean_up_tokenization_spaces=False, model_max_length=4096)


def _blocks(tokenizer, docs: list[str]) -> torch.Tensor:
    """All documents as one token stream (<s> doc </s> ...), cut into BLOCK-long rows."""
    stream = []
    for ids in tokenizer(docs)["input_ids"]:
        stream.extend(ids + [tokenizer.eos_token_id])
    usable = len(stream) // BLOCK * BLOCK
    return torch.tensor(stream[:usable]).view(-1, BLOCK)


def _model(tokenizer):
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    # head_dim 32: the smallest head size vLLM's FlashAttention backend accepts; 2 query heads
    # share 1 KV head (grouped-query attention, as in Mistral and Llama-2-70B)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=4096, tie_word_embeddings=False,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, do_sample=False)
    return model


def _pretrain(model, blocks: torch.Tensor, seed: int) -> None:
    """A few hundred AdamW steps of causal-LM training on random blocks."""
    gen = torch.Generator().manual_seed(seed)
    optim = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.0)
    model.train()
    for _ in tqdm(range(STEPS), desc="pretraining tiny model", leave=False):
        batch = blocks[torch.randint(len(blocks), (BATCH,), generator=gen)]
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optim.step()
        optim.zero_grad()
    model.eval()


def build_tiny_model(out_dir: Path, seed: int = 0) -> Path:
    """Train the tokenizer, initialise and pretrain the model, save both atomically into `out_dir`."""
    out_dir = Path(out_dir)
    docs = corpus()
    tokenizer = train_tokenizer(docs)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is as fast, and immune to busy CPUs
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = _model(tokenizer)
            _pretrain(model, _blocks(tokenizer, docs), seed)
    finally:
        torch.set_num_threads(threads)
    with atomic_dir(out_dir, overwrite=True) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return out_dir


def tiny_model_dir() -> Path:
    """Where the tiny model is cached."""
    return cache_root() / f"tiny-llama-v{VERSION}"


def ensure_tiny_model() -> Path:
    """The tiny model's directory, built once; concurrent processes wait on a file lock."""
    target = tiny_model_dir()
    return build_once(target, "config.json", f"building the tiny model in {target} (once, under a minute)",
                      lambda: build_tiny_model(target))
