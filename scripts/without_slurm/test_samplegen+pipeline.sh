#!/usr/bin/env bash
# Stage 4-5 locally, SampleGen and the pipelines: on every task of TASKS, samplegen_direct (the
# SampleGen model SG_RUN), then gold_pipeline (MODEL with gold examples from the training data)
# and samplegen_pipeline (MODEL with the examples SG_RUN just generated), in one test.py process
# (on vLLM one engine serves the base model and the adapter; SampleGen direct runs first). The
# SampleGen Pipeline finds those responses by task and job id, so all three run under one job id.
#
# Settings (PRESET and the environment, study_env.sh): ROOT MODEL SG_RUN TASKS NUM_TEST TEST_BATCH
# MAX_NEW_TOKENS BERTSCORE_MODEL DATA_DIR MANUAL_DIR BACKEND TEST_ARGS (extra test.py flags).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/study_env.sh"

evaluate "$TASKS" --run_name base --model "$MODEL" --condition samplegen_direct gold_pipeline samplegen_pipeline \
    --samplegen_model "$SG_RUN"
