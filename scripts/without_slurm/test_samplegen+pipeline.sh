#!/usr/bin/env bash
# Stage 4-5 locally, SampleGen and the pipelines: on every task of TASKS, samplegen_direct (the
# SampleGen model SG_RUN), then gold_pipeline (MODEL with gold examples from the training data)
# and samplegen_pipeline (MODEL with the examples SG_RUN just generated), in one test.py process
# (on vLLM one engine serves the base model and the adapter; SampleGen direct runs first). The
# SampleGen Pipeline finds those responses by task and job id, so all three run under one job id.
#
# Settings (environment, defaults in study_env.sh): ROOT=demo_run MODEL=tiny SG_RUN=samplegen
# TASKS="cola aeslc logical_deduction" NUM_TEST=4 TEST_BATCH=4 MAX_NEW_TOKENS=24
# BERTSCORE_MODEL=bundled DATA_DIR=bundled MANUAL_DIR=bundled TEST_ARGS="" (extra test.py flags).
# Job id: $SLURM_JOB_ID, else a %Y%m%d_%H%M%S timestamp (exported, as the reference does).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/study_env.sh"
export SLURM_JOB_ID="${SLURM_JOB_ID:-$(date +%Y%m%d_%H%M%S)}"

evaluate "$TASKS" --run_name base --model "$MODEL" --condition samplegen_direct gold_pipeline samplegen_pipeline \
    --samplegen_model "$SG_RUN"
