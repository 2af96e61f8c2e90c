#!/usr/bin/env bash
# Stage 1-2 locally: build every training task's Regular and SampleGen train+val datasets,
# the Regular, SampleGen and Gold Pipeline test sets of TASKS (BigBench/GSM8K tasks need
# none: test.py formats them), and both default training mixtures (always rebuilt; cheap
# and deterministic).
#
# Settings (PRESET and the environment, study_env.sh): NUM_DATA TASKS DATA_DIR MANUAL_DIR OVERWRITE.
# It starts a study: without ROOT it builds into a fresh study_<job id> folder (printed).
#
#   PRESET=smoke bash scripts/without_slurm/gen_all_tasks.sh [--dry-run]
set -euo pipefail
STUDY_STARTS=1
source "$(dirname "${BASH_SOURCE[0]}")/study_env.sh"
echo "study root: $ROOT"

build() {  # build FLAG...: one create_prompts.py run with the study's shared settings
    step python create_prompts.py --num_datapoints "$NUM_DATA" "${DATA_FLAGS[@]}" --overwrite "$OVERWRITE" \
        --slurm_job_id "$SLURM_JOB_ID" --root "$ROOT" "$@"
}

# shellcheck disable=SC2086  # TASKS is a list
names=$(buildable_tasks $TASKS)
read -r -a built <<<"$names"

for custom in False True; do
    build --dataset_type train+val --create_custom_prompts "$custom"
    if [ ${#built[@]} -gt 0 ]; then   # gold examples of test-only tasks come from their train split
        build --dataset_type train+val --create_custom_prompts "$custom" --tasks "${built[@]}"
    fi
done
if [ ${#built[@]} -gt 0 ]; then
    for spec in "False False" "True False" "True True"; do
        read -r custom gold <<<"$spec"
        build --dataset_type test --create_custom_prompts "$custom" --make_gold_pipeline_test "$gold" \
            --tasks "${built[@]}"
    done
fi
for fmt in flan_prompts mix_prompts; do
    step python make_mixtures.py --prompt_format "$fmt" --num_datapoints "$NUM_DATA" --root "$ROOT" --overwrite True
done
