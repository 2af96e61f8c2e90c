#!/usr/bin/env bash
#SBATCH --job-name=train
#SBATCH --output=slurm-%x-%A_%a.out
#SBATCH --cpus-per-task=1
#SBATCH --array=0-1
# Stage 3 as a job array over TRAIN_FORMATS: index 0 trains the Regular-Prompt model REG_RUN on
# flan_prompts_mixture, index 1 the SampleGen model SG_RUN on mix_prompts_mixture (run outside
# a job array, it trains both, one after the other).
#
#   sbatch scripts/with_slurm/train.sh             (from the repo root; the job log lands there)
#
# Settings: PRESET (paper, demo, smoke or a file) and the environment, passed through by sbatch
# (scripts/without_slurm/study_env.sh); ROOT names the study (gen_all_tasks makes a fresh one).
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
