"""BERTScore accuracy with the real bundled all-MiniLM-L6-v2 encoder, and the bertscore.py CLI."""
import csv
import time
from pathlib import Path

import pytest
from conftest import REPO

from inherent_limits.core.csv_logs import BERTSCORE_COLUMNS, EVAL_COLUMNS, append_row
from inherent_limits.core.errors import UserError
from inherent_limits.evaluation import bertscore_accuracy as bs

HEADER = "test_example\tresponse\ttarget\tproc_model_response\tgold_options\n"


@pytest.fixture(scope="module")
def scorer():
    return bs.make_scorer(bs.BUNDLED, device="cpu")


def write_tsv(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join("\t".join(row) + "\n" for row in rows))
    return path


def loop_choose(scorer, predictions, options):
    """The reference's scheme: one scorer.score call per prediction."""
    chosen = []
    for pred, opts in zip(predictions, options):
        f1 = scorer.score([pred] * len(opts), list(opts))[2].tolist()
        chosen.append(opts[f1.index(max(f1))])
    return chosen


def test_choose_options_picks_the_obvious_option(scorer):
    sentences = ["A man performs a song on his guitar.", "The stock market fell sharply today.",
                 "Two dogs are sleeping in the snow."]
    chosen = bs.choose_options(scorer, ["yes", "no", "A man is playing the guitar."],
                               [["yes", "no"], ["yes", "no"], sentences])
    assert chosen == ["yes", "no", sentences[0]]


def test_batched_equals_one_call_per_prediction(scorer):
    labels = ["World", "Sports", "Business", "Sci/Tech"]
    predictions = ["Sports", "The answer is Business.", "sci/tech", "I think World because of the war.",
                   "Answer Solution: Sports END_EXAMPLES", "The man opens the window slowly.",
                   "she throws a red ball", "entailment", "It is not possible to tell.", "no"]
    options = [labels] * 5 + [["the man opens the window", "a dog runs", "the chef cooks pasta"],
                              ["she catches a ball", "she throws a red ball", "he sleeps"],
                              ["entailment", "neutral", "contradiction"],
                              ["yes", "it is not possible to tell", "no"], ["yes", "no"]]
    batched = bs.choose_options(scorer, predictions, options)
    assert batched == loop_choose(scorer, predictions, options)
    assert batched[:3] == ["Sports", "Business", "Sci/Tech"]


def test_blank_predictions_and_options(scorer):
    # bert-score scores a blank side 0, so a blank prediction takes the first option
    assert bs.choose_options(scorer, ["", float("nan"), None, "  "], [["no", "yes"]] * 4) == ["no"] * 4
    assert bs.choose_options(scorer, ["yes"], [["", "yes"]]) == ["yes"]


def test_empty_answers_can_count_wrong(scorer):
    blanks = ["", None, "  ", "yes"]
    assert bs.choose_options(scorer, blanks, [["no", "yes"]] * 4, empty_answers="wrong") == ["", "", "", "yes"]
    # all answers empty: the reference's behaviour scores the share of first-option targets, "wrong" scores 0
    items = (["", "", "", ""], ["no", "no", "yes", "no"], [["no", "yes"]] * 4)
    assert bs.score_items(items, scorer)[0] == 75.0
    assert bs.score_items(items, scorer, empty_answers="wrong")[0] == 0.0


def test_single_option_is_chosen_unscored():
    assert bs.choose_options(None, ["anything", ""], [["only"], ["one"]]) == ["only", "one"]


def test_accuracy_arithmetic():
    assert bs.bertscore_accuracy(["a", "b", "c"], ["a", "x", "c"]) == pytest.approx(200 / 3)
    assert bs.bertscore_accuracy(["1", "0"], [1, 0]) == 100.0
    assert bs.bertscore_accuracy(["yes"], ["no"]) == 0.0
    with pytest.raises(ValueError):
        bs.bertscore_accuracy(["a"], ["a", "b"])


def test_response_file_keeps_none_strings(tmp_path, scorer):
    path = write_tsv(tmp_path / "r.csv", [("q1", "r", "None", "None", "None###NA"),
                                          ("q2", "r", "NA", "NA", "None###NA"),
                                          ("q3", "r", "1", "0", "0###1")])
    predictions, targets, options = bs.response_items(path)
    assert predictions == ["None", "NA", "0"] and targets == ["None", "NA", "1"]
    assert options == [["None", "NA"], ["None", "NA"], ["0", "1"]]
    accuracy, chosen, n = bs.score_response_file(path, scorer)
    assert (chosen, n) == (["None", "NA", "0"], 3) and accuracy == pytest.approx(200 / 3)


def test_response_file_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        bs.read_response_file(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("test_example\ttarget\tgold_options\nq\ta\ta###b\n")
    with pytest.raises(UserError, match="missing column.*proc_model_response"):
        bs.read_response_file(bad)
    mixed = write_tsv(tmp_path / "mixed.csv", [("q1", "r", "a", "a", "a###b"), ("q2", "r", "a", "a", "")])
    with pytest.raises(UserError, match="1 of 2 items have no gold options"):
        bs.response_items(mixed)


def test_response_path_layout():
    root = Path("/r")
    assert bs.response_path(root, "e", "run", False) == root / "saved_models/run/evals/e.csv"
    assert bs.response_path(root, "e", "base", False) == root / "saved_models/base_model_evals/e.csv"
    assert bs.response_path(root, "e", "run", True) == root / "saved_models/run/samplegen_pipeline_evals/e.csv"


def test_resolve_scorer_model(tmp_path):
    assert bs.resolve_scorer_model("bundled", None) == (str(bs.bundled_model_dir()), 6)
    assert bs.resolve_scorer_model(str(bs.bundled_model_dir()), 3) == (str(bs.bundled_model_dir()), 3)
    with pytest.raises(UserError, match="pass --num_layers"):
        bs.resolve_scorer_model(str(bs.bundled_model_dir()), None)
    with pytest.raises(UserError, match="out of range"):
        bs.resolve_scorer_model("bundled", 7)
    with pytest.raises(UserError, match="does not exist"):
        bs.resolve_scorer_model(str(tmp_path / "nope"), 2)
    with pytest.raises(UserError, match="--bertscore_model bundled"):
        bs.resolve_scorer_model("roberta-large", None)


def test_roberta_tokenizer_keeps_the_prefix_space(tmp_path):
    """bert-score encodes RoBERTa input with a leading space; transformers 5 ignores its per-call flag."""
    from bert_score.utils import sent_encode
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(["the cat sat on the mat", "yes no maybe"] * 20, vocab_size=300,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(tmp_path))
    RobertaTokenizer.from_pretrained(str(tmp_path), model_max_length=64).save_pretrained(str(tmp_path))
    config = RobertaConfig(vocab_size=300, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=32, max_position_embeddings=70)
    RobertaModel(config).save_pretrained(str(tmp_path))
    scorer = bs.make_scorer(str(tmp_path), num_layers=1, device="cpu")
    tokenizer = scorer._tokenizer
    assert tokenizer.convert_ids_to_tokens(sent_encode(tokenizer, "cat sat"))[1] == "Ġcat"
    assert bs.choose_options(scorer, ["the cat sat"], [["the cat sat", "yes no"]]) == ["the cat sat"]


def write_run(root: Path) -> Path:
    """A response file at the reference's place and its eval_logs.csv row."""
    response = write_tsv(root / "saved_models/run1/evals/e1.csv", [
        ("q1", "Answer Solution: Sports", "Sports", "Sports", "World###Sports###Business###Sci/Tech"),
        ("q2", "r", "Business", "The answer is business.", "World###Sports###Business###Sci/Tech"),
        ("q3", "r", "World", "Sports", "World###Sports###Business###Sci/Tech"),
        ("q4", "r", "Sci/Tech", "science and technology", "World###Sports###Business###Sci/Tech"),
    ])
    append_row(root / "eval_logs.csv", {"job_id": "job-1", "seed": 7, "run_name": "run1", "test_task": "ag_news",
                                        "test_prompt_type": "flan", "model_type": "lora", "num_test": 4,
                                        "eval_mode": "direct", "eval_name": "e1", "condition": "flan_direct",
                                        "accuracy": 50.0}, leading=EVAL_COLUMNS)
    return response


def read_rows(path: Path):
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


@pytest.mark.slow
def test_cli_end_to_end(tmp_path, cli):
    response = write_run(tmp_path)
    first = cli(["bertscore.py", "--root", str(tmp_path), "--input_for_bertscore", "e1", "--input_model", "run1",
                 "--bertscore_model", "bundled", "--slurm_job_id", "11", "--use_exemplar_gen", "False"])
    assert first.returncode == 0, first.stderr
    assert "BERTSCORE ACCURACY: 75.00% (4 items)" in first.stdout
    header, rows = read_rows(tmp_path / "bertscore_evals.csv")
    assert tuple(header[:len(BERTSCORE_COLUMNS)]) == BERTSCORE_COLUMNS
    expected = {"job_id": "job-11", "input_file": "e1", "input_model": "run1", "seed": "7", "test_task": "ag_news",
                "test_prompt_type": "flan", "model_type": "lora", "samplegen_sample_source": "", "num_test": "4",
                "eval_mode": "direct", "bertscore_accuracy": "75.0", "condition": "flan_direct",
                "bertscore_model": "bundled", "num_layers": "6", "num_scored": "4"}
    assert {k: rows[0][k] for k in expected} == expected
    second = cli(["bertscore.py", "--root", str(tmp_path), "--response_file", str(response),
                  "--input_model", "run1", "--bertscore_model", "bundled", "--slurm_job_id", "12"])
    assert second.returncode == 0, second.stderr
    _, rows = read_rows(tmp_path / "bertscore_evals.csv")
    assert [r["job_id"] for r in rows] == ["job-11", "job-12"]
    assert rows[1]["input_file"] == "e1" and rows[1]["seed"] == "7" and rows[1]["bertscore_accuracy"] == "75.0"


def run_failing(cli, args):
    start = time.perf_counter()
    result = cli(["bertscore.py", *args])
    elapsed = time.perf_counter() - start
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr, elapsed


def test_cli_missing_response_file(tmp_path, cli):
    err, _ = run_failing(cli, ["--root", str(tmp_path), "--input_for_bertscore", "e9", "--input_model", "base",
                               "--bertscore_model", "bundled"])
    assert "saved_models/base_model_evals/e9.csv does not exist" in err


def test_cli_roberta_offline_fails_fast(tmp_path, cli):
    write_run(tmp_path)
    err, elapsed = run_failing(cli, ["--root", str(tmp_path), "--input_for_bertscore", "e1",
                                     "--input_model", "run1"])
    assert "roberta-large is not available offline" in err and "--bertscore_model bundled" in err
    assert elapsed < 10


def test_cli_file_without_options(tmp_path, cli):
    write_tsv(tmp_path / "saved_models/run1/evals/gen.csv", [("q1", "r", "a summary", "some text", "")])
    append_row(tmp_path / "eval_logs.csv", {"eval_name": "gen", "test_task": "samsum"}, leading=EVAL_COLUMNS)
    err, _ = run_failing(cli, ["--root", str(tmp_path), "--input_for_bertscore", "gen", "--input_model", "run1",
                               "--bertscore_model", "bundled"])
    assert "gen.csv: no gold options (task samsum is scored by its task metric" in err


@pytest.mark.slow
def test_cli_response_file_alone_logs_under_its_root(tmp_path, cli):
    root = tmp_path / "study"
    response = write_run(root)
    out = cli([str(REPO / "bertscore.py"), "--response_file", str(response), "--bertscore_model", "bundled",
               "--empty_answers", "wrong", "--slurm_job_id", "13"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "bertscore_evals.csv").exists()
    _, rows = read_rows(root / "bertscore_evals.csv")
    assert [(r["test_task"], r["condition"], r["empty_answers"]) for r in rows] == [("ag_news", "flan_direct", "wrong")]
