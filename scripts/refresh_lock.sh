#!/usr/bin/env bash
# Rewrite requirements-lock.txt with the exact versions installed in a virtual environment in which
# the test suite passes: scripts/refresh_lock.sh [VENV] (default: $INHERENT_LIMITS_VENV, else .venv).
# The project itself (editable) is left out; local version labels (torch's +cpu) are dropped, so
# the same lock serves CPU and CUDA machines. setup_env.sh installs under this file as pip constraints.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-${INHERENT_LIMITS_VENV:-$repo/.venv}}"
if [ ! -x "$venv/bin/python" ]; then
    echo "error: no virtual environment at $venv (pass its folder)" >&2
    exit 2
fi
lock="$repo/requirements-lock.txt"
tmp="$(mktemp "$lock.tmp-XXXXXX")"
trap 'rm -f "$tmp"' EXIT
{
    echo "# Exact versions the test suite passed with ($("$venv/bin/python" -c 'import platform; print("Python", platform.python_version())')),"
    echo "# written by scripts/refresh_lock.sh; used by scripts/setup_env.sh as pip constraints."
    "$venv/bin/python" -m pip freeze --exclude-editable | grep -v -e '^#' -e '^-e ' | sed -E 's/\+[A-Za-z0-9.]+$//' | LC_ALL=C sort -f
} > "$tmp"
mv "$tmp" "$lock"
trap - EXIT
echo "wrote $lock ($(grep -vc '^#' "$lock") packages)"
