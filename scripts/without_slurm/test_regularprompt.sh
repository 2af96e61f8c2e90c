#!/usr/bin/env bash
# Stage 4-5 locally, base model and Regular Prompt: on every task of TASKS, base_zero_shot (MODEL,
# instructions removed) and flan_direct (the Regular-Prompt model REG_RUN on Regular test prompts).
# One test.py process for both (on vLLM one engine serves the base model and the adapter).
#
# Settings (PRESET and the environment, study_env.sh): ROOT MODEL REG_RUN TASKS NUM_TEST TEST_BATCH
# MAX_NEW_TOKENS BERTSCORE_MODEL DATA_DIR MANUAL_DIR BACKEND TEST_ARGS (extra test.py flags).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/study_env.sh"

evaluate "$TASKS" --run_name base --model "$MODEL" --condition base_zero_shot flan_direct --regular_model "$REG_RUN"
