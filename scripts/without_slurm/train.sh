#!/usr/bin/env bash
# Stage 3 locally: LoRA-tune MODEL on each mixture of TRAIN_FORMATS, one after the other:
# flan_prompts_mixture -> saved_models/$REG_RUN (Regular), mix_prompts_mixture -> $SG_RUN (SampleGen).
#
# Settings (PRESET and the environment, study_env.sh): ROOT MODEL REG_RUN SG_RUN TRAIN_FORMATS
# NUM_TRAIN EPOCHS TRAIN_BATCH LR MAX_LENGTH GRAD_CKPT TRAIN_ARGS (extra train.py flags).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/study_env.sh"

for fmt in $TRAIN_FORMATS; do
    run=$(run_name_of "$fmt")
    # shellcheck disable=SC2086  # TRAIN_ARGS is a list of extra flags
    step python train.py --dataset "${fmt}_mixture" --model "$MODEL" --run_name "$run" --num_train "$NUM_TRAIN" \
        --num_epochs "$EPOCHS" --batch_size "$TRAIN_BATCH" --learning_rate "$LR" --max_length "$MAX_LENGTH" \
        --gradient_checkpointing "$GRAD_CKPT" --slurm_job_id "$SLURM_JOB_ID" --root "$ROOT" $TRAIN_ARGS
done
