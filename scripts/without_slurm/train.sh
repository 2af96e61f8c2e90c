#!/usr/bin/env bash
# Stage 3 locally: LoRA-tune MODEL on each mixture of TRAIN_FORMATS, one after the other:
# flan_prompts_mixture -> saved_models/$REG_RUN (Regular), mix_prompts_mixture -> $SG_RUN (SampleGen).
#
# Settings (environment, defaults in study_env.sh): ROOT=demo_run MODEL=tiny REG_RUN=regular
# SG_RUN=samplegen TRAIN_FORMATS="flan_prompts mix_prompts" NUM_TRAIN=64 EPOCHS=2 TRAIN_BATCH=4
# LR=3e-3 MAX_LENGTH=768 TRAIN_ARGS="" (extra train.py flags, e.g. "--load_in_4bit True").
# Job id: $SLURM_JOB_ID, else a %Y%m%d_%H%M%S timestamp (exported, as the reference does).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/study_env.sh"
export SLURM_JOB_ID="${SLURM_JOB_ID:-$(date +%Y%m%d_%H%M%S)}"

for fmt in $TRAIN_FORMATS; do
    run=$(run_name_of "$fmt")
    # shellcheck disable=SC2086  # TRAIN_ARGS is a list of extra flags
    python train.py --dataset "${fmt}_mixture" --model "$MODEL" --run_name "$run" --num_train "$NUM_TRAIN" \
        --num_epochs "$EPOCHS" --batch_size "$TRAIN_BATCH" --learning_rate "$LR" --max_length "$MAX_LENGTH" \
        --gradient_checkpointing False --slurm_job_id "$SLURM_JOB_ID" --root "$ROOT" $TRAIN_ARGS
done
