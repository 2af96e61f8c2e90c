#!/usr/bin/env bash
# Stage 6 locally: correlate the base and tuned conditions across tasks from ROOT's logs
# (writes ROOT/analysis/: report.md, correlations.csv, scores_by_task.csv, plots/).
#
# Settings (PRESET and the environment, study_env.sh): ROOT CORRELATE_ARGS (extra correlate.py
# flags, e.g. "--job_ids ...").
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/study_env.sh"

# shellcheck disable=SC2086  # CORRELATE_ARGS is a list of extra flags
step python correlate.py --root "$ROOT" $CORRELATE_ARGS
