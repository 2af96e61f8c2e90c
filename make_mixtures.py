#!/usr/bin/env python3
"""Stage 2: mix the per-task train datasets into a training mixture (examples-proportional, cap 3000).

Reads data/<prompt_format>[_<variant>]/<task>/<num_datapoints>/train for every task of the
setup and writes data/<prompt_format>_mixture[_<variant>][_<setup>]/{train,test}.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inherent_limits.core.cli_args import add_bool
from inherent_limits.core.errors import run_cli


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prompt_format", choices=["mix_prompts", "flan_prompts"], default="mix_prompts",
                   help="SampleGen (mix_prompts) or Regular (flan_prompts) datasets (default: mix_prompts)")
    p.add_argument("--setup", default="default",
                   help="default (drop misc and summarisation) or setup1..setup7 (or 1..7), the ablations")
    p.add_argument("--variant", default="",
                   help="variant suffix of the task datasets, e.g. unified, corrupt (default: none)")
    p.add_argument("--num_datapoints", type=int, default=30000,
                   help="which per-task build to read (its --num_datapoints; default: 30000 as the reference)")
    p.add_argument("--maximum", type=int, default=3000, help="rate cap per task (default: 3000)")
    p.add_argument("--size_limit", type=int, default=30000, help="rows kept per task (default: 30000)")
    p.add_argument("--temperature", type=float, default=1.0, help="mixing temperature (default: 1.0)")
    p.add_argument("--seed", type=int, default=42, help="interleaving and dev-split seed (default: 42)")
    p.add_argument("--root", default=".", help="root folder holding data/ (default: .)")
    add_bool(p, "--overwrite", False, "replace an existing mixture")
    return p


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    import datasets

    from inherent_limits.core.checks import not_empty
    not_empty(args, ("setup", "root"))

    from inherent_limits.prompts.mixtures import make_mixture
    datasets.disable_progress_bars()
    path, rates = make_mixture(Path(args.root), args.prompt_format, args.setup, args.variant,
                               args.num_datapoints, args.maximum, args.size_limit, args.temperature,
                               args.seed, args.overwrite)
    print("MIXING RATES:")
    for task, rate in rates:
        print(f"{task}\t{rate:.6f}")
    print(f"saved {path}")


if __name__ == "__main__":
    run_cli(lambda: main(sys.argv[1:]))
