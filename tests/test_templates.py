"""Template files are parsed, never executed; the shipped wording covers every task family."""
import pytest

from inherent_limits.core.errors import UserError
from inherent_limits.data.registry import TASKS
from inherent_limits.prompts.builder import PromptBuilder
from inherent_limits.prompts.templates import check_placeholders, placeholders, read_patterns


def test_shipped_templates_cover_every_family_with_valid_placeholders():
    builder = PromptBuilder.from_files()
    for spec in TASKS.values():
        if spec.template_family is None:
            continue
        pairs = builder.family(spec)  # raises on a placeholder the task's fields cannot fill
        assert len(pairs) == 5, spec.template_family
        for source, target in pairs:
            assert '"' not in source and "answer" not in placeholders(source)
            (targ,) = placeholders(target)
            assert targ not in placeholders(source), (spec.name, target)


def test_reader_never_executes_code(tmp_path):
    marker = tmp_path / "executed"
    evil = tmp_path / "evil.py"
    evil.write_text(f"open({str(marker)!r}, 'w').write('x')\nPATTERNS = {{'rte': [('{{premise}}', '{{answer}}')]}}\n")
    assert read_patterns(evil) == {"rte": [("{premise}", "{answer}")]}
    assert not marker.exists()
    computed = tmp_path / "computed.py"
    computed.write_text("PATTERNS = dict(rte=[])\n")
    with pytest.raises(UserError, match="plain literal"):
        read_patterns(computed)


def test_reader_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("PATTERNS = {\n")
    with pytest.raises(UserError, match="not valid Python"):
        read_patterns(bad)
    empty = tmp_path / "empty.py"
    empty.write_text("X = 1\n")
    with pytest.raises(UserError, match="no `PATTERNS"):
        read_patterns(empty)
    shape = tmp_path / "shape.py"
    shape.write_text("PATTERNS = {'rte': ['only one string']}\n")
    with pytest.raises(UserError, match="list of \\(input, target\\)"):
        read_patterns(shape)
    with pytest.raises(UserError, match="unknown placeholder {hypothesys}"):
        check_placeholders("{premise} {hypothesys}", {"premise", "hypothesis"}, "rte")
