"""Argument helpers shared by the stage scripts."""
from __future__ import annotations

import argparse

_TRUE = {"true", "t", "yes", "y", "1", "on"}
_FALSE = {"false", "f", "no", "n", "0", "off", "none"}


def str2bool(value) -> bool:
    """Parse a boolean the way the reference's users write it: "True", "False", yes/no, 1/0."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {value!r}")


def add_bool(parser: argparse.ArgumentParser, name: str, default: bool, help: str) -> None:
    """A boolean flag: `--flag`, `--flag True`, `--flag "False"` all mean what they say."""
    parser.add_argument(name, type=str2bool, nargs="?", const=True, default=default,
                        metavar="True|False", help=f"{help} (default: {default})")


def add_data_sources(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data_dir", default=None,
                        help="folder with <task>/<split>.jsonl raw files in the hub's schema "
                             "(env INHERENT_LIMITS_DATA_DIR); 'bundled' = the shipped sample data; "
                             "unset = the Hugging Face hub")
    parser.add_argument("--manual_dir", default=None,
                        help="folder with the manual downloads (story_cloze, newsroom, opin_*) in "
                             "their creators' formats (env INHERENT_LIMITS_MANUAL_DIR); 'bundled' = "
                             "the shipped samples")
    add_bool(parser, "--trust_remote_code", False,
             "let datasets run a hub dataset's loading script (off: never by default)")
