#!/usr/bin/env bash
#SBATCH --job-name=test_regularprompt
#SBATCH --output=slurm-%x-%A_%a.out
#SBATCH --cpus-per-task=1
# Stages 4-5 as a job array over chunks of TASKS_PER_JOB tasks: array index i evaluates the
# i-th chunk of TASKS (one model load per model and adapter for the whole chunk) in
# base_zero_shot and flan_direct (scripts/without_slurm/test_regularprompt.sh).
# Each array task logs its own $SLURM_JOB_ID. Without an array index it evaluates every task.
#
#   sbatch --array=0-1 scripts/with_slurm/test_regularprompt.sh
#   (one index per chunk: 3 tasks, TASKS_PER_JOB=2; from the repo root)
#
# Settings: PRESET (paper, demo, smoke or a file) and the environment, passed through by sbatch
# (scripts/without_slurm/study_env.sh); ROOT names the study (gen_all_tasks makes a fresh one).
set -euo pipefail
# sbatch runs a copy of this file: find the original through the job record to reach the repo.
src="${BASH_SOURCE[0]}"
[ -f "$(dirname "$src")/../setup_env.sh" ] || src=$(scontrol show job "$SLURM_JOB_ID" | sed -n "/^ *Command=/{s/^ *Command=//p;q}")
REPO="$(cd "$(dirname "$src")/../.." && pwd)"
source "$REPO/scripts/without_slurm/study_env.sh"

# shellcheck disable=SC2086  # TASKS is a list
TASKS=$(array_chunk "$TASKS_PER_JOB" $TASKS)
echo "job $SLURM_JOB_ID (array ${SLURM_ARRAY_JOB_ID:-none} index ${SLURM_ARRAY_TASK_ID:-none}): evaluating $TASKS"
exec "$REPO/scripts/without_slurm/test_regularprompt.sh"
