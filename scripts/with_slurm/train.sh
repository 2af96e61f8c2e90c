#!/usr/bin/env bash
#SBATCH --job-name=train
#SBATCH --output=demo_run/slurm_logs/%x-%A_%a.out
#SBATCH --cpus-per-task=1
#SBATCH --array=0-1
# Stage 3 as a job array over TRAIN_FORMATS: index 0 trains the Regular-Prompt model REG_RUN on
# flan_prompts_mixture, index 1 the SampleGen model SG_RUN on mix_prompts_mixture (run outside
# a job array, it trains both, one after the other).
#
#   sbatch scripts/with_slurm/train.sh             (from the repo root; demo_run/slurm_logs must exist)
#
# Settings (environment, passed through by sbatch; defaults in scripts/without_slurm/study_env.sh):
# ROOT=demo_run MODEL=tiny REG_RUN=regular SG_RUN=samplegen TRAIN_FORMATS="flan_prompts mix_prompts"
# NUM_TRAIN=64 EPOCHS=2 TRAIN_BATCH=4 LR=3e-3 MAX_LENGTH=768 TRAIN_ARGS="". train_logs.csv gets
# each array task's own $SLURM_JOB_ID.
set -euo pipefail
# sbatch runs a copy of this file: find the original through the job record to reach the repo.
src="${BASH_SOURCE[0]}"
[ -f "$(dirname "$src")/../setup_env.sh" ] || src=$(scontrol show job "$SLURM_JOB_ID" | sed -n "/^ *Command=/{s/^ *Command=//p;q}")
REPO="$(cd "$(dirname "$src")/../.." && pwd)"
source "$REPO/scripts/without_slurm/study_env.sh"

# shellcheck disable=SC2086  # TRAIN_FORMATS is a list
TRAIN_FORMATS=$(array_item $TRAIN_FORMATS)
echo "job $SLURM_JOB_ID (array ${SLURM_ARRAY_JOB_ID:-none} index ${SLURM_ARRAY_TASK_ID:-none}): training on $TRAIN_FORMATS"
exec "$REPO/scripts/without_slurm/train.sh"
