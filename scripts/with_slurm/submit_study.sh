#!/usr/bin/env bash
# Submit the whole study to SLURM as a DAG of jobs and print one "stage jobid" line per stage:
#
#   gen_all_tasks            one job: datasets and mixtures
#   train                    array over TRAIN_FORMATS (Regular, SampleGen),     afterok gen_all_tasks
#   test_regularprompt       array over chunks of TASKS (base_zero_shot, flan_direct),    afterok train
#   test_samplegen+pipeline  array over chunks of TASKS (samplegen_direct, both pipelines), afterok train
#   (TASKS_PER_JOB tasks per array task, default 2: each loads its model once for its chunk)
#   correlate                one job: correlate.py -> ROOT/analysis/,          afterok both tests
#
#   scripts/with_slurm/submit_study.sh             (from anywhere; needs sbatch)
#
# Settings: the environment variables of scripts/without_slurm/study_env.sh (ROOT=demo_run,
# MODEL=tiny, TASKS="cola aeslc logical_deduction", NUM_DATA=8, NUM_TEST=4, ...), exported to
# every job. Logs go to ROOT/slurm_logs/<stage>-<jobid>.out (arrays: <stage>-<arrayid>_<index>.out).
# sbatch's own variables (SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_GRES, ...) add cluster options.
# The venv is prepared here, once, so that the jobs never install into it concurrently.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../without_slurm/study_env.sh" >&2
command -v sbatch >/dev/null || { echo "error: sbatch not found; run on a SLURM login node" >&2; exit 2; }

# shellcheck disable=SC2086  # lists
buildable_tasks $TASKS >/dev/null
read -r -a tasks <<<"$TASKS"
read -r -a formats <<<"$TRAIN_FORMATS"
[ ${#tasks[@]} -gt 0 ] || { echo "error: TASKS is empty; name the test tasks, e.g. TASKS=\"cola aeslc\"" >&2; exit 2; }
for fmt in "${formats[@]}"; do run_name_of "$fmt" >/dev/null; done
SLURM_ARRAY_TASK_ID=0 array_chunk "$TASKS_PER_JOB" "${tasks[@]}" >/dev/null     # checks TASKS_PER_JOB
chunks=$(chunk_count "$TASKS_PER_JOB" "${tasks[@]}")
LOGS="$ROOT/slurm_logs"
mkdir -p "$LOGS"

submit() {  # submit SCRIPT SBATCH_FLAG...: print the job id
    local out
    out=$(sbatch --parsable --export=ALL "${@:2}" "$HERE/$1")
    echo "${out%%;*}"
}

gen=$(submit gen_all_tasks.sh --output="$LOGS/%x-%j.out")
train=$(submit train.sh --array="0-$((${#formats[@]} - 1))" --dependency="afterok:$gen" --output="$LOGS/%x-%A_%a.out")
tests=()
for stage in test_regularprompt test_samplegen+pipeline; do
    tests+=("$(submit "$stage.sh" --array="0-$((chunks - 1))" --dependency="afterok:$train" \
        --output="$LOGS/%x-%A_%a.out")")
done
correlate=$(submit correlate.sh --dependency="afterok:${tests[0]}:${tests[1]}" --output="$LOGS/%x-%j.out")

echo "gen_all_tasks $gen"
echo "train $train"
echo "test_regularprompt ${tests[0]}"
echo "test_samplegen+pipeline ${tests[1]}"
echo "correlate $correlate"
