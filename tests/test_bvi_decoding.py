"""CoT decoding, sampling and greedy decoding on the tiny model, checked against manual forward passes."""
import pytest
import torch

from inherent_limits.base_vs_instruct.decoding import (
    DecodeSettings,
    HFDecoder,
    Sample,
    confidence,
    cut_at_eos,
    decode_text,
    token_span,
)
from inherent_limits.core.errors import UserError
from inherent_limits.models.loading import load_model, load_tokenizer

PROMPT = "Question: Tom has 3 apples and buys 4 more. How many apples does he have?\nAnswer:"


@pytest.fixture(scope="module")
def tiny(tiny_model):
    tokenizer = load_tokenizer(tiny_model)
    model = load_model(tiny_model)
    return model, tokenizer, HFDecoder(model, tokenizer), tokenizer(PROMPT)["input_ids"]


def _margins(model, ids):
    """p(top-1) - p(top-2) of the raw next-token distribution after every prefix of `ids`."""
    with torch.inference_mode():
        probs = torch.softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), dim=-1)
    top = probs.topk(2, dim=-1).values
    return (top[:, 0] - top[:, 1]).tolist(), probs


def test_branch_i_starts_with_the_ith_most_probable_first_token(tiny):
    model, _, decoder, prompt = tiny
    _, probs = _margins(model, prompt)
    expected = probs[-1].argsort(descending=True)[:6].tolist()
    branches = decoder.cot_branches(prompt, 6, 12)
    assert [b.index for b in branches] == list(range(6))
    assert [b.first_token for b in branches] == expected
    assert all(b.token_ids[:1] == ([] if b.first_token in decoder.eos else [b.first_token]) for b in branches)


def test_branch_margins_are_those_of_a_manual_forward_pass(tiny):
    model, _, decoder, prompt = tiny
    for branch in decoder.cot_branches(prompt, 4, 16):
        manual, _ = _margins(model, prompt + branch.token_ids)
        expected = manual[len(prompt) - 1:len(prompt) - 1 + len(branch.token_ids)]
        assert branch.margins == pytest.approx(expected, abs=1e-5)
        assert len(branch.margins) == len(branch.token_ids) > 1


def test_kv_cache_branches_equal_batched_rows_and_one_call_per_branch(tiny):
    _, _, decoder, prompt = tiny
    cached = decoder.cot_branches(prompt, 5, 20)
    for mode in ("rows", "calls"):
        other = decoder.cot_branches(prompt, 5, 20, mode=mode)
        assert [b.token_ids for b in cached] == [o.token_ids for o in other], mode
        for b, o in zip(cached, other):
            assert b.margins == pytest.approx(o.margins, abs=1e-5), mode


def test_prompts_batched_across_items_equal_each_prompt_alone(tiny):
    """Prompts of different lengths (left padding) and length limits in one call: every prompt gets
    what it gets alone, for CoT (branches and margins) and greedy decoding."""
    _, tokenizer, decoder, prompt = tiny
    prompts = [prompt, tokenizer("Question: 12 + 30?\nAnswer:")["input_ids"], prompt[:9]]
    assert len({len(p) for p in prompts}) == 3
    limits = (18, 6, 11)
    cot = decoder.decode_many(prompts, [DecodeSettings("cot", k=4, max_new_tokens=n) for n in limits])
    greedy = decoder.decode_many(prompts, [DecodeSettings("greedy", max_new_tokens=n) for n in limits])
    for p, n, branches, (alone,) in zip(prompts, limits, cot, greedy):
        single = decoder.cot_branches(p, 4, n, mode="calls")
        assert [b.token_ids for b in branches] == [s.token_ids for s in single]
        assert [b.first_token for b in branches] == [s.first_token for s in single]
        for b, s in zip(branches, single):
            assert b.margins == pytest.approx(s.margins, abs=1e-5)
        assert alone.token_ids == single[0].token_ids and len(alone.token_ids) <= n


def test_greedy_is_the_top_token_branch_and_sampling_is_seeded(tiny):
    _, _, decoder, prompt = tiny
    (greedy,) = decoder.decode(prompt, DecodeSettings("greedy", max_new_tokens=15))
    assert greedy.token_ids == decoder.cot_branches(prompt, 2, 15)[0].token_ids
    settings = DecodeSettings("sample", n=4, temperature=1.0, max_new_tokens=10, seed=7)
    first, again = decoder.decode(prompt, settings), decoder.decode(prompt, settings)
    assert [s.token_ids for s in first] == [s.token_ids for s in again] and len(first) == 4
    assert len({tuple(s.token_ids) for s in first}) > 1  # temperature 1 on the tiny model: they differ
    other = decoder.decode(prompt, DecodeSettings("sample", n=4, temperature=1.0, max_new_tokens=10, seed=8))
    assert [s.token_ids for s in other] != [s.token_ids for s in first]


def test_model_generation_config_does_not_leak_into_greedy_branches(tiny):
    model, _, decoder, prompt = tiny
    clean = decoder.cot_branches(prompt, 3, 12)
    saved = model.generation_config.to_dict()
    try:  # an instruct checkpoint's generation_config may ask for sampling and penalties
        model.generation_config.do_sample = True
        model.generation_config.repetition_penalty = 3.0
        model.generation_config.top_k = 2
        assert [b.token_ids for b in decoder.cot_branches(prompt, 3, 12)] == [b.token_ids for b in clean]
    finally:
        model.generation_config.update(**saved)


def _prefix_lengths(tokenizer, ids):
    return [len(decode_text(tokenizer, ids[:i])) for i in range(len(ids) + 1)]


def test_token_span_covers_exactly_the_tokens_of_the_characters(tiny):
    _, tokenizer, decoder, prompt = tiny
    branch = decoder.cot_branches(prompt, 2, 24)[1]
    lengths = _prefix_lengths(tokenizer, branch.token_ids)
    text = branch.text
    for start in range(len(text)):
        for end in range(start + 1, min(len(text), start + 12) + 1):
            first, last = token_span(tokenizer, branch.token_ids, start, end)
            # brute force: the tokens whose character range [L(t), L(t+1)) meets [start, end)
            expected = [t for t in range(len(branch.token_ids)) if lengths[t] < end and lengths[t + 1] > start]
            assert list(range(first, last)) == expected, (start, end)


def test_confidence_of_a_leading_space_answer_is_its_own_token():
    """The answer "60" inside " 60" is found by offsets; re-encoding "60" would give other ids."""
    class Chars:  # a tokenizer whose ids are characters: offsets are plain to check
        def decode(self, ids, **_):
            return "".join(chr(i) for i in ids)

    text = "so 7 + 53 = 60."
    sample = Sample(0, [ord(c) for c in text], text, [0.1 * i for i in range(len(text))])
    start = text.index("60")
    assert token_span(Chars(), sample.token_ids, start, start + 2) == (start, start + 2)
    assert confidence(Chars(), sample, start, start + 2) == pytest.approx(0.1 * (2 * start + 1) / 2)


def test_confidence_mean_over_answer_tokens_of_a_real_branch(tiny):
    model, tokenizer, decoder, prompt = tiny
    branch = decoder.cot_branches(prompt, 3, 24)[2]
    lengths = _prefix_lengths(tokenizer, branch.token_ids)
    a, b = 2, 5  # tokens 2..4: their characters, minus a leading space
    start, end = lengths[a], lengths[b]
    while branch.text[start] == " ":
        start += 1
    manual, _ = _margins(model, prompt + branch.token_ids)
    expected = manual[len(prompt) - 1 + a:len(prompt) - 1 + b]
    assert confidence(tokenizer, branch, start, end) == pytest.approx(sum(expected) / len(expected), abs=1e-5)


def test_span_outside_the_text_is_refused(tiny):
    _, tokenizer, decoder, prompt = tiny
    branch = decoder.cot_branches(prompt, 1, 8)[0]
    with pytest.raises(ValueError):
        token_span(tokenizer, branch.token_ids, 0, len(branch.text) + 1)
    with pytest.raises(ValueError):
        token_span(tokenizer, branch.token_ids, 3, 3)


def test_cut_at_eos_and_settings_validation():
    assert cut_at_eos([5, 6, 1, 7], {1}) == [5, 6]
    assert cut_at_eos([1, 5], {1}) == []
    assert DecodeSettings("cot", k=7).samples == 7 and DecodeSettings("greedy").samples == 1
    with pytest.raises(UserError, match="unknown decoding"):
        DecodeSettings("beam")
    with pytest.raises(UserError, match="temperature"):
        DecodeSettings("sample", temperature=0)
