#!/usr/bin/env bash
# BABEL fine-tuning data: the `finetune` languages of conf/babel_languages.yaml (Assamese,
# Tagalog, Swahili, Lao in the paper), one data/<name>_{train,dev,eval} set each, no combined
# set. Same options as ../ssl1/local/data.sh (run with --help); corpus paths in ./db.sh.
set -euo pipefail
exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../ssl1/local/data.sh" --group finetune --combine false "$@"
