#!/usr/bin/env bash
# The test suite, from nothing: set up .venv and run pytest offline (slow tests included; the
# vllm-marked tests are deselected there), then set up .venv-vllm (scripts/setup_vllm_env.sh)
# and run the vLLM tests in it. Prints how many vLLM tests passed; any skipped one fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1   # the tests never reach the hub
( source scripts/setup_env.sh && python -m pytest -q "$@" )
source scripts/setup_vllm_env.sh
junit="$(mktemp --suffix=.xml)"
trap 'rm -f "$junit"' EXIT
status=0
python -m pytest -q -m vllm tests/test_vllm.py tests/test_bvi_vllm.py tests/test_study_engine.py tests/test_gpu_check.py \
    tests/test_realmodel_vllm.py --junitxml "$junit" || status=$?
python - "$junit" "$status" <<'PY'
import sys
import xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot()
suite = suite.find("testsuite") if suite.tag == "testsuites" else suite
total, failed, errors, skipped = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
passed = total - failed - errors - skipped
print(f"vLLM tests: {passed} passed, {skipped} skipped, {failed + errors} failed")
sys.exit(int(sys.argv[2]) or (2 if skipped or not passed else 0))
PY
