#!/usr/bin/env bash
# Create the separate virtual environment in which bench/bench_peers.py runs Meta's SpidR
# (PyPI `spidr`, which needs Python >= 3.12; the project's own venv is Python 3.11).
# Usage: bench/setup_peers.sh [VENV_DIR]   (default: bench/.peers_venv, git-ignored)
# Pins: the spidr release in bench/peers_requirements.txt (torch follows from it).
# Idempotent: a stamp file records the hash of that file; a second run returns at once.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
venv=${1:-"$here/.peers_venv"}
requirements="$here/peers_requirements.txt"
stamp="$venv/.peers_installed"
want=$(sha256sum "$requirements" | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "[setup_peers] $venv is up to date"
    exit 0
fi

python=${PEERS_PYTHON:-}
if [ -z "$python" ]; then
    for candidate in python3.14 python3.13 python3.12; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "" 2>/dev/null; then
            python=$candidate
            break
        fi
    done
fi
if [ -z "$python" ] && command -v pyenv >/dev/null 2>&1; then
    for version in $(pyenv versions --bare | grep -E '^3\.1[2-9]' | sort -rV); do
        python="$(pyenv root)/versions/$version/bin/python3"
        break
    done
fi
if [ -z "$python" ] || ! "$python" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
    echo "[setup_peers] error: SpidR needs Python >= 3.12 and none was found (set PEERS_PYTHON=...)" >&2
    exit 1
fi

echo "[setup_peers] creating $venv with $("$python" --version) (torch is a large download)"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$requirements"
"$venv/bin/python" -c "import spidr, torch; print('[setup_peers] spidr imported; torch', torch.__version__)"
echo "$want" > "$stamp"
echo "[setup_peers] ready: $venv"
