#!/usr/bin/env bash
#SBATCH --job-name=correlate
#SBATCH --output=slurm-%x-%j.out
#SBATCH --cpus-per-task=1
# Stage 6 as one SLURM job: correlate.py over ROOT's logs (scripts/without_slurm/correlate.sh).
#
#   sbatch scripts/with_slurm/correlate.sh         (from the repo root; the job log lands there)
#
# Settings: PRESET (paper, demo, smoke or a file) and the environment, passed through by sbatch
# (scripts/without_slurm/study_env.sh); ROOT names the study (gen_all_tasks makes a fresh one).
set -euo pipefail
# sbatch runs a copy of this file: find the original through the job record to reach the repo.
src="${BASH_SOURCE[0]}"
[ -f "$(dirname "$src")/../setup_env.sh" ] || src=$(scontrol show job "$SLURM_JOB_ID" | sed -n "/^ *Command=/{s/^ *Command=//p;q}")
REPO="$(cd "$(dirname "$src")/../.." && pwd)"
source "$REPO/scripts/without_slurm/study_env.sh"

echo "job $SLURM_JOB_ID: correlating the logs under $ROOT"
exec "$REPO/scripts/without_slurm/correlate.sh"
