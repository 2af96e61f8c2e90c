#!/usr/bin/env bash
# The test suite, from nothing: set up .venv, then run pytest offline (slow tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
python -m pytest -q "$@"
