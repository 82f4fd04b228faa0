#!/usr/bin/env bash
# Stop with a message naming the db.sh variable when a corpus path is unset or wrong.
# Usage: utils/check_corpus_dir.sh <VAR-NAME> <value> <expected-subpath> [<alternative> ...]
#   e.g. utils/check_corpus_dir.sh LIBRISPEECH "$LIBRISPEECH" LibriSpeech/dev-clean dev-clean
# Succeeds when <value> is a directory containing at least one of the expected sub-paths.
set -euo pipefail

if [ $# -lt 3 ]; then
    sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 1
fi
var=$1
value=$2
shift 2
if [ -z "$value" ]; then
    echo "error: $var is not set: set $var=/path/to/corpus in db.sh (or in the environment)" >&2
    exit 1
fi
if [ ! -d "$value" ]; then
    echo "error: $var=$value is not a directory: fix $var in db.sh" >&2
    exit 1
fi
for sub in "$@"; do
    if [ -e "$value/$sub" ]; then
        exit 0
    fi
done
echo "error: $var=$value does not look right: expected $value/$1 (see docs/data.md); fix $var in db.sh" >&2
exit 1
