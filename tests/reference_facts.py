"""Facts about the reference implementation, written down independently of the registry.

For every task: the hub path and config name the reference's data_utils.load_hf_dataset
passes to datasets.load_dataset, the hub split its create_prompts loads for train+val
datasets, and the split it loads for test sets (after its per-task overrides: anli's
"_rN" suffix, web_nlg's "full", para_crawl's "train", wsc273's "test", gsm8k's "test",
mnli_matched/mismatched's "validation"; BigBench train+val from "validation" and tests
from "train"). Manual-download tasks have no hub path (None).
"""

REFERENCE_SOURCES = {
    # task: (hub path, config, train+val split, test split)
    "anli_r1": ("anli", None, "train_r1", "test_r1"),
    "anli_r2": ("anli", None, "train_r2", "test_r2"),
    "anli_r3": ("anli", None, "train_r3", "test_r3"),
    "rte": ("glue", "rte", "train", "test"),
    "snli": ("snli", None, "train", "test"),
    "cb": ("super_glue", "cb", "train", "test"),
    "mnli": ("glue", "mnli", "train", "test"),
    "mnli_matched": ("glue", "mnli_matched", "validation", "validation"),
    "mnli_mismatched": ("glue", "mnli_mismatched", "validation", "validation"),
    "wnli": ("glue", "wnli", "train", "test"),
    "qnli": ("glue", "qnli", "train", "validation"),
    "copa": ("super_glue", "copa", "train", "test"),
    "hellaswag": ("Rowan/hellaswag", None, "train", "validation"),
    "piqa": ("piqa", None, "train", "test"),
    "story_cloze": (None, None, "train", "test"),
    "imdb_reviews": ("stanfordnlp/imdb", None, "train", "test"),
    "sentiment140": ("sentiment140", None, "train", "test"),
    "sst2": ("stanfordnlp/sst2", None, "train", "validation"),
    "yelp_polarity_reviews": ("yelp_polarity", None, "train", "test"),
    "mrpc": ("glue", "mrpc", "train", "test"),
    "qqp": ("glue", "qqp", "train", "test"),
    "paws_wiki": ("paws", "labeled_final", "train", "test"),
    "stsb": ("glue", "stsb", "train", "validation"),
    "arc": ("allenai/ai2_arc", "ARC-Challenge", "train", "test"),
    "arc_easy": ("allenai/ai2_arc", "ARC-Easy", "train", "test"),
    "trivia_qa_full": ("mandarjoshi/trivia_qa", "rc.nocontext", "train", "validation"),
    "trivia_qa_wiki": ("mandarjoshi/trivia_qa", "rc.wikipedia.nocontext", "train", "validation"),
    "bool_q": ("google/boolq", None, "train", "validation"),
    "drop": ("ucinlp/drop", None, "train", "test"),
    "multirc": ("super_glue", "multirc", "train", "test"),
    "openbookqa": ("allenai/openbookqa", "additional", "train", "test"),
    "squad": ("rajpurkar/squad", None, "train", "validation"),
    "squad_v2": ("rajpurkar/squad_v2", None, "train", "validation"),
    "cosmos_qa": ("cosmos_qa", None, "train", "test"),
    "record": ("super_glue", "record", "train", "validation"),
    "dpr_raw": ("coref-data/dpr_raw", None, "train", "test"),
    "winogrande": ("winogrande", "winogrande_xl", "train", "validation"),
    "wsc273": ("coref-data/davis_wsc_raw", "wsc273", "test", "test"),
    "coqa": ("stanfordnlp/coqa", None, "train", "validation"),
    "quac": ("quac", None, "train", "validation"),
    "trec": ("trec", None, "train", "test"),
    "cola": ("glue", "cola", "train", "test"),
    "wic": ("super_glue", "wic", "train", "test"),
    "math_dataset": ("math_dataset", "algebra__linear_1d", "train", "test"),
    "fix_punct": ("nbroad/fix_punctuation", None, "train", "train"),
    "common_gen": ("allenai/common_gen", None, "train", "validation"),
    "dart": ("dart", None, "train", "test"),
    "e2e_nlg": ("e2e_nlg", None, "train", "test"),
    "web_nlg": ("web_nlg", "release_v1", "full", "full"),
    "para_crawl/ende": ("para_crawl", "ende", "train", "train"),
    "para_crawl/enes": ("para_crawl", "enes", "train", "train"),
    "para_crawl/enfr": ("para_crawl", "enfr", "train", "train"),
    "wmt16/cs-en": ("wmt/wmt16", "cs-en", "train", "test"),
    "wmt16/de-en": ("wmt/wmt16", "de-en", "train", "test"),
    "wmt16/fi-en": ("wmt/wmt16", "fi-en", "train", "test"),
    "wmt16/ro-en": ("wmt/wmt16", "ro-en", "train", "test"),
    "wmt16/ru-en": ("wmt/wmt16", "ru-en", "train", "test"),
    "wmt16/tr-en": ("wmt/wmt16", "tr-en", "train", "test"),
    "aeslc": ("aeslc", None, "train", "test"),
    "ag_news": ("sh0416/ag_news", None, "train", "test"),
    "cnn_dailymail": ("cnn_dailymail", "3.0.0", "train", "test"),
    "gigaword": ("gigaword", None, "train", "test"),
    "newsroom": (None, None, "train", "test"),
    "samsum": ("samsum", None, "train", "test"),
    "xsum": ("knkarthick/xsum", None, "train", "test"),
    "opin_idebate": (None, None, "train", "test"),
    "opin_movie": (None, None, "train", "test"),
    "figure_of_speech_detection": ("tasksource/bigbench", "figure_of_speech_detection", "validation", "train"),
    "logical_deduction": ("tasksource/bigbench", "logical_deduction", "validation", "train"),
    "social_iqa": ("tasksource/bigbench", "social_iqa", "validation", "train"),
    "strange_stories": ("tasksource/bigbench", "strange_stories", "validation", "train"),
    "causal_judgment": ("tasksource/bigbench", "causal_judgment", "validation", "train"),
    "tracking_shuffled_objects/three": ("tasksource/bigbench", "tracking_shuffled_objects", "validation", "train"),
    "tracking_shuffled_objects/five": ("tasksource/bigbench", "tracking_shuffled_objects", "validation", "train"),
    "tracking_shuffled_objects/seven": ("tasksource/bigbench", "tracking_shuffled_objects", "validation", "train"),
    "gsm8k": ("gsm8k", "main", "test", "test"),
    "social_iqa_translated": (None, None, None, None),
}

# Where this project deliberately tests on another split than the reference, and why.
# Every entry is listed in the README's "Differences from the reference".
TEST_SPLIT_FIXES = {
    # hub test splits whose labels are hidden (-1)
    "cola": "validation", "copa": "validation", "wic": "validation",
    "rte": "validation", "cb": "validation", "wnli": "validation", "mrpc": "validation",
    "qqp": "validation", "multirc": "validation", "piqa": "validation", "cosmos_qa": "validation",
    # hub has no plain "test" split
    "mnli": "validation_matched", "drop": "validation",
}
# gsm8k: train+val/gold examples from the hub's train split, not from its test split.
TRAIN_SPLIT_FIXES = {"gsm8k": "train"}

# The reference's lists (config.py), in its order.
REFERENCE_TEST_TASKS = [
    "qnli", "story_cloze", "yelp_polarity_reviews", "stsb", "trivia_qa_full", "trivia_qa_wiki",
    "squad", "squad_v2", "record", "wsc273", "dart", "wmt16/ro-en", "coqa", "quac", "trec", "cola",
    "wic", "math_dataset", "fix_punct", "aeslc", "ag_news", "cnn_dailymail", "gigaword", "newsroom",
    "samsum", "xsum", "opin_idebate", "opin_movie", "bool_q", "winogrande", "snli", "copa",
    "common_gen", "wmt16/de-en", "mnli_matched", "mnli_mismatched", "dpr_raw",
]
REFERENCE_CLUSTER_SIZES = {
    "nli": 9, "commonsense": 4, "sentiment": 4, "paraphrase": 4, "closed_book_qa": 4,
    "reading_comp": 6, "reading_comp_with_cs": 2, "coreference": 3, "misc": 7,
    "struct_to_text_nlg": 4, "translation_nlg": 9, "summarization_nlg": 8,
}

# Tasks each mixture setup of the reference's make_mixtures.py trains on (its clusters_to_drop /
# tasks_to_drop per setup, then its always-drop list), worked out by hand from its code.
REFERENCE_DEFAULT_MIXTURE = [
    "anli_r1", "anli_r2", "anli_r3", "rte", "cb", "snli", "mnli", "wnli", "copa", "hellaswag", "piqa",
    "imdb_reviews", "sentiment140", "sst2", "mrpc", "qqp", "paws_wiki", "arc", "arc_easy", "bool_q", "drop",
    "multirc", "openbookqa", "cosmos_qa", "dpr_raw", "common_gen", "e2e_nlg", "web_nlg", "para_crawl/ende",
    "para_crawl/enes", "para_crawl/enfr", "wmt16/cs-en", "wmt16/de-en", "wmt16/fi-en", "wmt16/ru-en",
    "wmt16/tr-en",
]
REFERENCE_SETUP_SIZES = {"setup1": 18, "setup2": 23, "setup3": 0, "setup4": 1, "setup5": 48, "setup6": 48,
                         "setup7": 49}
