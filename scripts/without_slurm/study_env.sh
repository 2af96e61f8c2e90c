# Sourced by the study scripts (not run directly): the repository root, the project's venv, the
# study settings and the helpers the stages share.
#
# Settings come from a preset, scripts/presets/<PRESET>.env (PRESET=paper, demo or smoke) or the
# file PRESET names; an environment variable of the same name overrides the preset's value (an
# empty one too: DATA_DIR= means the hub). What each setting means:
#
#   MODEL                    base model: hub id, local path or tiny (the built-in test model)
#   TASKS                    test tasks: names or groups (test, bigbench, gsm8k, a cluster)
#   NUM_DATA                 rows per task dataset (create_prompts / make_mixtures --num_datapoints)
#   NUM_TEST                 test items per evaluation
#   REG_RUN / SG_RUN         run names of the Regular-Prompt and SampleGen models
#   TRAIN_FORMATS            mixtures train.sh trains ("flan_prompts mix_prompts": REG_RUN, SG_RUN)
#   NUM_TRAIN EPOCHS TRAIN_BATCH LR MAX_LENGTH GRAD_CKPT      training
#   TEST_BATCH MAX_NEW_TOKENS   generation (MAX_NEW_TOKENS empty: test.py's 1024 with an adapter, 250 without)
#   BERTSCORE_MODEL          BERTScore encoder (bundled = offline MiniLM; roberta-large needs the hub)
#   DATA_DIR MANUAL_DIR      raw data: a folder, bundled, or empty for the hub (MANUAL_DIR: manual downloads)
#   BACKEND                  hf or vllm (vllm runs every stage in .venv-vllm, scripts/setup_vllm_env.sh)
#   TASKS_PER_JOB            SLURM: tasks per array task (each loads its model once for all of them)
#   OVERWRITE                rebuild task datasets that already exist
#   TRAIN_ARGS TEST_ARGS CORRELATE_ARGS   extra flags for train.py / test.py / correlate.py
#   BVI_*                    the second study (scripts/without_slurm/base_vs_instruct.sh)
#
# Not in presets: ROOT, the study's folder (relative: under the repository root). The scripts that
# start a study (gen_all_tasks.sh, run_study.sh, submit_study.sh) make a fresh study_<job id> when
# it is unset; the later stages need it named. DRY_RUN=1 (or --dry-run) prints the settings and
# every command without running or installing anything. The job id is $SLURM_JOB_ID, else a
# %Y%m%d_%H%M%S timestamp (exported, as the reference does).
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
_caller_dir="$PWD"
cd "$REPO"
STUDY_SETTINGS=(MODEL TASKS NUM_DATA NUM_TEST REG_RUN SG_RUN TRAIN_FORMATS NUM_TRAIN EPOCHS TRAIN_BATCH LR
    MAX_LENGTH GRAD_CKPT TEST_BATCH MAX_NEW_TOKENS BERTSCORE_MODEL DATA_DIR MANUAL_DIR BACKEND TASKS_PER_JOB
    OVERWRITE TRAIN_ARGS TEST_ARGS CORRELATE_ARGS BVI_BASE BVI_INSTRUCT BVI_DATASETS BVI_SIDES BVI_NUM_ITEMS
    BVI_COT_K BVI_NUM_SAMPLES BVI_TEMPERATURE BVI_MAX_NEW_TOKENS BVI_N_SHOTS BVI_NO_CHAT_TEMPLATE BVI_DATA_DIR
    BVI_ARGS)

for _arg in "$@"; do
    case "$_arg" in
        --dry-run) DRY_RUN=1 ;;
        *) echo "error: unknown argument '$_arg' (the only one is --dry-run; settings are environment variables)" >&2
           exit 2 ;;
    esac
done
: "${DRY_RUN:=0}"
export DRY_RUN

load_preset() {  # load_preset: set every study setting from PRESET's file unless the environment has it
    local file line n=0 name value
    if [ -z "${PRESET:-}" ]; then
        echo "error: PRESET is not set: choose paper, demo, smoke (scripts/presets/) or the path of your own file" >&2
        exit 2
    fi
    case "$PRESET" in
        /*) file="$PRESET" ;;
        */*|*.env) file="$_caller_dir/$PRESET" ;;          # a relative path: from where the script was called
        *) file="$REPO/scripts/presets/$PRESET.env" ;;
    esac
    if [ ! -f "$file" ]; then
        echo "error: PRESET=$PRESET: no file $file (choose paper, demo, smoke or the path of your own)" >&2
        exit 2
    fi
    declare -A known=() seen=()
    for name in "${STUDY_SETTINGS[@]}"; do known[$name]=1; done
    while IFS= read -r line || [ -n "$line" ]; do
        n=$((n + 1))
        [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
        if ! [[ "$line" =~ ^([A-Z][A-Z0-9_]*)=(.*)$ ]]; then
            echo "error: $file line $n: expected NAME=value, got '$line'" >&2
            exit 2
        fi
        name="${BASH_REMATCH[1]}" value="${BASH_REMATCH[2]}"
        if [ -z "${known[$name]:-}" ]; then
            echo "error: $file line $n: unknown setting $name (settings: ${STUDY_SETTINGS[*]})" >&2
            exit 2
        fi
        if [[ "$value" =~ ^\"(.*)\"$ ]]; then value="${BASH_REMATCH[1]}"; fi
        seen[$name]=1
        if [ -z "${!name+x}" ]; then printf -v "$name" '%s' "$value"; fi
    done <"$file"
    local missing=()
    for name in "${STUDY_SETTINGS[@]}"; do
        if [ -z "${seen[$name]:-}" ] && [ -z "${!name+x}" ]; then missing+=("$name"); fi
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "error: $file sets no ${missing[*]} (copy scripts/presets/paper.env and edit it)" >&2
        exit 2
    fi
    PRESET_FILE="$(realpath "$file")"
    case "$PRESET" in */*|*.env) PRESET="$PRESET_FILE" ;; esac   # nested scripts run from the repository root
    export PRESET PRESET_FILE "${STUDY_SETTINGS[@]}"
}
load_preset

export SLURM_JOB_ID="${SLURM_JOB_ID:-$(date +%Y%m%d_%H%M%S)}"
if [ -z "${ROOT:-}" ]; then
    if [ "${STUDY_STARTS:-0}" != 1 ]; then
        echo "error: ROOT is not set: name the study's folder (the one gen_all_tasks.sh, run_study.sh or" \
            "submit_study.sh printed), e.g. ROOT=study_20260101_120000" >&2
        exit 2
    fi
    ROOT="study_$SLURM_JOB_ID"
fi
ROOT="$(realpath -m "$ROOT")"
export ROOT

case "$BACKEND" in
    hf) _setup=scripts/setup_env.sh ;;
    vllm) _setup=scripts/setup_vllm_env.sh ;;
    *) echo "error: BACKEND must be hf or vllm, got '$BACKEND'" >&2; exit 2 ;;
esac
if [ "$DRY_RUN" = 1 ]; then
    PYTHON="${PYTHON:-python3}"          # nothing is installed: the task names are checked with any python
else
    source "$_setup"
    PYTHON=python
fi
# One thread per allocated CPU inside a SLURM job (torch would otherwise use every core).
if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$SLURM_CPUS_PER_TASK}"; fi
# Raw-data flags, left out when DATA_DIR / MANUAL_DIR are empty (the hub).
DATA_FLAGS=()
if [ -n "$DATA_DIR" ]; then DATA_FLAGS+=(--data_dir "$DATA_DIR"); fi
if [ -n "$MANUAL_DIR" ]; then DATA_FLAGS+=(--manual_dir "$MANUAL_DIR"); fi

print_settings() {  # print_settings: the preset, the root and every setting, one per line
    local name
    echo "preset $PRESET ($PRESET_FILE)"
    echo "ROOT=$ROOT"
    for name in "${STUDY_SETTINGS[@]}"; do echo "$name=${!name}"; done
}

step() {  # step CMD...: run CMD, or under DRY_RUN=1 print it
    if [ "$DRY_RUN" = 1 ]; then
        printf '+'; printf ' %q' "$@"; echo
    else
        "$@"
    fi
}

run_name_of() {  # run_name_of FORMAT: the run trained on FORMAT's mixture
    case "$1" in
        flan_prompts) echo "$REG_RUN" ;;
        mix_prompts) echo "$SG_RUN" ;;
        *) echo "error: TRAIN_FORMATS: unknown format '$1' (use flan_prompts and/or mix_prompts)" >&2; return 2 ;;
    esac
}

evaluate() {  # evaluate "TASK..." FLAG...: one test.py run (one model load) on every task, shared settings
    local tasks=$1; shift
    local extra=()
    if [ -n "$MAX_NEW_TOKENS" ]; then extra+=(--max_new_tokens "$MAX_NEW_TOKENS"); fi
    # shellcheck disable=SC2086  # the task list and TEST_ARGS are lists
    step python test.py --test_task $tasks --backend "$BACKEND" --num_test "$NUM_TEST" --batch_size "$TEST_BATCH" \
        "${extra[@]}" --bertscore_model "$BERTSCORE_MODEL" "${DATA_FLAGS[@]}" \
        --slurm_job_id "$SLURM_JOB_ID" --root "$ROOT" $TEST_ARGS "$@"
}

task_names() {  # task_names TASK...: the task names of names and groups, checked
    "$PYTHON" - "$@" <<'PY'
import sys
from inherent_limits.core.errors import run_cli
from inherent_limits.data.registry import resolve_tasks
run_cli(lambda: print(" ".join(resolve_tasks(sys.argv[1:]))))
PY
}

buildable_tasks() {  # buildable_tasks TASK...: those create_prompts.py builds (not BigBench/GSM8K); checks names
    "$PYTHON" - "$@" <<'PY'
import sys
from inherent_limits.core.errors import run_cli
from inherent_limits.data.registry import get_task
run_cli(lambda: print(" ".join(t for t in sys.argv[1:] if get_task(t).template_family)))
PY
}

# shellcheck disable=SC2086  # TASKS is a list
TASKS="$(task_names $TASKS)"
export TASKS

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
