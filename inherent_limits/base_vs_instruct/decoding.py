"""Decoding for the base-vs-instruct study on HF transformers and vLLM: CoT decoding, sampling, greedy.

CoT decoding (Wang & Zhou 2024): one forward pass over the prompt gives the top-K first tokens;
each branch (prompt ids + its first token) is continued greedily. On HF the prompt pass's KV cache
is repeated for the K branches, which continue in one generate call (the prompts of a call are
batched, left-padded); on vLLM prefix caching shares the prompt. For every generated token the margin
p(top-1) - p(top-2) of the raw next-token distribution is kept; a branch's confidence is the mean
margin over the tokens of its answer span, located through the character offsets of the generated
ids themselves (`token_span`), never by re-encoding the answer string.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from inherent_limits.core.errors import UserError

DECODINGS = ("cot", "sample", "greedy")


@dataclass
class Sample:
    """One generated continuation: its ids (EOS cut off), its text; CoT: its first token (kept when it
    is EOS, which leaves the branch empty) and per-token margins."""
    index: int
    token_ids: list[int]
    text: str
    margins: Optional[list[float]] = None
    first_token: Optional[int] = None


@dataclass(frozen=True)
class DecodeSettings:
    """What a decoding call needs: CoT's K, sampling's n, temperature and seed, the length cap."""
    decoding: str
    k: int = 20
    n: int = 20
    temperature: float = 0.05
    max_new_tokens: int = 8192
    seed: int = 42

    def __post_init__(self):
        if self.decoding not in DECODINGS:
            raise UserError(f"unknown decoding {self.decoding!r}: choose one of {', '.join(DECODINGS)}")
        if self.k < 1 or self.n < 1 or self.max_new_tokens < 1:
            raise UserError("--cot_k, --num_samples and --max_new_tokens must be positive")
        if self.temperature <= 0:
            raise UserError("--temperature must be positive (use --instruct_decoding greedy for greedy)")

    @property
    def samples(self) -> int:
        """How many samples one prompt gets."""
        return {"cot": self.k, "sample": self.n, "greedy": 1}[self.decoding]


def decode_text(tokenizer, ids: Sequence[int]) -> str:
    """The text of generated ids, the one way every caller decodes them."""
    return tokenizer.decode(list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False)


def token_span(tokenizer, ids: Sequence[int], start: int, end: int) -> tuple[int, int]:
    """Token range [first, last) of `ids` whose text covers characters [start, end) of decode_text(ids).

    Token t covers characters [L(t), L(t+1)) where L(i) is the length of the text of the first i
    ids; L is found by binary search (a few prefix decodes, cheap also for long continuations).
    """
    if not 0 <= start < end:
        raise ValueError(f"empty or negative character span [{start}, {end})")
    ids = list(ids)

    def covering(char: int) -> int:  # smallest t with L(t+1) > char
        lo, hi = 0, len(ids) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if len(decode_text(tokenizer, ids[:mid + 1])) > char:
                hi = mid
            else:
                lo = mid + 1
        return lo

    if end > len(decode_text(tokenizer, ids)):
        raise ValueError(f"character span [{start}, {end}) is beyond the generated text")
    return covering(start), covering(end - 1) + 1


def confidence(tokenizer, sample: Sample, start: int, end: int) -> float:
    """Mean top-1 minus top-2 probability over the tokens of characters [start, end) of the sample."""
    first, last = token_span(tokenizer, sample.token_ids, start, end)
    span = sample.margins[first:last]
    return float(sum(span) / len(span))


def eos_ids(model_generation_config, tokenizer) -> set[int]:
    """Every id that ends a continuation: the model's generation config EOS ids and the tokenizer's."""
    eos = getattr(model_generation_config, "eos_token_id", None)
    ids = set(eos if isinstance(eos, (list, tuple)) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def cut_at_eos(ids: Sequence[int], eos: set[int]) -> list[int]:
    """The ids before the first EOS."""
    out = []
    for token in ids:
        if token in eos:
            break
        out.append(int(token))
    return out


COT_MODES = ("cache", "rows", "calls")


class HFDecoder:
    """CoT decoding, sampling and greedy decoding with a transformers model.

    Greedy and CoT decoding batch the prompts of a call (left padding, attention mask); sampling
    runs one prompt at a time, so each item keeps its own seed. CoT decoding runs each prompt once:
    its KV cache is repeated for the K branches, which continue from the first token alone.
    """

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer
        self.eos = eos_ids(model.generation_config, tokenizer)
        self.context = getattr(model.config, "max_position_embeddings", None) or 1 << 30
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(self.eos)

    def _config(self, max_new_tokens: int, sample: Optional[DecodeSettings] = None):
        """Explicit settings: values the model's generation_config may set (top_k, penalties) are neutral."""
        from transformers import GenerationConfig

        neutral = dict(repetition_penalty=1.0, no_repeat_ngram_size=0, num_beams=1,
                       pad_token_id=self.pad, eos_token_id=sorted(self.eos), max_new_tokens=max_new_tokens)
        if sample is None:
            return GenerationConfig(do_sample=False, **neutral)
        return GenerationConfig(do_sample=True, temperature=sample.temperature, top_k=0, top_p=1.0,
                                typical_p=1.0, num_return_sequences=sample.n, **neutral)

    def _padded(self, prompts: list[list[int]]):
        """Left-padded input ids and attention mask of the prompts, on the model's device."""
        import torch

        width = max(len(p) for p in prompts)
        ids = torch.tensor([[self.pad] * (width - len(p)) + list(p) for p in prompts], device=self.model.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.model.device)
        return ids, mask

    def _generate(self, ids, mask, max_new_tokens: int, recorder=None, cache=None):
        import torch
        from transformers import LogitsProcessorList

        with torch.inference_mode():
            return self.model.generate(input_ids=ids, attention_mask=mask, **self._cache_arg(cache),
                                       generation_config=self._config(max_new_tokens),
                                       logits_processor=LogitsProcessorList([recorder] if recorder else []))

    def _cache_arg(self, cache) -> dict:
        """The KV cache argument under this transformers version's name (`cache` from 5.2x, before
        that `past_key_values`)."""
        import inspect

        if cache is None:
            return {}
        model = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model  # peft
        name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        return {name: cache}

    def decode(self, prompt_ids: list[int], settings: DecodeSettings) -> list[Sample]:
        """The samples of one prompt under `settings`."""
        return self.decode_many([prompt_ids], [settings])[0]

    def decode_many(self, prompts: list[list[int]], settings: list[DecodeSettings]) -> list[list[Sample]]:
        """The samples of each prompt: greedy prompts in one batch, CoT prompts in one batch per K,
        sampled prompts one by one."""
        out: list = [None] * len(prompts)
        groups: dict = {}
        for i, s in enumerate(settings):
            if s.decoding == "sample":
                out[i] = self._sample(prompts[i], s)
            else:
                groups.setdefault((s.decoding, s.k), []).append(i)
        for (decoding, k), indices in groups.items():
            chosen, limits = [prompts[i] for i in indices], [settings[i].max_new_tokens for i in indices]
            done = self._cot(chosen, k, limits) if decoding == "cot" else self._greedy(chosen, limits)
            for i, samples in zip(indices, done):
                out[i] = samples
        return out

    def _sample(self, prompt_ids: list[int], settings: DecodeSettings) -> list[Sample]:
        import torch
        from transformers import set_seed

        ids = torch.tensor([prompt_ids], device=self.model.device)
        set_seed(settings.seed)
        with torch.inference_mode():
            out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                      generation_config=self._config(settings.max_new_tokens, settings))
        return [self._sample_of(i, row[len(prompt_ids):]) for i, row in enumerate(out.tolist())]

    def _sample_of(self, index: int, row: list[int]) -> Sample:
        ids = cut_at_eos(row, self.eos)
        return Sample(index, ids, decode_text(self.tokenizer, ids))

    def _greedy(self, prompts: list[list[int]], limits: list[int]) -> list[list[Sample]]:
        """One greedy continuation per prompt, in one batch (each cut to its own length limit)."""
        ids, mask = self._padded(prompts)
        out = self._generate(ids, mask, max(limits))[:, ids.shape[1]:].tolist()
        return [[self._sample_of(0, row[:limit])] for row, limit in zip(out, limits)]

    def cot_branches(self, prompt_ids: list[int], k: int, max_new_tokens: int, mode: str = "cache") -> list[Sample]:
        """K branches, branch i starting with the i-th most probable first token, each continued greedily.

        mode "cache" (the study's): one prompt pass, its KV cache shared by the K branches; "rows":
        the K rows prompt + first token in one generate call; "calls": one generate call per branch
        (as optillm). The last two re-run the prompt per branch; they are kept for comparison.
        """
        if mode not in COT_MODES:
            raise ValueError(f"unknown CoT mode {mode!r}")
        if mode == "cache":
            return self._cot([prompt_ids], k, [max_new_tokens])[0]
        first, first_margins = self._first_tokens([prompt_ids], k)
        rows = [prompt_ids + [token] for token in first[0]]
        continued = []
        for group in ([rows] if mode == "rows" else [[row] for row in rows]):
            recorder = TopTwoMargins()
            ids, mask = self._padded(group)
            out = self._generate(ids, mask, max_new_tokens - 1, recorder) if max_new_tokens > 1 else ids
            continued += list(zip(out[:, len(prompt_ids):].tolist(), recorder.rows(len(group))))
        return self._branches(continued, first_margins[0], max_new_tokens)

    def _first_tokens(self, prompts: list[list[int]], k: int, cache=None):
        """The top-k next tokens of each prompt (most probable first) and its top-1 minus top-2 margin;
        with `cache`, the prompts' keys and values are kept in it."""
        import torch

        ids, mask = self._padded(prompts)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                use_cache=cache is not None, **self._cache_arg(cache)).logits[:, -1]
        top = torch.softmax(logits.float(), dim=-1).topk(max(k, 2))
        return top.indices[:, :k].tolist(), (top.values[:, 0] - top.values[:, 1]).tolist()

    def _cot(self, prompts: list[list[int]], k: int, limits: list[int]) -> list[list[Sample]]:
        """CoT branches of several prompts: one padded pass over the prompts fills a KV cache, repeated
        K times; the P x K branches then continue from their first token in one generate call."""
        import torch
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        first, first_margins = self._first_tokens(prompts, k, cache)
        ids, mask = self._padded(prompts)
        longest = max(limits)
        tokens = torch.tensor([t for row in first for t in row], device=ids.device).unsqueeze(1)
        rows = torch.cat([ids.repeat_interleave(k, 0), tokens], 1)
        recorder = TopTwoMargins()
        if longest > 1:
            cache.batch_repeat_interleave(k)
            rows_mask = torch.cat([mask.repeat_interleave(k, 0), torch.ones_like(tokens)], 1)
            rows = self._generate(rows, rows_mask, longest - 1, recorder, cache)
        continued = list(zip(rows[:, ids.shape[1]:].tolist(), recorder.rows(len(rows))))
        return [self._branches(continued[p * k:(p + 1) * k], first_margins[p], limit)
                for p, limit in enumerate(limits)]

    def _branches(self, continued: list, first_margin: float, limit: int) -> list[Sample]:
        """Samples of (generated ids from the first token on, margins of the later steps) pairs."""
        out = []
        for i, (row, steps) in enumerate(continued):
            row = row[:limit]
            ids = [] if row[0] in self.eos else cut_at_eos(row, self.eos)
            out.append(Sample(i, ids, decode_text(self.tokenizer, ids), ([first_margin] + steps)[:len(ids)], row[0]))
        return out


class TopTwoMargins:
    """A logits processor that leaves the scores alone and records p(top-1) - p(top-2) per row and step.

    With the neutral generation settings of HFDecoder no processor runs before it, so it sees the
    raw logits of the model.
    """

    def __init__(self):
        self.steps = []

    def __call__(self, input_ids, scores):
        import torch

        top = torch.softmax(scores.float(), dim=-1).topk(2, dim=-1).values
        self.steps.append((top[:, 0] - top[:, 1]).cpu())
        return scores

    def rows(self, count: int) -> list[list[float]]:
        """The recorded margins per row (empty lists when nothing was generated)."""
        import torch

        return torch.stack(self.steps, dim=1).tolist() if self.steps else [[] for _ in range(count)]


class VLLMDecoder:
    """The same decodings with a vLLM engine; prompts go in as token ids (TokensPrompt), text comes
    from the HF tokenizer, so both backends decode identically."""

    def __init__(self, llm, tokenizer, lora_request=None):
        self.llm, self.tokenizer, self.lora = llm, tokenizer, lora_request
        self.eos = eos_ids(None, tokenizer) | set(_vllm_eos(llm))
        self.context = llm.llm_engine.model_config.max_model_len

    def _generate(self, prompts: list[list[int]], params: list[dict]):
        """One engine call: each prompt (token ids) with its own SamplingParams."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        return self.llm.generate([TokensPrompt(prompt_token_ids=ids) for ids in prompts],
                                 [SamplingParams(**p) for p in params], use_tqdm=False, lora_request=self.lora)

    def decode(self, prompt_ids: list[int], settings: DecodeSettings) -> list[Sample]:
        """The samples of one prompt under `settings`."""
        return self.decode_many([prompt_ids], [settings])[0]

    def decode_many(self, prompts: list[list[int]], settings: list[DecodeSettings]) -> list[list[Sample]]:
        """The samples of many prompts, in two engine calls at most (vLLM schedules them together)."""
        out: list = [None] * len(prompts)
        cot = [i for i, s in enumerate(settings) if s.decoding == "cot"]
        for i, samples in zip(cot, self._cot_many([prompts[i] for i in cot], [settings[i] for i in cot])):
            out[i] = samples
        rest = [i for i, s in enumerate(settings) if s.decoding != "cot"]
        if rest:
            params = [dict(n=settings[i].n, temperature=settings[i].temperature, seed=settings[i].seed)
                      if settings[i].decoding == "sample" else dict(n=1, temperature=0.0) for i in rest]
            params = [dict(top_p=1.0, top_k=0, repetition_penalty=1.0, max_tokens=settings[i].max_new_tokens, **p)
                      for i, p in zip(rest, params)]
            for i, result in zip(rest, self._generate([prompts[i] for i in rest], params)):
                out[i] = [Sample(j, ids, decode_text(self.tokenizer, ids)) for j, ids in
                          enumerate(cut_at_eos(c.token_ids, self.eos) for c in result.outputs)]
        return out

    def cot_branches(self, prompt_ids: list[int], k: int, max_new_tokens: int) -> list[Sample]:
        """K branches as prompt ids + branch token id, continued greedily in one request batch."""
        return self._cot_many([prompt_ids], [DecodeSettings("cot", k=k, max_new_tokens=max_new_tokens)])[0]

    def _cot_many(self, prompts: list[list[int]], settings: list[DecodeSettings]) -> list[list[Sample]]:
        """Step 1: top-K first tokens of every prompt (max_tokens=1, logprobs=K) in one call; step 2:
        every prompt's K branches (prompt ids + branch token id, logprobs=2) greedily in one call."""
        if not prompts:
            return []
        firsts = self._generate(prompts, [dict(temperature=0.0, max_tokens=1, logprobs=max(s.k, 2)) for s in settings])
        tops = []
        for result, s in zip(firsts, settings):
            ranked = sorted(result.outputs[0].logprobs[0].items(), key=lambda item: item[1].rank)
            tops.append(([token for token, _ in ranked[:s.k]], _margin(dict(ranked[:2]))))
        rows, params = [], []
        for prompt, s, (first, _) in zip(prompts, settings, tops):
            if s.max_new_tokens > 1:
                rows += [prompt + [token] for token in first]
                params += [dict(temperature=0.0, max_tokens=s.max_new_tokens - 1, logprobs=2)] * len(first)
        continued = iter(self._generate(rows, params) if rows else [])
        out = []
        for s, (first, first_margin) in zip(settings, tops):
            samples = []
            for i, token in enumerate(first):
                completion = next(continued).outputs[0] if s.max_new_tokens > 1 else None
                if token in self.eos:
                    samples.append(Sample(i, [], "", [], token))
                    continue
                ids = cut_at_eos([token] + (list(completion.token_ids) if completion else []), self.eos)
                steps = [_margin(position) for position in (completion.logprobs if completion else [])]
                samples.append(Sample(i, ids, decode_text(self.tokenizer, ids),
                                      ([first_margin] + steps)[:len(ids)], token))
            out.append(samples)
        return out


def _margin(position: dict) -> float:
    import math

    ranked = sorted(position.values(), key=lambda lp: lp.rank)
    return math.exp(ranked[0].logprob) - math.exp(ranked[1].logprob)


def _vllm_eos(llm) -> list[int]:
    config = llm.llm_engine.model_config.hf_config
    eos = getattr(config, "eos_token_id", None)
    return list(eos) if isinstance(eos, (list, tuple)) else [eos] if eos is not None else []
