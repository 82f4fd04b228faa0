#!/usr/bin/env bash
# Mini recipe data preparation, through the real recipes' scripts on the generated corpus
# (paths in ./db.sh): LibriSpeech parts, train_960 and dev (librispeech/ssl1), then the
# Libri-light splits train_10min/1h/10h, train_100h and dev (librilight/asr1).
set -euo pipefail
help_message="Usage: $0   (run from the recipe directory; corpus paths in db.sh)"
. ./path.sh
. "$MAIN_ROOT/utils/parse_options.sh"

"$MAIN_ROOT/egs/librispeech/ssl1/local/data.sh"
"$MAIN_ROOT/egs/librilight/asr1/local/data.sh" --stage 2
