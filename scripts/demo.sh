#!/usr/bin/env bash
# The embedded default, from nothing: set up .venv, then run the pipeline on the bundled data.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
python -m inherent_limits.demo --root "${DEMO_ROOT:-demo_run}" "$@"
