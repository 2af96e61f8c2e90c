#!/usr/bin/env bash
# Stage 4-5 locally, base model and Regular Prompt: on every task of TASKS, base_zero_shot (MODEL,
# instructions removed) and flan_direct (the Regular-Prompt model REG_RUN on Regular test prompts).
# One test.py process for both (on vLLM one engine serves the base model and the adapter).
#
# Settings (environment, defaults in study_env.sh): ROOT=demo_run MODEL=tiny REG_RUN=regular
# TASKS="cola aeslc logical_deduction" NUM_TEST=4 TEST_BATCH=4 MAX_NEW_TOKENS=24
# BERTSCORE_MODEL=bundled DATA_DIR=bundled MANUAL_DIR=bundled TEST_ARGS="" (extra test.py flags).
# Job id: $SLURM_JOB_ID, else a %Y%m%d_%H%M%S timestamp (exported, as the reference does).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/study_env.sh"
export SLURM_JOB_ID="${SLURM_JOB_ID:-$(date +%Y%m%d_%H%M%S)}"

evaluate "$TASKS" --run_name base --model "$MODEL" --condition base_zero_shot flan_direct --regular_model "$REG_RUN"
