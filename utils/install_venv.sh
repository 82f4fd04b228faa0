#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment with pinned, tested versions.
# Usage: utils/install_venv.sh [VENV_DIR]   (default: .venv at the repository root)
# Idempotent: a stamp file records the hash of the pins; a second run with unchanged pins
# returns in about a second.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-"$root/.venv"}
python=${PYTHON:-python3.11}
stamp="$venv/.dinosr_espnet_installed"
want=$(cat "$root/requirements.txt" "$root/constraints.txt" "$root/setup.py" | sha256sum | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "[install_venv] $venv is up to date"
    exit 0
fi

if ! command -v "$python" >/dev/null 2>&1; then
    echo "[install_venv] error: $python not found; this project needs Python 3.11 (set PYTHON=...)" >&2
    exit 1
fi

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
# pip >= 25 refuses espnet's direct-URL dependency (ci_sdr): keep pip below 25.
"$venv/bin/python" -m pip install --quiet "pip<25"
"$venv/bin/python" -m pip install --quiet -r "$root/requirements.txt" -c "$root/constraints.txt"
"$venv/bin/python" -m pip install --quiet --no-deps -e "$root"
echo "$want" > "$stamp"
echo "[install_venv] ready: $venv"
