#!/usr/bin/env bash
#SBATCH --job-name=gen_all_tasks
#SBATCH --output=slurm-%x-%j.out
#SBATCH --cpus-per-task=1
# Stages 1-2 as one SLURM job: every training task's datasets, the test sets of TASKS and both
# default mixtures (scripts/without_slurm/gen_all_tasks.sh under this job's id).
#
#   sbatch scripts/with_slurm/gen_all_tasks.sh     (from the repo root; the job log lands there)
#
# Settings: PRESET (paper, demo, smoke or a file) and the environment, passed through by sbatch
# (scripts/without_slurm/study_env.sh); ROOT names the study (gen_all_tasks makes a fresh one).
set -euo pipefail
# sbatch runs a copy of this file: find the original through the job record to reach the repo.
src="${BASH_SOURCE[0]}"
[ -f "$(dirname "$src")/../setup_env.sh" ] || src=$(scontrol show job "$SLURM_JOB_ID" | sed -n "/^ *Command=/{s/^ *Command=//p;q}")
REPO="$(cd "$(dirname "$src")/../.." && pwd)"
STUDY_STARTS=1
source "$REPO/scripts/without_slurm/study_env.sh"

echo "job $SLURM_JOB_ID: building datasets under $ROOT"
exec "$REPO/scripts/without_slurm/gen_all_tasks.sh"
