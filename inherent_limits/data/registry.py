"""The task registry and the study's shared constants.

One `TaskSpec` per task holds everything the pipeline knows about it: where
its raw data comes from (hub path, config, which split trains and which
tests), how raw rows become canonical rows, which fields a prompt shows, its
metrics, whether BERTScore accuracy applies and which FLAN template family
it uses. Clusters, categories, test lists and mixture setups are data below.
Importing this module reads no files, parses no argv and touches no network.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

from inherent_limits.core.errors import UserError, close_names
from inherent_limits.data import preprocess as pp

DEFAULT_SEED = 42
STREAM_CUTOFF = 100_000  # the reference streams at most this many rows per split
DATA_DIR_ENV = "INHERENT_LIMITS_DATA_DIR"
MANUAL_DIR_ENV = "INHERENT_LIMITS_MANUAL_DIR"

# Base models. The reference picks one by --model_path_idx / --model_size_idx from a placeholder list;
# these are the models of the paper, indexable the same way. "tiny" is the project's built-in test model.
MODEL_PATHS = ("mistralai/Mistral-7B-v0.1", "meta-llama/Llama-2-{size}-hf")
MODEL_SIZES = ("7b", "13b", "70b", "13b-chat", "7b-chat")
TINY_MODEL = "tiny"


@dataclass(frozen=True)
class ManualSource:
    """A dataset its creators distribute by hand (form, e-mail, web page)."""
    files: tuple[str, ...]          # candidate paths under --manual_dir; {split} is filled in
    fmt: str                        # tsv | jsonl | json
    url: str
    how: str                        # what to download and where to put it


@dataclass(frozen=True)
class TaskSpec:
    name: str
    preprocess: pp.Preprocessor
    fields: tuple[str, ...]          # fields in prompt order; "options" where the options show
    required: tuple[str, ...]        # raw columns the preprocessing reads
    hub_path: Optional[str] = None
    hub_name: Optional[str] = None
    train_split: str = "train"       # hub split the train+val datasets are built from
    test_split: str = "test"         # hub split the test sets are built from
    gold_split: Optional[str] = None  # source of gold in-context examples (default train_split)
    streaming: bool = True           # the reference streams the first STREAM_CUTOFF rows
    manual: Optional[ManualSource] = None
    target_fields: tuple[str, ...] = ("label",)
    renames: Mapping[str, str] = field(default_factory=dict)
    label_names: tuple[str, ...] = ()
    label_offset: int = 0
    quote_fields: tuple[str, ...] = ()
    option_columns: tuple[str, ...] = ()
    fix_spaced_period: bool = False
    allow_unanswerable: bool = False
    letter_choices: bool = False
    num_choices: int = 0
    text_column: str = "inputs"
    label_column: str = "targets"
    text_cleanup: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ("accuracy",)
    bertscore: bool = True
    template_family: Optional[str] = None   # PATTERNS key; None: BigBench/GSM8K formats
    numeric_answer: bool = False     # answers are numbers ($, % and quotes dropped when read)
    translated: bool = False         # Scottish Gaelic test set: the formats' -translated templates

    @property
    def input_fields(self) -> tuple[str, ...]:
        return tuple(f for f in self.fields if f != "options")

    @property
    def source(self) -> str:
        if self.manual:
            return "manual: " + self.manual.files[0]
        if self.hub_path:
            return self.hub_path + (f" ({self.hub_name})" if self.hub_name else "")
        return "local only"

    def split_for(self, role: str) -> str:
        """Hub split for a role: train, test or gold."""
        return {"train": self.train_split, "test": self.test_split,
                "gold": self.gold_split or self.train_split}[role]


YES_NO = ("yes", "no")
NO_YES = ("no", "yes")
NLI3 = ("yes", "it is not possible to tell", "no")
ANLI3 = ("Yes", "It's impossible to say", "No")
SENTIMENT = ("negative", "positive")
TRUE_FALSE = ("True", "False")

_GLUE = {"hub_path": "glue"}
_SUPER_GLUE = {"hub_path": "super_glue"}
_ROUGE = ("rouge",)


def _nli(name, **kw):
    return TaskSpec(name=name, preprocess=pp.class_label, label_names=NLI3,
                    fields=("premise", "hypothesis", "options"),
                    required=("premise", "hypothesis", "label"),
                    template_family="snli" if name == "snli" else "mnli", **kw)


def _anli(round_: int):
    return TaskSpec(name=f"anli_r{round_}", preprocess=pp.class_label, hub_path="anli",
                    train_split=f"train_r{round_}", test_split=f"test_r{round_}",
                    renames={"premise": "context"}, label_names=ANLI3,
                    fields=("context", "hypothesis", "options"),
                    required=("premise", "hypothesis", "label"), template_family="anli")


def _binary(name, fields, label_names, family=None, **kw):
    return TaskSpec(name=name, preprocess=pp.class_label, label_names=label_names,
                    fields=fields + ("options",),
                    required=tuple(f for f in fields) + ("label",),
                    template_family=family or name, **kw)


def _translation(name, hub_path, config, splits=("train", "test"), **kw):
    return TaskSpec(name=name, preprocess=pp.translation, hub_path=hub_path, hub_name=config,
                    train_split=splits[0], test_split=splits[1],
                    fields=("lang1", "lang2", "sent1", "sent2"), required=("translation",),
                    target_fields=("sent1", "sent2"), template_family=name.split("/")[0],
                    metrics=("bleu",), **kw)


def _summary(name, hub_path, source_fields, target, hub_name=None, renames=None, **kw):
    raw_name = {v: k for k, v in (renames or {}).items()}
    return TaskSpec(name=name, preprocess=pp.template_target, hub_path=hub_path, hub_name=hub_name,
                    fields=source_fields + (target,),
                    required=tuple(raw_name.get(f, f) for f in source_fields) + (target,),
                    renames=renames or {}, target_fields=(target,), template_family=name,
                    metrics=_ROUGE, **kw)


def _opinion(name, preprocess, fields, target, required, filename):
    """Opinion abstracts (Wang & Ling, 2016): a manual download in the creators' JSON."""
    return TaskSpec(name=name, preprocess=preprocess, fields=fields, required=required,
                    target_fields=(target,), streaming=False, template_family=name, metrics=_ROUGE,
                    manual=ManualSource(
                        files=(f"opinion_abstracts/{filename}",), fmt="json",
                        url="http://www.ccs.neu.edu/home/luwang/",
                        how=f"download the opinion abstracts corpus (Wang & Ling, 2016) and put "
                            f"{filename} in <manual_dir>/opinion_abstracts/"))


def _bigbench(name, config=None, num_choices=0, cleanup=()):
    return TaskSpec(name=name, preprocess=pp.bigbench, hub_path="tasksource/bigbench",
                    hub_name=config or name, train_split="validation", test_split="train",
                    gold_split="validation", streaming=False, num_choices=num_choices,
                    text_cleanup=cleanup, fields=("text", "options"),
                    required=("inputs", "targets", "multiple_choice_targets"))


_QA_CLEANUP = (r"Q: ", r" choice:.*")

_TASKS: tuple[TaskSpec, ...] = (
    # --- nli ---
    _anli(1), _anli(2), _anli(3),
    TaskSpec(name="rte", preprocess=pp.class_label, **_GLUE, hub_name="rte", test_split="validation",
             renames={"sentence1": "premise", "sentence2": "hypothesis"}, label_names=YES_NO,
             fields=("premise", "hypothesis", "options"), required=("sentence1", "sentence2", "label"),
             template_family="rte"),
    _nli("snli", hub_path="snli"),
    TaskSpec(name="cb", preprocess=pp.class_label, **_SUPER_GLUE, hub_name="cb", test_split="validation",
             label_names=("yes", "no", "it's impossible to say"),
             fields=("premise", "hypothesis", "options"), required=("premise", "hypothesis", "label"),
             template_family="cb", metrics=("mean_multiclass_f1", "accuracy")),
    _nli("mnli", **_GLUE, hub_name="mnli", test_split="validation_matched"),
    _nli("mnli_matched", **_GLUE, hub_name="mnli_matched", train_split="validation",
         test_split="validation"),
    _nli("mnli_mismatched", **_GLUE, hub_name="mnli_mismatched", train_split="validation",
         test_split="validation"),
    _binary("wnli", ("sentence1", "sentence2"), NO_YES, **_GLUE, hub_name="wnli", test_split="validation"),
    _binary("qnli", ("question", "sentence"), YES_NO, **_GLUE, hub_name="qnli", test_split="validation",
            quote_fields=("sentence", "question")),
    # --- commonsense ---
    TaskSpec(name="copa", preprocess=pp.choice_columns, **_SUPER_GLUE, hub_name="copa",
             test_split="validation", option_columns=("choice1", "choice2"),
             fields=("premise", "question", "options"),
             required=("premise", "choice1", "choice2", "question", "label"), template_family="copa"),
    TaskSpec(name="hellaswag", preprocess=pp.hellaswag, hub_path="Rowan/hellaswag",
             test_split="validation", renames={"ctx": "context"}, fields=("context", "endings"),
             required=("ctx", "endings", "label"), template_family="hellaswag"),
    TaskSpec(name="piqa", preprocess=pp.choice_columns, hub_path="piqa", test_split="validation",
             option_columns=("sol1", "sol2"), fields=("goal", "options"),
             required=("goal", "sol1", "sol2", "label"), template_family="piqa"),
    TaskSpec(name="story_cloze", preprocess=pp.story_cloze, fields=("context", "options"),
             required=("InputSentence1", "InputSentence2", "InputSentence3", "InputSentence4",
                       "RandomFifthSentenceQuiz1", "RandomFifthSentenceQuiz2", "AnswerRightEnding"),
             manual=ManualSource(
                 files=("story_cloze/cloze_test_spring2016.tsv",), fmt="tsv",
                 url="https://cs.rochester.edu/nlp/rocstories/",
                 how="request the Story Cloze Test (2016) from the ROCStories page and save the "
                     "tab-separated file as <manual_dir>/story_cloze/cloze_test_spring2016.tsv"),
             streaming=False, template_family="story_cloze"),
    # --- sentiment ---
    _binary("imdb_reviews", ("text",), SENTIMENT, hub_path="stanfordnlp/imdb"),
    TaskSpec(name="sentiment140", preprocess=pp.sentiment140, hub_path="sentiment140",
             label_names=SENTIMENT, fields=("text", "options"), required=("text", "sentiment"),
             template_family="sentiment140"),
    _binary("sst2", ("sentence",), SENTIMENT, hub_path="stanfordnlp/sst2", test_split="validation"),
    _binary("yelp_polarity_reviews", ("text",), SENTIMENT, hub_path="yelp_polarity"),
    # --- paraphrase ---
    _binary("mrpc", ("sentence1", "sentence2"), NO_YES, **_GLUE, hub_name="mrpc", test_split="validation",
            metrics=("f1_invalid", "accuracy")),
    _binary("qqp", ("question1", "question2"), NO_YES, **_GLUE, hub_name="qqp", test_split="validation",
            metrics=("f1_invalid", "accuracy")),
    _binary("paws_wiki", ("sentence1", "sentence2"), NO_YES, hub_path="paws", hub_name="labeled_final"),
    TaskSpec(name="stsb", preprocess=pp.stsb, **_GLUE, hub_name="stsb", test_split="validation",
             label_names=("0", "1", "2", "3", "4", "5"), fields=("sentence1", "sentence2", "options"),
             required=("sentence1", "sentence2", "label"), template_family="stsb",
             metrics=("pearson", "spearman"), numeric_answer=True),
    # --- closed-book qa ---
    TaskSpec(name="arc", preprocess=pp.letter_choice, hub_path="allenai/ai2_arc", hub_name="ARC-Challenge",
             renames={"choices.text": "options", "answerKey": "answer_key"}, letter_choices=True,
             fields=("question", "options"), required=("question", "choices", "answerKey"),
             template_family="arc"),
    TaskSpec(name="arc_easy", preprocess=pp.letter_choice, hub_path="allenai/ai2_arc", hub_name="ARC-Easy",
             renames={"choices.text": "options", "answerKey": "answer_key"}, letter_choices=True,
             fields=("question", "options"), required=("question", "choices", "answerKey"),
             template_family="arc"),
    TaskSpec(name="trivia_qa_full", preprocess=pp.trivia_qa, hub_path="mandarjoshi/trivia_qa",
             hub_name="rc.nocontext", test_split="validation", fields=("question",),
             required=("question", "answer"), template_family="trivia_qa", metrics=("trivia_qa",)),
    TaskSpec(name="trivia_qa_wiki", preprocess=pp.trivia_qa, hub_path="mandarjoshi/trivia_qa",
             hub_name="rc.wikipedia.nocontext", test_split="validation", fields=("question",),
             required=("question", "answer"), template_family="trivia_qa", metrics=("trivia_qa",)),
    # --- reading comprehension ---
    TaskSpec(name="bool_q", preprocess=pp.bool_q, hub_path="google/boolq", test_split="validation",
             renames={"passage": "text", "answer": "label"}, label_names=TRUE_FALSE,
             fields=("question", "text", "options"), required=("question", "answer", "passage"),
             template_family="bool_q"),
    TaskSpec(name="drop", preprocess=pp.generation, hub_path="ucinlp/drop", test_split="validation",
             renames={"passage": "context", "answers_spans.spans": "label"},
             fields=("context", "question"), required=("passage", "question", "answers_spans"),
             template_family="drop", metrics=("squad",)),
    TaskSpec(name="multirc", preprocess=pp.multirc, **_SUPER_GLUE, hub_name="multirc",
             test_split="validation", renames={"answer": "response"}, label_names=NO_YES,
             fields=("paragraph", "question", "response", "options"),
             required=("paragraph", "question", "answer", "idx", "label"), template_family="multirc",
             metrics=("multirc_f1a", "multirc_em")),
    TaskSpec(name="openbookqa", preprocess=pp.letter_choice, hub_path="allenai/openbookqa",
             hub_name="additional", renames={"choices.text": "options", "answerKey": "answer_key",
                                             "fact1": "fact"},
             letter_choices=True, quote_fields=("question_stem",),
             fields=("question_stem", "fact", "options"),
             required=("question_stem", "choices", "answerKey", "fact1"), template_family="openbookqa"),
    TaskSpec(name="squad", preprocess=pp.squad, hub_path="rajpurkar/squad", test_split="validation",
             renames={"answers.text": "label"}, fields=("title", "context", "question"),
             required=("title", "context", "question", "answers"), template_family="squad",
             metrics=("squad",), bertscore=False),
    TaskSpec(name="squad_v2", preprocess=pp.squad, hub_path="rajpurkar/squad_v2", test_split="validation",
             renames={"answers.text": "label"}, allow_unanswerable=True,
             fields=("title", "context", "question"),
             required=("title", "context", "question", "answers"), template_family="squad_v2",
             metrics=("squad",), bertscore=False),
    # --- reading comprehension with commonsense ---
    TaskSpec(name="cosmos_qa", preprocess=pp.choice_columns, hub_path="cosmos_qa", test_split="validation",
             streaming=False, option_columns=("answer0", "answer1", "answer2", "answer3"),
             fix_spaced_period=True, quote_fields=("question",),
             fields=("context", "question", "options"),
             required=("context", "question", "answer0", "answer1", "answer2", "answer3", "label"),
             template_family="cosmos_qa"),
    TaskSpec(name="record", preprocess=pp.record, **_SUPER_GLUE, hub_name="record", test_split="validation",
             fields=("passage", "query", "options"), required=("passage", "query", "entities", "answers"),
             template_family="record", metrics=("squad",)),
    # --- coreference ---
    TaskSpec(name="dpr_raw", preprocess=pp.dpr_raw, hub_path="coref-data/dpr_raw",
             fields=("sentence", "pronoun"), required=("sentence", "pronoun", "candidates", "label"),
             template_family="dpr_raw"),
    TaskSpec(name="winogrande", preprocess=pp.choice_columns, hub_path="winogrande",
             hub_name="winogrande_xl", test_split="validation",
             renames={"sentence": "context", "answer": "label"}, option_columns=("option1", "option2"),
             label_offset=-1, fields=("context", "options"),
             required=("sentence", "option1", "option2", "answer"), template_family="winogrande"),
    TaskSpec(name="wsc273", preprocess=pp.wsc273, hub_path="coref-data/davis_wsc_raw", hub_name="wsc273",
             train_split="test", test_split="test", renames={"text": "context"},
             fields=("context", "options"),
             required=("text", "pronoun", "quote", "options", "label"), template_family="wsc273"),
    # --- misc ---
    TaskSpec(name="coqa", preprocess=pp.coqa, hub_path="stanfordnlp/coqa", test_split="validation",
             renames={"story": "text"}, fields=("text", "numbered_questions"),
             required=("story", "questions", "answers"), template_family="coqa"),
    TaskSpec(name="quac", preprocess=pp.quac, hub_path="quac", test_split="validation",
             fields=("background", "section_title", "context", "question"),
             required=("background", "section_title", "context", "questions", "answers"),
             template_family="quac"),
    TaskSpec(name="trec", preprocess=pp.trec, hub_path="trec",
             label_names=("ABBR", "ENTY", "DESC", "HUM", "LOC", "NUM"),
             fields=("text", "options"), required=("text", "coarse_label"), template_family="trec"),
    _binary("cola", ("sentence",), ("unacceptable", "acceptable"), **_GLUE, hub_name="cola",
            test_split="validation", metrics=("mcc",)),
    TaskSpec(name="wic", preprocess=pp.wic, **_SUPER_GLUE, hub_name="wic", test_split="validation",
             label_names=TRUE_FALSE, fields=("word", "sentence1", "sentence2"),
             required=("word", "sentence1", "sentence2", "label"), template_family="wic"),
    TaskSpec(name="math_dataset", preprocess=pp.math_dataset, hub_path="math_dataset",
             hub_name="algebra__linear_1d", renames={"answer": "label"}, fields=("question",),
             required=("question", "answer"), template_family="math_dataset"),
    TaskSpec(name="fix_punct", preprocess=pp.fix_punct, hub_path="nbroad/fix_punctuation",
             test_split="train", fields=("no_punct",), required=("utterance", "corrupted_cased"),
             template_family="fix_punct", metrics=("edit_distance",)),
    # --- struct to text ---
    TaskSpec(name="common_gen", preprocess=pp.common_gen, hub_path="allenai/common_gen",
             test_split="validation", renames={"target": "label"}, fields=("concepts",),
             required=("concepts", "target"), template_family="common_gen", metrics=_ROUGE,
             bertscore=False),
    TaskSpec(name="dart", preprocess=pp.dart, hub_path="dart", fields=("tripleset",),
             required=("tripleset", "annotations"), template_family="dart", metrics=_ROUGE,
             bertscore=False),
    TaskSpec(name="e2e_nlg", preprocess=pp.e2e_nlg, hub_path="e2e_nlg",
             renames={"human_reference": "label"}, fields=("meaning_representation",),
             required=("meaning_representation", "human_reference"), template_family="e2e_nlg",
             metrics=_ROUGE),
    TaskSpec(name="web_nlg", preprocess=pp.web_nlg, hub_path="web_nlg", hub_name="release_v1",
             train_split="full", test_split="full", streaming=False,
             renames={"original_triple_sets.otriple_set": "input_string", "lex.text": "label"},
             fields=("input_string",), required=("original_triple_sets", "lex"),
             template_family="web_nlg", metrics=_ROUGE),
    # --- translation ---
    _translation("para_crawl/ende", "para_crawl", "ende", splits=("train", "train")),
    _translation("para_crawl/enes", "para_crawl", "enes", splits=("train", "train")),
    _translation("para_crawl/enfr", "para_crawl", "enfr", splits=("train", "train")),
    _translation("wmt16/cs-en", "wmt/wmt16", "cs-en"),
    _translation("wmt16/de-en", "wmt/wmt16", "de-en", bertscore=False),
    _translation("wmt16/fi-en", "wmt/wmt16", "fi-en"),
    _translation("wmt16/ro-en", "wmt/wmt16", "ro-en", bertscore=False),
    _translation("wmt16/ru-en", "wmt/wmt16", "ru-en"),
    _translation("wmt16/tr-en", "wmt/wmt16", "tr-en"),
    # --- summarisation ---
    _summary("aeslc", "aeslc", ("email_body",), "subject_line"),
    TaskSpec(name="ag_news", preprocess=pp.class_label, hub_path="sh0416/ag_news",
             renames={"description": "text"}, label_names=("World", "Sports", "Business", "Sci/Tech"),
             label_offset=-1, fields=("title", "text", "options"),
             required=("label", "title", "description"), template_family="ag_news"),
    _summary("cnn_dailymail", "cnn_dailymail", ("article",), "highlights", hub_name="3.0.0"),
    _summary("gigaword", "gigaword", ("document",), "summary", bertscore=False),
    TaskSpec(name="newsroom", preprocess=pp.template_target, fields=("title", "text", "summary"),
             required=("title", "text", "summary"), target_fields=("summary",),
             manual=ManualSource(
                 files=("newsroom-release/release/{split}.jsonl/{split}-stats.jsonl",
                        "newsroom-release/release/{split}.jsonl",
                        "newsroom-release/release/{split}.jsonl.gz"), fmt="jsonl",
                 url="https://lil.nlp.cornell.edu/newsroom/",
                 how="fill in the Newsroom access form, download the release and unpack it so that "
                     "<manual_dir>/newsroom-release/release/{split}.jsonl exists"),
             streaming=False, template_family="newsroom", metrics=_ROUGE),
    _summary("samsum", "samsum", ("dialogue",), "summary"),
    _summary("xsum", "knkarthick/xsum", ("text",), "summary", renames={"dialogue": "text"}),
    _opinion("opin_idebate", pp.opin_idebate, ("claim", "argument_sentences", "debate_name"), "claim",
             ("_claim", "_argument_sentences", "_debate_name"), "idebate.json"),
    _opinion("opin_movie", pp.opin_movie, ("movie", "numbered_reviews", "critic_consensus", "first_review"),
             "critic_consensus", ("_movie_name", "_critics", "_critic_consensus"), "rottentomatoes.json"),
    # --- BigBench, GSM8K, translated Social IQa (test only) ---
    _bigbench("figure_of_speech_detection"),
    _bigbench("logical_deduction"),
    _bigbench("social_iqa", cleanup=_QA_CLEANUP),
    _bigbench("strange_stories", cleanup=_QA_CLEANUP),
    _bigbench("causal_judgment", cleanup=(r"A: ", r"Options: ")),
    _bigbench("tracking_shuffled_objects/three", "tracking_shuffled_objects", num_choices=3),
    _bigbench("tracking_shuffled_objects/five", "tracking_shuffled_objects", num_choices=5),
    _bigbench("tracking_shuffled_objects/seven", "tracking_shuffled_objects", num_choices=7),
    TaskSpec(name="gsm8k", preprocess=pp.gsm8k, hub_path="gsm8k", hub_name="main", streaming=False,
             fields=("text", "options"), required=("question", "answer"), bertscore=False,
             numeric_answer=True),
    TaskSpec(name="social_iqa_translated", preprocess=pp.bigbench, streaming=False, translated=True,
             train_split="validation", test_split="test", gold_split="validation", fields=("text", "options"),
             text_column="text", label_column="labels", text_cleanup=(r"\n.*",),
             required=("text", "labels", "multiple_choice_targets"),
             manual=ManualSource(
                 files=("translated_socialiqa/closed-translated/social_iqa/test_data/2500",),
                 fmt="arrow", url="https://github.com/UKPLab/arxiv2025-inherent-limits-plms",
                 how="copy the reference repository's data/translated_socialiqa folder into "
                     "<manual_dir>/ (or put test.jsonl in <data_dir>/social_iqa_translated/)")),
)

TASKS: dict[str, TaskSpec] = {t.name: t for t in _TASKS}

# --- task lists, as in the reference ------------------------------------

TASK_CLUSTERS: dict[str, tuple[str, ...]] = {
    "nli": ("anli_r1", "anli_r2", "anli_r3", "rte", "cb", "snli", "mnli", "wnli", "qnli"),
    "commonsense": ("copa", "hellaswag", "piqa", "story_cloze"),
    "sentiment": ("imdb_reviews", "sentiment140", "sst2", "yelp_polarity_reviews"),
    "paraphrase": ("mrpc", "qqp", "paws_wiki", "stsb"),
    "closed_book_qa": ("arc", "arc_easy", "trivia_qa_full", "trivia_qa_wiki"),
    "reading_comp": ("bool_q", "drop", "multirc", "openbookqa", "squad", "squad_v2"),
    "reading_comp_with_cs": ("cosmos_qa", "record"),
    "coreference": ("dpr_raw", "winogrande", "wsc273"),
    "misc": ("coqa", "quac", "trec", "cola", "wic", "math_dataset", "fix_punct"),
    "struct_to_text_nlg": ("common_gen", "dart", "e2e_nlg", "web_nlg"),
    "translation_nlg": ("para_crawl/ende", "para_crawl/enes", "para_crawl/enfr", "wmt16/cs-en",
                        "wmt16/de-en", "wmt16/fi-en", "wmt16/ro-en", "wmt16/ru-en", "wmt16/tr-en"),
    "summarization_nlg": ("aeslc", "ag_news", "cnn_dailymail", "gigaword", "samsum", "xsum",
                          "opin_idebate", "opin_movie"),
}
CLUSTER_CATEGORIES: dict[str, tuple[str, ...]] = {
    "nlu": ("nli", "commonsense", "sentiment", "paraphrase", "closed_book_qa", "reading_comp",
            "reading_comp_with_cs", "coreference", "misc"),
    "nlg": ("struct_to_text_nlg", "translation_nlg", "summarization_nlg"),
}
# The reference's task_list order: clusters in order, newsroom (listed, in no cluster)
# between gigaword and samsum.
TRAIN_TASKS: tuple[str, ...] = tuple(
    name for tasks in TASK_CLUSTERS.values() for task in tasks
    for name in (("newsroom", task) if task == "samsum" else (task,)))
TEST_TASKS: tuple[str, ...] = (
    "qnli", "story_cloze", "yelp_polarity_reviews", "stsb", "trivia_qa_full", "trivia_qa_wiki",
    "squad", "squad_v2", "record", "wsc273", "dart", "wmt16/ro-en", "coqa", "quac", "trec",
    "cola", "wic", "math_dataset", "fix_punct", "aeslc", "ag_news", "cnn_dailymail", "gigaword",
    "newsroom", "samsum", "xsum", "opin_idebate", "opin_movie", "bool_q", "winogrande", "snli",
    "copa", "common_gen", "wmt16/de-en", "mnli_matched", "mnli_mismatched", "dpr_raw",
)
BIGBENCH_TASKS: tuple[str, ...] = (
    "figure_of_speech_detection", "logical_deduction", "social_iqa", "strange_stories",
    "causal_judgment", "tracking_shuffled_objects/three", "tracking_shuffled_objects/five",
    "tracking_shuffled_objects/seven",
)
OTHER_TASKS: tuple[str, ...] = ("gsm8k",)
TRANSLATED_TASKS: tuple[str, ...] = ("social_iqa_translated",)

# Held out of every training mixture (the reference's "always drop" list).
ALWAYS_HELD_OUT: tuple[str, ...] = (
    "qnli", "story_cloze", "yelp_polarity_reviews", "stsb", "trivia_qa_full", "trivia_qa_wiki",
    "squad", "squad_v2", "record", "wsc273", "winogrande", "fix_punct", "dart", "wmt16/ro-en",
    "samsum",
)


@dataclass(frozen=True)
class MixtureSetup:
    """Which clusters and tasks a training mixture leaves out (before ALWAYS_HELD_OUT)."""
    name: str
    description: str
    drop_clusters: tuple[str, ...] = ()
    drop_tasks: tuple[str, ...] = ()


_NON_NLG = CLUSTER_CATEGORIES["nlu"]
_ALL_BUT_NLI = tuple(c for c in TASK_CLUSTERS if c != "nli")
MIXTURE_SETUPS: dict[str, MixtureSetup] = {s.name: s for s in (
    MixtureSetup("default", "drop the misc and summarisation clusters",
                 drop_clusters=("misc", "summarization_nlg")),
    MixtureSetup("setup1", "drop every non-NLG cluster", drop_clusters=_NON_NLG),
    MixtureSetup("setup2", "drop the NLI and NLG clusters",
                 drop_clusters=("nli", "summarization_nlg", "translation_nlg", "struct_to_text_nlg")),
    MixtureSetup("setup3", "train on QNLI only (QNLI is then held out: empty)", drop_clusters=_ALL_BUT_NLI,
                 drop_tasks=("anli_r1", "anli_r2", "anli_r3", "rte", "cb", "snli", "mnli", "wnli")),
    MixtureSetup("setup4", "train on MNLI only", drop_clusters=_ALL_BUT_NLI,
                 drop_tasks=("anli_r1", "anli_r2", "anli_r3", "rte", "cb", "snli", "qnli", "wnli")),
    MixtureSetup("setup5", "drop the coreference cluster", drop_clusters=("coreference",)),
    MixtureSetup("setup6", "coreference reduced to Winogrande", drop_tasks=("wsc273", "dpr_raw")),
    MixtureSetup("setup7", "coreference reduced to DPR", drop_tasks=("wsc273", "winogrande")),
)}


# train.py --prompts_type N: the reference's index into its list of mixtures (our folder names).
PROMPTS_TYPES: tuple[str, ...] = (
    "mix_prompts_mixture", "flan_prompts_mixture",
    "mix_prompts_mixture_corrupt", "mix_prompts_mixture_relevance", "mix_prompts_mixture_noanswer",
    "mix_prompts_mixture_unified", "flan_prompts_mixture_unified",
    *(f"{fmt}_mixture_setup{n}" for n in range(1, 8) for fmt in ("mix_prompts", "flan_prompts")),
)

# Test-time formats of BigBench and GSM8K items (templates.json keys "bigbench-<format>").
BB_FORMATS: tuple[str, ...] = ("closed", "closed-adv", "plain", "adv",
                               *(f"bad-prompt-{n}" for n in range(1, 7)))
LETTER_FORMATS: tuple[str, ...] = ("closed-adv", "adv")  # options shown with letters; answers read as letters


def mixture_tasks(setup: str = "default") -> list[str]:
    """The tasks a mixture setup trains on, in cluster order."""
    spec = MIXTURE_SETUPS[setup]
    drop = set(spec.drop_tasks) | set(ALWAYS_HELD_OUT)
    return [t for c, tasks in TASK_CLUSTERS.items() if c not in spec.drop_clusters
            for t in tasks if t not in drop]


def cluster_of(task: str) -> Optional[str]:
    for cluster, tasks in TASK_CLUSTERS.items():
        if task in tasks:
            return cluster
    return None


def category_of(cluster: str) -> Optional[str]:
    for category, clusters in CLUSTER_CATEGORIES.items():
        if cluster in clusters:
            return category
    return None


def group_of(task: str) -> str:
    """Cluster name, or bigbench / other for the test-only task families."""
    if task in BIGBENCH_TASKS:
        return "bigbench"
    return cluster_of(task) or "other"


def get_task(name: str) -> TaskSpec:
    """The registry entry for `name`, or a UserError suggesting close names."""
    if name in TASKS:
        return TASKS[name]
    close = close_names(name, TASKS)
    hint = f" Did you mean: {', '.join(close)}?" if close else " Run `python create_prompts.py --list_tasks`."
    raise UserError(f"unknown task {name!r}.{hint}")


def resolve_tasks(names: list[str]) -> list[str]:
    """Expand task names, cluster names and `all` / list names into task names."""
    groups = {"all": list(TASKS), "train": list(TRAIN_TASKS), "test": list(TEST_TASKS),
              "bigbench": list(BIGBENCH_TASKS), **{c: list(t) for c, t in TASK_CLUSTERS.items()}}
    out: list[str] = []
    for name in names:
        for task in groups.get(name, [name]):
            get_task(task)
            if task not in out:
                out.append(task)
    return out
