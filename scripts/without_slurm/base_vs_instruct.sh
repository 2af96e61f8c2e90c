#!/usr/bin/env bash
# Second study locally: base vs instruct (arXiv 2601.13244) on BVI_DATASETS, one process
# (each model is loaded once). Rows go to $ROOT/base_vs_instruct/<base>__vs__<instruct>/samples.csv,
# summary rows to $ROOT/base_vs_instruct_logs.csv; the report is rebuilt at the end. A rerun resumes.
#
# Settings (environment; ROOT, DATA_DIR and the venv come from study_env.sh):
#   BVI_BASE=              base model (hub id, path, tiny, or a run: its base); empty = the base of BVI_INSTRUCT
#   BVI_INSTRUCT=$REG_RUN  instruct model (hub id, path, tiny, or a run under saved_models/: base + adapter)
#   BVI_DATASETS="gsm8k math500 math_perturb_hard medcalc"
#   BVI_SIDES="base instruct"   which side(s) to generate
#   BVI_NUM_ITEMS=2 BVI_COT_K=4 BVI_NUM_SAMPLES=4 BVI_MAX_NEW_TOKENS=48 BVI_N_SHOTS=2   (demo sizes; the
#                          paper: all items, 20, 20, 8192, and empty BVI_N_SHOTS for the per-dataset defaults)
#   BVI_NO_CHAT_TEMPLATE=True   the tiny model has no chat template; set False for real instruct models
#   BVI_ARGS=""            extra base_vs_instruct.py flags, split on spaces (e.g. "--backend vllm")
# Job id: $SLURM_JOB_ID, else a %Y%m%d_%H%M%S timestamp.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/study_env.sh"
export SLURM_JOB_ID="${SLURM_JOB_ID:-$(date +%Y%m%d_%H%M%S)}"
: "${BVI_BASE=}" "${BVI_INSTRUCT:=$REG_RUN}" "${BVI_DATASETS:=gsm8k math500 math_perturb_hard medcalc}"
: "${BVI_SIDES:=base instruct}" "${BVI_NUM_ITEMS=2}" "${BVI_COT_K:=4}" "${BVI_NUM_SAMPLES:=4}"
: "${BVI_MAX_NEW_TOKENS:=48}" "${BVI_N_SHOTS=2}" "${BVI_NO_CHAT_TEMPLATE:=True}" "${BVI_ARGS:=}"

flags=()
if [ -n "$BVI_BASE" ]; then flags+=(--base "$BVI_BASE"); fi
if [ -n "$BVI_NUM_ITEMS" ]; then flags+=(--num_items "$BVI_NUM_ITEMS"); fi
if [ -n "$BVI_N_SHOTS" ]; then flags+=(--n_shots "$BVI_N_SHOTS"); fi
if [ -n "$DATA_DIR" ]; then flags+=(--data_dir "$DATA_DIR"); fi
# shellcheck disable=SC2086  # BVI_DATASETS, BVI_SIDES and BVI_ARGS are lists
python base_vs_instruct.py --instruct "$BVI_INSTRUCT" --datasets $BVI_DATASETS --sides $BVI_SIDES \
    --cot_k "$BVI_COT_K" --num_samples "$BVI_NUM_SAMPLES" --max_new_tokens "$BVI_MAX_NEW_TOKENS" \
    --no_chat_template "$BVI_NO_CHAT_TEMPLATE" --progress False --slurm_job_id "$SLURM_JOB_ID" \
    --root "$ROOT" "${flags[@]}" $BVI_ARGS
