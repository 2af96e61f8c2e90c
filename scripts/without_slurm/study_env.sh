# Sourced by the study scripts (not run directly): the repository root, the project's
# venv, and the study settings. Every setting is an environment variable with a default
# for the embedded demo study (tiny model, bundled data, CPU); set it to change it.
#
#   ROOT=demo_run            output root (data/, saved_models/, logs); a relative ROOT is under the repo root
#   MODEL=tiny               base model: hub id, local path or tiny (the built-in test model)
#   TASKS="cola aeslc logical_deduction"   test tasks (names): classification, generation, BigBench
#   NUM_DATA=8               rows per task dataset (create_prompts --num_datapoints)
#   NUM_TEST=4               test items per evaluation
#   REG_RUN=regular          run name of the Regular-Prompt model (flan_prompts_mixture)
#   SG_RUN=samplegen         run name of the SampleGen model (mix_prompts_mixture)
#   TRAIN_FORMATS="flan_prompts mix_prompts"   mixtures train.sh trains (REG_RUN, SG_RUN)
#   NUM_TRAIN=64 EPOCHS=2 TRAIN_BATCH=4 LR=3e-3 MAX_LENGTH=768   training (32 steps each)
#   TEST_BATCH=4 MAX_NEW_TOKENS=24                                generation
#   BACKEND=hf               test.py --backend; vllm runs every stage in .venv-vllm (scripts/setup_vllm_env.sh)
#   TASKS_PER_JOB=2          SLURM: tasks per array task (each loads its model once for all of them)
#   BERTSCORE_MODEL=bundled  BERTScore encoder (bundled = offline MiniLM; roberta-large needs the hub)
#   DATA_DIR=bundled MANUAL_DIR=bundled   raw data; set them empty (DATA_DIR= MANUAL_DIR=) for the hub
#   OVERWRITE=False          rebuild task datasets that already exist
#   TRAIN_ARGS / TEST_ARGS   extra flags for train.py / test.py, split on spaces (e.g. "--backend vllm")
#   CORRELATE_ARGS           extra flags for correlate.py
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
ROOT="${ROOT:-demo_run}"
: "${BACKEND:=hf}"
case "$BACKEND" in
    hf) source scripts/setup_env.sh ;;
    vllm) source scripts/setup_vllm_env.sh ;;
    *) echo "error: BACKEND must be hf or vllm, got '$BACKEND'" >&2; exit 2 ;;
esac
: "${MODEL:=tiny}" "${TASKS:=cola aeslc logical_deduction}"
: "${NUM_DATA:=8}" "${NUM_TEST:=4}" "${REG_RUN:=regular}" "${SG_RUN:=samplegen}"
: "${TRAIN_FORMATS:=flan_prompts mix_prompts}"
: "${NUM_TRAIN:=64}" "${EPOCHS:=2}" "${TRAIN_BATCH:=4}" "${LR:=3e-3}" "${MAX_LENGTH:=768}"
: "${TEST_BATCH:=4}" "${MAX_NEW_TOKENS:=24}" "${BERTSCORE_MODEL:=bundled}" "${OVERWRITE:=False}"
: "${TASKS_PER_JOB:=2}"
: "${DATA_DIR=bundled}" "${MANUAL_DIR=bundled}" "${TRAIN_ARGS:=}" "${TEST_ARGS:=}" "${CORRELATE_ARGS:=}"
ROOT="$(realpath -m "$ROOT")"
export ROOT MODEL TASKS NUM_DATA NUM_TEST REG_RUN SG_RUN TRAIN_FORMATS NUM_TRAIN EPOCHS TRAIN_BATCH LR \
    MAX_LENGTH TEST_BATCH MAX_NEW_TOKENS BERTSCORE_MODEL OVERWRITE DATA_DIR MANUAL_DIR TRAIN_ARGS TEST_ARGS \
    CORRELATE_ARGS TASKS_PER_JOB BACKEND
# One thread per allocated CPU inside a SLURM job (torch would otherwise use every core).
if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$SLURM_CPUS_PER_TASK}"; fi
# Raw-data flags, left out when DATA_DIR / MANUAL_DIR are empty (the hub).
DATA_FLAGS=()
if [ -n "$DATA_DIR" ]; then DATA_FLAGS+=(--data_dir "$DATA_DIR"); fi
if [ -n "$MANUAL_DIR" ]; then DATA_FLAGS+=(--manual_dir "$MANUAL_DIR"); fi

run_name_of() {  # run_name_of FORMAT: the run trained on FORMAT's mixture
    case "$1" in
        flan_prompts) echo "$REG_RUN" ;;
        mix_prompts) echo "$SG_RUN" ;;
        *) echo "error: TRAIN_FORMATS: unknown format '$1' (use flan_prompts and/or mix_prompts)" >&2; return 2 ;;
    esac
}

evaluate() {  # evaluate "TASK..." FLAG...: one test.py run (one model load) on every task, shared settings
    local tasks=$1; shift
    # shellcheck disable=SC2086  # the task list and TEST_ARGS are lists
    python test.py --test_task $tasks --backend "$BACKEND" --num_test "$NUM_TEST" --batch_size "$TEST_BATCH" \
        --max_new_tokens "$MAX_NEW_TOKENS" --bertscore_model "$BERTSCORE_MODEL" "${DATA_FLAGS[@]}" \
        --slurm_job_id "$SLURM_JOB_ID" --root "$ROOT" $TEST_ARGS "$@"
}

buildable_tasks() {  # buildable_tasks TASK...: those create_prompts.py builds (not BigBench/GSM8K); checks names
    python - "$@" <<'PY'
import sys
from inherent_limits.data.registry import get_task
from inherent_limits.core.errors import run_cli
run_cli(lambda: print(" ".join(t for t in sys.argv[1:] if get_task(t).template_family)))
PY
}

array_item() {  # array_item WORD...: the word at $SLURM_ARRAY_TASK_ID; all words outside a job array
    array_chunk 1 "$@"
}

chunk_count() {  # chunk_count SIZE WORD...: how many chunks of SIZE words the words make
    local size=$1; shift
    echo $(( ($# + size - 1) / size ))
}

array_chunk() {  # array_chunk SIZE WORD...: the SIZE words of chunk $SLURM_ARRAY_TASK_ID; all words outside an array
    local size=$1; shift
    local words=("$@") i="${SLURM_ARRAY_TASK_ID:-}"
    if ! [ "$size" -ge 1 ] 2>/dev/null; then
        echo "error: TASKS_PER_JOB must be a positive integer, got '$size'" >&2
        return 2
    fi
    if [ -z "$i" ]; then echo "$*"; return; fi
    if [ "$i" -ge "$(chunk_count "$size" "$@")" ]; then
        echo "error: array index $i is past the last chunk of $size of ($*); submit with" \
            "--array=0-$(($(chunk_count "$size" "$@") - 1))" >&2
        return 2
    fi
    echo "${words[@]:$((i * size)):$size}"
}
