#!/usr/bin/env bash
# LibriSpeech data preparation (Kaldi data dirs) for DinoSR pretraining.
# Reads LIBRISPEECH= from db.sh. Writes data/{train_clean_100,train_clean_360,train_other_500,
# dev_clean,dev_other,test_clean,test_other}, then data/train_960 (the three train parts) and
# data/dev (dev_clean + dev_other). Skipped utterances are listed in data/<set>/log/skipped.
set -euo pipefail

stage=1         # first stage: 1 prepare parts, 2 combine, 3 validate
stop_stage=3    # last stage
parts="train-clean-100 train-clean-360 train-other-500 dev-clean dev-other test-clean test-other"
help_message="Usage: $0 [options]   (run from the recipe directory; corpus path in db.sh)"

. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../../utils/parse_options.sh"
utils=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../.." && pwd)/utils
[ -f db.sh ] || { echo "$0: no db.sh in $(pwd): run from the recipe directory" >&2; exit 1; }
if [ -f path.sh ]; then set +u; . ./path.sh; set -u; fi
. ./db.sh
python=${PYTHON:-python3}

"$utils/check_corpus_dir.sh" LIBRISPEECH "${LIBRISPEECH:-}" LibriSpeech dev-clean

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
    echo "stage 1: prepare LibriSpeech parts: $parts"
    # shellcheck disable=SC2086
    "$python" -m dinosr_espnet.bin.prepare_librispeech --root "$LIBRISPEECH" --parts $parts --out data
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
    echo "stage 2: combine train_960 and dev"
    if [ -d data/train_clean_100 ] && [ -d data/train_clean_360 ] && [ -d data/train_other_500 ]; then
        "$utils/combine_data.sh" data/train_960 data/train_clean_100 data/train_clean_360 data/train_other_500
    else
        echo "not making data/train_960: needs train_clean_100, train_clean_360 and train_other_500" >&2
    fi
    if [ -d data/dev_clean ] && [ -d data/dev_other ]; then
        "$utils/combine_data.sh" data/dev data/dev_clean data/dev_other
    else
        echo "not making data/dev: needs dev_clean and dev_other" >&2
    fi
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
    echo "stage 3: validate"
    for part in $parts; do
        "$utils/validate_data_dir.sh" "data/${part//-/_}"
    done
fi
echo "$0: done"
