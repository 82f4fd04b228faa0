#!/usr/bin/env bash
# BABEL data preparation (Kaldi data dirs with segments), run from a recipe directory.
# Reads BABEL_ROOT= or per-language BABEL_<id>= from ./db.sh; the languages are a group of
# conf/babel_languages.yaml (`pretrain` here; babel/asr1 uses `finetune`) or --langs.
# Writes data/<name>_{train,dev,eval} per language and, with --combine true, the
# multilingual sets data/train_multilingual and data/dev_multilingual. Markup normalisation
# follows conf/babel_markup.yaml; skipped segments/files are listed in data/<set>/log/skipped.
set -euo pipefail

stage=1         # first stage: 1 prepare languages, 2 combine, 3 validate
stop_stage=3    # last stage
group=pretrain  # language group of the languages file
langs=""        # explicit language ids instead of the group, e.g. 101,103 (or "101 103")
combine=true    # make data/{train,dev}_multilingual from all prepared languages
languages=""    # id->name YAML (default: conf/babel_languages.yaml of the repository)
skip_missing=auto  # leave out group languages without a corpus dir: true, false, or auto (true for a corpus of make_corpus)
markup=""       # markup policy YAML (default: conf/babel_markup.yaml of the repository)
strict=false    # stop on a malformed transcription instead of skipping the file
help_message="Usage: $0 [options]   (run from the recipe directory; corpus paths in db.sh)"

. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../../utils/parse_options.sh"
if [ $# -gt 0 ]; then
    echo "$0: unexpected argument(s) '$*': give several languages as --langs 101,103" >&2
    exit 1
fi
langs=${langs//,/ }
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../.." && pwd)
utils=$root/utils
[ -f db.sh ] || { echo "$0: no db.sh in $(pwd): run from the recipe directory" >&2; exit 1; }
if [ -f path.sh ]; then set +u; . ./path.sh; set -u; fi
. ./db.sh
python=${PYTHON:-python3}
languages=${languages:-$root/conf/babel_languages.yaml}
markup=${markup:-$root/conf/babel_markup.yaml}
mkdir -p data/local
sets_file=data/local/babel_sets

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
    args=(--languages "$languages" --markup "$markup" --out data)
    if [ -n "$langs" ]; then
        # shellcheck disable=SC2206
        args+=(--langs $langs)
    else
        args+=(--group "$group")
    fi
    lang_vars=$(compgen -v | grep -E '^BABEL_[0-9]+$' || true)
    if [ -z "${BABEL_ROOT:-}" ] && [ -z "$lang_vars" ]; then
        echo "error: BABEL_ROOT is not set: set BABEL_ROOT=... (or BABEL_<id>=... per language) in db.sh" >&2
        exit 1
    fi
    if [ -n "${BABEL_ROOT:-}" ]; then
        if [ ! -d "$BABEL_ROOT" ]; then
            echo "error: BABEL_ROOT=$BABEL_ROOT is not a directory: fix BABEL_ROOT in db.sh" >&2
            exit 1
        fi
        args+=(--babel_root "$BABEL_ROOT")
    fi
    for var in $lang_vars; do
        "$utils/check_corpus_dir.sh" "$var" "${!var}" conversational release-current/conversational
        args+=(--corpus_dir "${var#BABEL_}=${!var}")
    done
    if [ "$skip_missing" = auto ]; then
        skip_missing=false
        # A corpus of make_corpus has only the languages eSpeak NG can speak (no 104, 106,
        # 203, 207): its groups are the default ones without those.
        if [ -z "$langs" ] && [ -n "${BABEL_ROOT:-}" ] && [ -f "$BABEL_ROOT/../manifest.json" ] \
            && grep -q '"generator": "dinosr_espnet.data.synth"' "$BABEL_ROOT/../manifest.json"; then
            echo "BABEL_ROOT=$BABEL_ROOT is a generated corpus: languages of group $group" \
                "that it lacks are left out"
            skip_missing=true
        fi
    fi
    case "$skip_missing" in
        true) args+=(--skip_missing) ;;
        false) ;;
        *) echo "$0: --skip_missing must be true, false or auto, got '$skip_missing'" >&2; exit 1 ;;
    esac
    if [ "$strict" = true ]; then args+=(--strict); fi
    echo "stage 1: prepare BABEL languages (${langs:-group $group})"
    "$python" -m dinosr_espnet.bin.prepare_babel "${args[@]}" > "$sets_file.tmp"
    mv "$sets_file.tmp" "$sets_file"
fi

[ -f "$sets_file" ] || { echo "$0: $sets_file is missing: run stage 1 first" >&2; exit 1; }
sets=$(cat "$sets_file")

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ] && [ "$combine" = true ]; then
    echo "stage 2: combine train_multilingual and dev_multilingual"
    for split in train dev; do
        # shellcheck disable=SC2046
        "$utils/combine_data.sh" "data/${split}_multilingual" \
            $(printf '%s\n' $sets | grep "_${split}\$" | sed 's|^|data/|')
    done
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
    echo "stage 3: validate"
    [ "$combine" = true ] && sets+=" train_multilingual dev_multilingual"
    for set in $sets; do
        "$utils/validate_data_dir.sh" "data/$set"
    done
fi
echo "$0: done"
