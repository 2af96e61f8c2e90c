"""Stage-script conventions: --help, real booleans with the reference's spellings, --list_tasks."""
import argparse
import re

import pytest
from conftest import REPO

from inherent_limits.core.cli_args import str2bool
from inherent_limits.data import registry


@pytest.mark.parametrize("text,value", [("True", True), ("False", False),
                                        ("true", True), ("0", False), ("yes", True), (True, True)])
def test_str2bool_accepts_the_reference_spellings(text, value):
    assert str2bool(text) is value


def test_str2bool_rejects_garbage():
    with pytest.raises(argparse.ArgumentTypeError):
        str2bool("maybe")


def test_create_prompts_booleans_mean_what_they_say():
    import create_prompts
    parser = create_prompts.build_parser()
    args = parser.parse_args(["--create_custom_prompts", "False", "--do_unify", "False",
                              "--make_gold_pipeline_test", "True", "--corrupt_samples"])
    assert (args.create_custom_prompts, args.do_unify, args.make_gold_pipeline_test, args.corrupt_samples) == (
        False, False, True, True)
    assert parser.parse_args([]).convert_letter_choices is True


def test_list_tasks_prints_one_line_per_task(cli):
    out = cli(["create_prompts.py", "--list_tasks"])
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for task, spec in registry.TASKS.items():
        line = next(l for l in lines if l.split()[:1] == [task])
        assert registry.group_of(task) in line and spec.source in line and line.rstrip().endswith("yes")


def test_help_explains_every_flag(cli):
    out = cli(["create_prompts.py", "--help"])
    assert out.returncode == 0 and "--num_datapoints" in out.stdout and "--data_dir" in out.stdout


def test_reference_readme_command_runs_unchanged(cli, tmp_path):
    out = cli([str(REPO / "create_prompts.py"), "--num_datapoints", "10", "--create_custom_prompts", "True",
               "--dataset_type", "train+val", "--tasks", "rte", "wmt16/ro-en"], cwd=tmp_path,
              env_extra={"INHERENT_LIMITS_DATA_DIR": "bundled", "INHERENT_LIMITS_MANUAL_DIR": "bundled"})
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "data" / "mix_prompts" / "rte" / "10" / "dataset_samples_train.json").exists()
    assert (tmp_path / "data" / "mix_prompts" / "wmt16" / "ro-en" / "10" / "train").is_dir()


def test_bigbench_tasks_are_refused_with_a_reason(cli, tmp_path):
    out = cli([str(REPO / "create_prompts.py"), "--tasks", "gsm8k", "--data_dir", "bundled"], cwd=tmp_path)
    assert out.returncode == 2 and "formatted by test.py" in out.stderr
    assert not (tmp_path / "data").exists()


def test_demo_runs_stages_zero_to_two(cli, tmp_path):
    out = cli(["-m", "inherent_limits.demo", "--root", str(tmp_path), "--tasks", "rte", "qnli", "wmt16/ro-en"])
    assert out.returncode == 0, out.stderr
    data = tmp_path / "data"
    assert (data / "preprocessed" / "wmt16" / "ro-en" / "test").is_dir()
    assert (data / "mix_prompts" / "rte" / "16" / "train").is_dir()
    assert (data / "gold_pipeline_test" / "qnli" / "test_data").is_dir()
    assert not (data / "flan_prompts_mixture").exists()  # mixtures need every default task


def test_demo_help_advertises_only_flags_it_has(cli):
    out = cli(["-m", "inherent_limits.demo", "--help"])
    assert out.returncode == 0, out.stderr
    usage, _, rest = out.stdout.partition("\n\n")
    accepted = set(re.findall(r"--\w+", usage))
    assert "--through" in accepted and set(re.findall(r"--\w+", rest)) <= accepted | {"--help"}
