#!/usr/bin/env bash
# Second study locally: base vs instruct (arXiv 2601.13244) on BVI_DATASETS, one process
# (each model is loaded once). Rows go to $ROOT/base_vs_instruct/<base>__vs__<instruct>/samples.csv,
# summary rows to $ROOT/base_vs_instruct_logs.csv; the report is rebuilt at the end. A rerun resumes.
#
# Settings (PRESET and the environment, study_env.sh):
#   BVI_BASE                 base model (hub id, path, tiny, or a run: its base); empty = the base of BVI_INSTRUCT
#   BVI_INSTRUCT             instruct model (hub id, path, tiny, or a run under saved_models/: base + adapter)
#   BVI_DATASETS BVI_SIDES   benchmarks and side(s) to generate
#   BVI_NUM_ITEMS            first N items of each benchmark (empty: all)
#   BVI_COT_K BVI_NUM_SAMPLES BVI_TEMPERATURE BVI_MAX_NEW_TOKENS   decoding (paper: 20, 20, 0.05, 8192)
#   BVI_N_SHOTS              few-shot exemplars (empty: the per-dataset defaults)
#   BVI_NO_CHAT_TEMPLATE     True for instruct models without a chat template (the tiny model)
#   BVI_DATA_DIR             benchmark files: a folder, bundled, or empty for the hub
#   BVI_ARGS                 extra base_vs_instruct.py flags, split on spaces (e.g. "--backend vllm")
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/study_env.sh"

flags=()
if [ -n "$BVI_BASE" ]; then flags+=(--base "$BVI_BASE"); fi
if [ -n "$BVI_NUM_ITEMS" ]; then flags+=(--num_items "$BVI_NUM_ITEMS"); fi
if [ -n "$BVI_N_SHOTS" ]; then flags+=(--n_shots "$BVI_N_SHOTS"); fi
if [ -n "$BVI_DATA_DIR" ]; then flags+=(--data_dir "$BVI_DATA_DIR"); fi
# shellcheck disable=SC2086  # BVI_DATASETS, BVI_SIDES and BVI_ARGS are lists
step python base_vs_instruct.py --instruct "$BVI_INSTRUCT" --datasets $BVI_DATASETS --sides $BVI_SIDES \
    --cot_k "$BVI_COT_K" --num_samples "$BVI_NUM_SAMPLES" --temperature "$BVI_TEMPERATURE" \
    --max_new_tokens "$BVI_MAX_NEW_TOKENS" --no_chat_template "$BVI_NO_CHAT_TEMPLATE" --progress False \
    --slurm_job_id "$SLURM_JOB_ID" --root "$ROOT" "${flags[@]}" $BVI_ARGS
