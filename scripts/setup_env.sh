#!/usr/bin/env bash
# Create .venv (if needed) and install the project into it. Sourced by demo.sh, test.sh and the
# study scripts. torch is pinned to 2.13.0 first: on a CPU machine that resolves to the local CPU
# wheel, so nothing pulls the CUDA packages. Re-installs only when pyproject.toml changes; an
# flock keeps concurrent jobs from installing at once. Sets no variables but PATH and HF_*.
set -euo pipefail
_il_setup() {
    local repo venv py stamp want
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="${INHERENT_LIMITS_VENV:-$repo/.venv}"
    py="${PYTHON:-python3}"
    want="$(cat "$repo/pyproject.toml" "$repo/scripts/setup_env.sh" | sha256sum | cut -d' ' -f1)"
    stamp="$venv/.inherent_limits_installed"
    mkdir -p "$(dirname "$venv")"
    (
        flock 9
        if [ ! -x "$venv/bin/python" ]; then
            echo "[setup] creating virtual environment $venv"
            "$py" -m venv "$venv"
        fi
        if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
            echo "[setup] installing torch==2.13.0 and the project (first run takes a few minutes)"
            "$venv/bin/python" -m pip install -q --upgrade pip
            "$venv/bin/python" -m pip install -q "torch==2.13.0"
            echo "torch==2.13.0" > "$venv/constraints.txt"
            "$venv/bin/python" -m pip install -q -c "$venv/constraints.txt" -e "$repo[test]"
            echo "$want" > "$stamp"
        fi
    ) 9>"$venv.setup.lock"
    export PATH="$venv/bin:$PATH"
}
_il_setup
unset -f _il_setup
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"
export HF_DATASETS_OFFLINE="${HF_DATASETS_OFFLINE:-1}"
