#!/usr/bin/env bash
#SBATCH --job-name=base_vs_instruct
#SBATCH --output=slurm-%x-%A_%a.out
#SBATCH --cpus-per-task=1
# The base-vs-instruct study as a job array over (side, dataset) chunks: index i runs side
# BVI_SIDES[i / D] on dataset BVI_DATASETS[i % D] (D datasets), by
# scripts/without_slurm/base_vs_instruct.sh. All chunks append to the same per-sample log and the
# summary log (under their locks); each rebuilds the report from what is logged so far, so after the
# array finishes rebuild it once from the complete log:
#
#   sbatch --array=0-7 scripts/with_slurm/base_vs_instruct.sh      # 2 sides x 4 datasets
#   python base_vs_instruct.py --report_only $ROOT/base_vs_instruct/<base>__vs__<instruct>/samples.csv
#   (from the repo root; the job log lands there)
#
# Without an array index it runs every chunk in one job. Settings: the BVI_* variables of
# scripts/without_slurm/base_vs_instruct.sh and those of scripts/without_slurm/study_env.sh.
set -euo pipefail
# sbatch runs a copy of this file: find the original through the job record to reach the repo.
src="${BASH_SOURCE[0]}"
[ -f "$(dirname "$src")/../setup_env.sh" ] || src=$(scontrol show job "$SLURM_JOB_ID" | sed -n "/^ *Command=/{s/^ *Command=//p;q}")
REPO="$(cd "$(dirname "$src")/../.." && pwd)"
source "$REPO/scripts/without_slurm/study_env.sh"
read -r -a datasets <<<"$BVI_DATASETS"
read -r -a sides <<<"$BVI_SIDES"
i="${SLURM_ARRAY_TASK_ID:-}"
if [ -n "$i" ]; then
    count=$((${#sides[@]} * ${#datasets[@]}))
    if [ "$i" -ge "$count" ]; then
        echo "error: array index $i is past the last chunk: submit with --array=0-$((count - 1)) (sides x datasets)" >&2
        exit 2
    fi
    export BVI_SIDES="${sides[$((i / ${#datasets[@]}))]}" BVI_DATASETS="${datasets[$((i % ${#datasets[@]}))]}"
fi
echo "job $SLURM_JOB_ID (array ${SLURM_ARRAY_JOB_ID:-none} index ${i:-none}): $BVI_SIDES on $BVI_DATASETS"
exec "$REPO/scripts/without_slurm/base_vs_instruct.sh"
