#!/usr/bin/env bash
# Combine Kaldi data dirs into one (e.g. train_960 = train_clean_100 + train_clean_360 +
# train_other_500). wav.scp, utt2spk and, when every source has them, text and segments are
# merged; segments must be in all sources or in none. Optional utterance-keyed files
# (utt2num_samples, utt2dur, utt2lang and --extra-files) are merged when every source has
# them and otherwise left out with a message. An utterance id (or a recording id with
# different audio) found in two sources is an error. The result is C-sorted, spk2utt is
# regenerated and the dir is validated.
set -euo pipefail

extra_files=""    # more utterance-keyed files to merge, e.g. "utt2category"
help_message="Usage: $0 [options] <dest-dir> <src-dir1> [<src-dir2> ...]
  e.g. $0 data/dev data/dev_clean data/dev_other"
. "$(dirname "$0")/parse_options.sh"

if [ $# -lt 2 ]; then
    printf '%s\n' "$help_message" >&2
    exit 1
fi
dest=${1%/}
shift
utils=$(dirname "$0")
export LC_ALL=C

mkdir -p "$dest"
dest_abs=$(cd "$dest" && pwd)
for src in "$@"; do
    [ -d "$src" ] || { echo "$0: source $src does not exist" >&2; exit 1; }
    [ "$(cd "$src" && pwd)" != "$dest_abs" ] || { echo "$0: destination $dest is also a source" >&2; exit 1; }
done

# present_in_all FILE: 0 if every source has FILE, 1 if none, 2 if only some.
present_in_all() {
    local f=$1 have=0 src
    for src in "${sources[@]}"; do
        if [ -f "$src/$f" ]; then have=$((have + 1)); fi
    done
    if [ "$have" -eq "${#sources[@]}" ]; then return 0; fi
    if [ "$have" -eq 0 ]; then return 1; fi
    return 2
}

# merge FILE: concatenate FILE of all sources into dest, sorted; duplicated keys are an error
# (identical duplicated lines are allowed for wav.scp, where sources may share recordings).
merge() {
    local f=$1 dup
    if [ "$f" = wav.scp ]; then
        cat "${sources[@]/%//$f}" | sort -u > "$dest/$f"
    else
        cat "${sources[@]/%//$f}" | sort -k1,1 -s > "$dest/$f"
    fi
    dup=$(awk '$1 == prev {print $1; exit} {prev = $1}' "$dest/$f")
    if [ -n "$dup" ]; then
        echo "$0: key '$dup' of $f appears in more than one of: ${sources[*]}" >&2
        exit 1
    fi
}

sources=("$@")
for f in wav.scp utt2spk spk2utt text segments utt2num_samples utt2dur utt2lang $extra_files; do
    rm -f "${dest:?}/$f"
done
for f in wav.scp utt2spk; do
    present_in_all "$f" || { echo "$0: $f is missing in some of: ${sources[*]}" >&2; exit 1; }
    merge "$f"
done

validate_opts=()
for f in text segments; do
    if present_in_all "$f"; then
        merge "$f"
    else
        status=$?
        if [ "$status" -eq 2 ]; then
            echo "$0: $f is present in only some of: ${sources[*]}; fix the sources first" >&2
            exit 1
        fi
        if [ "$f" = text ]; then validate_opts+=(--no-text true); fi
    fi
done

for f in utt2num_samples utt2dur utt2lang $extra_files; do
    if present_in_all "$f"; then
        merge "$f"
    elif [ $? -eq 2 ]; then
        echo "$0: not combining $f: it is missing in some of: ${sources[*]}" >&2
    fi
done

"$utils/utt2spk_to_spk2utt.pl" "$dest/utt2spk" > "$dest/spk2utt"
echo "$0: combined $(wc -l < "$dest/utt2spk") utterances from ${#sources[@]} dirs into $dest" >&2
"$utils/validate_data_dir.sh" "${validate_opts[@]}" "$dest"
