# shellcheck shell=bash
# Environment of every recipe (sourced by run.sh, the stage scripts and local/data.sh):
# the repository's virtual env (or $DINOSR_VENV), Kaldi-style utils/ and KenLM's binaries
# (tools/bin, from utils/install_kenlm.sh) on PATH.
MAIN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export MAIN_ROOT
if [ -x "${DINOSR_VENV:-$MAIN_ROOT/.venv}/bin/python" ]; then
    export PATH="${DINOSR_VENV:-$MAIN_ROOT/.venv}/bin:$PATH"
fi
export PATH="$MAIN_ROOT/utils:$MAIN_ROOT/tools/bin:$PATH"
export PYTHON=${PYTHON:-python3}
export PYTHONUTF8=1
export PYTHONIOENCODING=UTF-8
export LC_ALL=C
