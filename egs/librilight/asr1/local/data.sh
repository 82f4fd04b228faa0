#!/usr/bin/env bash
# Libri-light limited-supervision fine-tuning data (Kaldi data dirs).
# Reads LIBRILIGHT_LIMITED= and LIBRISPEECH= from db.sh. Writes data/train_10min (1h/0),
# data/train_1h (all of 1h), data/train_10h (1h + 9h), data/train_100h (= LibriSpeech
# train-clean-100), data/{dev_clean,dev_other,test_clean,test_other} and data/dev
# (dev_clean + dev_other). Skipped utterances are listed in data/<set>/log/skipped.
set -euo pipefail

stage=1         # first stage: 1 LibriSpeech parts, 2 Libri-light splits, 3 combine, 4 validate
stop_stage=4    # last stage
sets="train_10min train_1h train_10h"   # Libri-light splits to prepare
help_message="Usage: $0 [options]   (run from the recipe directory; corpus paths in db.sh)"

. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../../utils/parse_options.sh"
utils=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../.." && pwd)/utils
[ -f db.sh ] || { echo "$0: no db.sh in $(pwd): run from the recipe directory" >&2; exit 1; }
if [ -f path.sh ]; then set +u; . ./path.sh; set -u; fi
. ./db.sh
python=${PYTHON:-python3}
ls_parts="train-clean-100 dev-clean dev-other test-clean test-other"

"$utils/check_corpus_dir.sh" LIBRISPEECH "${LIBRISPEECH:-}" LibriSpeech dev-clean
"$utils/check_corpus_dir.sh" LIBRILIGHT_LIMITED "${LIBRILIGHT_LIMITED:-}" librispeech_finetuning 1h

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
    echo "stage 1: prepare LibriSpeech parts: $ls_parts"
    # shellcheck disable=SC2086
    "$python" -m dinosr_espnet.bin.prepare_librispeech --root "$LIBRISPEECH" --parts $ls_parts --out data
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
    echo "stage 2: prepare Libri-light splits: $sets"
    # shellcheck disable=SC2086
    "$python" -m dinosr_espnet.bin.prepare_librilight --root "$LIBRILIGHT_LIMITED" --sets $sets --out data
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
    echo "stage 3: train_100h (= train_clean_100) and dev (dev_clean + dev_other)"
    "$utils/combine_data.sh" data/train_100h data/train_clean_100
    "$utils/combine_data.sh" data/dev data/dev_clean data/dev_other
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
    echo "stage 4: validate"
    for set in $sets train_100h dev dev_clean dev_other test_clean test_other; do
        "$utils/validate_data_dir.sh" "data/$set"
    done
fi
echo "$0: done"
