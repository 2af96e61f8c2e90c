#!/usr/bin/env bash
# Submit the whole study to SLURM as a DAG of jobs and print one "stage jobid" line per stage:
#
#   gen_all_tasks            one job: datasets and mixtures
#   train                    array over TRAIN_FORMATS (Regular, SampleGen),     afterok gen_all_tasks
#   test_regularprompt       array over chunks of TASKS (base_zero_shot, flan_direct),    afterok train
#   test_samplegen+pipeline  array over chunks of TASKS (samplegen_direct, both pipelines), afterok train
#   (TASKS_PER_JOB tasks per array task: each loads its model once for its chunk)
#   correlate                one job: correlate.py -> ROOT/analysis/,          afterok both tests
#
#   PRESET=paper MANUAL_DIR=/data/manual scripts/with_slurm/submit_study.sh [--dry-run]
#
# Settings: PRESET and the environment (scripts/without_slurm/study_env.sh), exported to every job.
# Without ROOT the study goes to a fresh study_<timestamp> folder. Logs go to
# ROOT/slurm_logs/<stage>-<jobid>.out (arrays: <stage>-<arrayid>_<index>.out). sbatch's own
# variables (SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_GRES, ...) add cluster options. The venv is
# prepared here, once, so that the jobs never install into it concurrently.
# --dry-run (or DRY_RUN=1) prints the settings, every sbatch call with its array size, and the
# commands of every array task, and submits nothing. If an sbatch call fails, the jobs already
# queued are cancelled (scancel) and the script exits with status 1, naming the stage.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STUDY_STARTS=1
source "$HERE/../without_slurm/study_env.sh" >&2
if [ "$DRY_RUN" != 1 ]; then
    command -v sbatch >/dev/null || { echo "error: sbatch not found; run on a SLURM login node" >&2; exit 2; }
fi

# shellcheck disable=SC2086  # lists
buildable_tasks $TASKS >/dev/null
read -r -a tasks <<<"$TASKS"
read -r -a formats <<<"$TRAIN_FORMATS"
[ ${#tasks[@]} -gt 0 ] || { echo "error: TASKS is empty; name the test tasks, e.g. TASKS=\"cola aeslc\"" >&2; exit 2; }
for fmt in "${formats[@]}"; do run_name_of "$fmt" >/dev/null; done
SLURM_ARRAY_TASK_ID=0 array_chunk "$TASKS_PER_JOB" "${tasks[@]}" >/dev/null     # checks TASKS_PER_JOB
chunks=$(chunk_count "$TASKS_PER_JOB" "${tasks[@]}")
LOGS="$ROOT/slurm_logs"
submitted=()   # "stage id" of every job queued so far

if [ "$DRY_RUN" = 1 ]; then
    print_settings
else
    mkdir -p "$LOGS"
fi

fail() {  # fail STAGE MESSAGE: cancel what is queued, say what happened, exit 1
    local ids=() entry
    for entry in "${submitted[@]}"; do ids+=("${entry#* }"); done
    echo "error: submitting stage $1 failed: $2" >&2
    if [ ${#ids[@]} -eq 0 ]; then
        echo "nothing was queued" >&2
    elif command -v scancel >/dev/null && scancel "${ids[@]}"; then
        echo "cancelled the jobs already queued: ${submitted[*]}" >&2
    else
        echo "jobs already queued: ${submitted[*]}; cancel them with: scancel ${ids[*]}" >&2
    fi
    exit 1
}

submit() {  # submit STAGE SIZE SBATCH_FLAG...: queue STAGE's script (SIZE array tasks, 0 = no array); sets JOB
    local stage=$1 size=$2 out err status=0 i
    shift 2
    local flags=(--parsable --export=ALL "$@")
    if [ "$size" -gt 0 ]; then flags+=(--array="0-$((size - 1))"); fi
    if [ "$DRY_RUN" = 1 ]; then
        JOB="<$stage>"
        echo "== stage $stage: $([ "$size" -gt 0 ] && echo "array of $size jobs" || echo "one job")"
        printf '+ sbatch'; printf ' %q' "${flags[@]}" "$HERE/$stage.sh"; echo
        for ((i = 0; i < (size > 0 ? size : 1); i++)); do
            [ "$size" -gt 0 ] && echo "-- array index $i"
            if [ "$size" -gt 0 ]; then
                SLURM_ARRAY_TASK_ID=$i SLURM_JOB_ID="<$stage>_$i" bash "$HERE/$stage.sh"
            else
                SLURM_JOB_ID="<$stage>" bash "$HERE/$stage.sh"
            fi
        done
        return
    fi
    err=$(mktemp)
    out=$(sbatch "${flags[@]}" "$HERE/$stage.sh" 2>"$err") || status=$?
    JOB="${out%%;*}"
    if [ "$status" -ne 0 ] || ! [[ "$JOB" =~ ^[0-9]+$ ]]; then
        local why
        why="$(tr '\n' ' ' <"$err" | sed 's/ *$//')"
        rm -f "$err"
        fail "$stage" "sbatch exited with status $status${why:+: $why}${out:+ (output: $out)}"
    fi
    rm -f "$err"
    submitted+=("$stage $JOB")
}

submit gen_all_tasks 0 --output="$LOGS/%x-%j.out"
gen=$JOB
submit train "${#formats[@]}" --dependency="afterok:$gen" --output="$LOGS/%x-%A_%a.out"
train=$JOB
tests=()
for stage in test_regularprompt test_samplegen+pipeline; do
    submit "$stage" "$chunks" --dependency="afterok:$train" --output="$LOGS/%x-%A_%a.out"
    tests+=("$JOB")
done
submit correlate 0 --dependency="afterok:${tests[0]}:${tests[1]}" --output="$LOGS/%x-%j.out"
correlate=$JOB

if [ "$DRY_RUN" = 1 ]; then
    echo "dry run: nothing submitted (root $ROOT)"
    exit 0
fi
echo "study root: $ROOT" >&2
echo "gen_all_tasks $gen"
echo "train $train"
echo "test_regularprompt ${tests[0]}"
echo "test_samplegen+pipeline ${tests[1]}"
echo "correlate $correlate"
