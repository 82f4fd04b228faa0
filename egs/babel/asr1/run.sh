#!/usr/bin/env bash
# CTC fine-tuning of the multilingual DinoSR (../ssl1) on each of the 4 unseen BABEL languages
# (spec §7: Assamese, Tagalog, Swahili, Lao = the `finetune` group of
# conf/babel_languages.yaml), CER on each language's dev set, one experiment dir per language
# (exp/<lang>/). Set BABEL_ROOT (or BABEL_<id>) in db.sh. E.g.
#   ./run.sh --ngpu 1
#   ./run.sh --langs swahili --stage 4
# Stage 1 (data preparation) runs once for all languages; every other option goes to asr.sh
# for each language (stages and options: ./run.sh --help).
set -euo pipefail
cd "$(dirname "$0")"

langs=""  # languages to fine-tune on (names, e.g. "swahili lao"); default: all that stage 1 prepared
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --langs)
            [ $# -ge 2 ] || { echo "$0: --langs needs a value" >&2; exit 1; }
            langs=${2//,/ }
            shift 2
            ;;
        --langs=*) langs=${1#*=}; langs=${langs//,/ }; shift ;;
        --help | -h) args=(--help); break ;;
        *) args+=("$1"); shift ;;
    esac
done

common=(--asr_config conf/finetune_10h.yaml --pretrain_exp ../ssl1/exp/ssl_babel --use_lm false
    --metric cer)
per_lang() {  # the asr.sh options of one language
    echo --expdir "exp/$1" --train_set "$1_train" --valid_set "$1_dev" --test_sets "$1_dev"
}

if [ "${args[*]:-}" = --help ]; then
    echo "$0 options: --langs \"$langs\" (languages to fine-tune on; empty: every language" \
        "prepared by stage 1, listed in data/local/babel_sets); for each language <lang>," \
        "asr.sh runs with these options:"
    # shellcheck disable=SC2046
    exec ./asr.sh "${common[@]}" $(per_lang "<lang>") --help
fi

# Stage 1 once for every language (skipped when it is done and its inputs are unchanged).
./asr.sh "${common[@]}" --expdir exp "${args[@]}" --stop_stage 1 | { grep -v 'asr.sh: done' || true; }
sets_file=data/local/babel_sets
if [ -z "$langs" ]; then
    [ -f "$sets_file" ] || { echo "$0: $sets_file is missing: run stage 1 (data" \
        "preparation) first, or give --langs" >&2; exit 1; }
    langs=$(sed -n 's/_train$//p' "$sets_file" | tr '\n' ' ')
fi
for lang in $langs; do
    if [ -f "$sets_file" ] && ! grep -qx "${lang}_train" "$sets_file"; then
        echo "$0: --langs: language '$lang' was not prepared by stage 1 (prepared:" \
            "$(sed -n 's/_train$//p' "$sets_file" | paste -sd " ")); names and ids:" \
            "conf/babel_languages.yaml, ../ssl1/local/data.sh --help" >&2
        exit 1
    fi
    [ -d "data/${lang}_train" ] || { echo "$0: --langs: no data/${lang}_train for" \
        "language '$lang': run stage 1 (data preparation)" >&2; exit 1; }
done

for lang in $langs; do
    # shellcheck disable=SC2046
    ./asr.sh "${common[@]}" $(per_lang "$lang") "${args[@]}"
done
