#!/usr/bin/env bash
# CTC fine-tuning of the multilingual DinoSR (../ssl1) on each of the 4 unseen BABEL languages
# (spec §7: Assamese, Tagalog, Swahili, Lao = the `finetune` group of
# conf/babel_languages.yaml), CER on each language's dev set, one experiment dir per language
# (exp/<lang>/). Set BABEL_ROOT (or BABEL_<id>) in db.sh. E.g.
#   ./run.sh --ngpu 1
#   ./run.sh --langs "swahili" --stage 4
# Every other option goes to asr.sh (stages and options: ./run.sh --help).
set -euo pipefail
cd "$(dirname "$0")"

langs="assamese tagalog swahili lao"  # languages to fine-tune on (conf/babel_languages.yaml)
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --langs)
            [ $# -ge 2 ] || { echo "$0: --langs needs a value" >&2; exit 1; }
            langs=$2
            shift 2
            ;;
        --langs=*) langs=${1#*=}; shift ;;
        --help | -h)
            echo "$0 options: --langs \"$langs\" (languages to fine-tune on);" \
                "the other options go to asr.sh:"
            exec ./asr.sh --expdir "exp/<lang>" --help
            ;;
        *) args+=("$1"); shift ;;
    esac
done

for lang in $langs; do
    ./asr.sh \
        --expdir "exp/$lang" \
        --train_set "${lang}_train" \
        --valid_set "${lang}_dev" \
        --test_sets "${lang}_dev" \
        --asr_config conf/finetune_10h.yaml \
        --pretrain_exp ../ssl1/exp/ssl_babel \
        --use_lm false \
        --metric cer \
        "${args[@]}"
done
