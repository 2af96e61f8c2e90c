#!/usr/bin/env bash
# The whole study locally, one stage after the other under one job id and one ROOT: datasets and
# mixtures, training, the five evaluation conditions, the correlation, then the second study.
#
#   PRESET=smoke bash scripts/without_slurm/run_study.sh            # a few minutes on CPU
#   PRESET=paper ROOT=study_llama13b bash scripts/without_slurm/run_study.sh --dry-run
#
# Settings: PRESET and the environment (study_env.sh). Without ROOT it makes a fresh study_<job id>.
# --dry-run (or DRY_RUN=1) prints the settings and every command, and runs nothing.
set -euo pipefail
STUDY_STARTS=1
source "$(dirname "${BASH_SOURCE[0]}")/study_env.sh"
print_settings
here="$REPO/scripts/without_slurm"
for stage in gen_all_tasks train test_regularprompt test_samplegen+pipeline correlate base_vs_instruct; do
    echo "== stage $stage"
    bash "$here/$stage.sh"
done
echo "study root: $ROOT"
