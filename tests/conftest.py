"""Test setup: never touch the network; run CLIs in a subprocess with the same interpreter."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.pop("INHERENT_LIMITS_DATA_DIR", None)
os.environ.pop("INHERENT_LIMITS_MANUAL_DIR", None)

REPO = Path(__file__).resolve().parent.parent


def run_cli(args, cwd=None, env_extra=None, timeout=300):
    """Run `python <args>` from the repository root; return the CompletedProcess."""
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, *args], cwd=cwd or REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    """A session cache for built and converted models; $INHERENT_LIMITS_CACHE stays pointed at it,
    so CLIs run with `--model tiny` or a named offline model find them too."""
    from inherent_limits.models.offline import CACHE_ENV
    os.environ[CACHE_ENV] = str(tmp_path_factory.getbasetemp() / "inherent_limits_cache")
    return Path(os.environ[CACHE_ENV])


@pytest.fixture(scope="session")
def tiny_model(model_cache):
    """The tiny Llama model's directory, built once per session (~25 s) in the session cache."""
    from inherent_limits.models.tiny import ensure_tiny_model
    return ensure_tiny_model()


def pytest_collection_modifyitems(config, items):
    """vllm-marked tests run in .venv-vllm (scripts/test.sh); elsewhere they are deselected, not skipped."""
    if importlib.util.find_spec("vllm") is not None:
        return
    kept = [item for item in items if item.get_closest_marker("vllm") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
