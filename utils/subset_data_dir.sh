#!/usr/bin/env bash
# Make a Kaldi data dir holding a subset of the utterances of another one.
#   subset_data_dir.sh [--seed S] <src-dir> <N> <dest-dir>   N utterances drawn at random
#                                                           (deterministic for a seed)
#   subset_data_dir.sh --first <src-dir> <N> <dest-dir>      the first N utterances (C order)
#   subset_data_dir.sh --utt-list <file> <src-dir> <dest-dir> utterances listed in <file>
#   subset_data_dir.sh --spk-list <file> <src-dir> <dest-dir> all utterances of those speakers
# Every utterance-keyed file (utt2spk, text, segments, wav.scp, utt2num_samples, utt2dur,
# utt2lang, utt2uniq) is filtered; with segments, wav.scp keeps the recordings still used.
# Listed ids that the source lacks are counted and reported, never ignored silently.
set -euo pipefail

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 1
}

mode=random
seed=777
list=""
while [ $# -gt 0 ]; do
    case "$1" in
        --first) mode=first; shift ;;
        --seed) [ $# -ge 2 ] || usage; seed=$2; shift 2 ;;
        --utt-list) [ $# -ge 2 ] || usage; mode=utt; list=$2; shift 2 ;;
        --spk-list) [ $# -ge 2 ] || usage; mode=spk; list=$2; shift 2 ;;
        --help | -h) usage ;;
        --*) echo "$0: unknown option $1" >&2; usage ;;
        *) break ;;
    esac
done
case "$mode" in
    utt | spk) [ $# -eq 2 ] || usage; src=${1%/}; dest=${2%/} ;;
    *) [ $# -eq 3 ] || usage; src=${1%/}; num=$2; dest=${3%/} ;;
esac
utils=$(dirname "$0")
export LC_ALL=C

[ -f "$src/utt2spk" ] || { echo "$0: $src/utt2spk is missing" >&2; exit 1; }
[ "$(cd "$src" && pwd)" != "$(mkdir -p "$dest" && cd "$dest" && pwd)" ] \
    || { echo "$0: destination $dest is the source" >&2; exit 1; }
[ -z "$list" ] || [ -f "$list" ] || { echo "$0: list $list does not exist" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
total=$(wc -l < "$src/utt2spk")

case "$mode" in
    first | random)
        [[ "$num" =~ ^[0-9]+$ ]] && [ "$num" -gt 0 ] \
            || { echo "$0: N must be a positive integer, got '$num'" >&2; exit 1; }
        [ "$num" -le "$total" ] \
            || { echo "$0: asked for $num utterances but $src has $total" >&2; exit 1; }
        if [ "$mode" = first ]; then
            awk '{print $1}' "$src/utt2spk" | sort | head -n "$num" > "$tmp/utts"
        else
            awk '{print $1}' "$src/utt2spk" | sort \
                | perl -e 'srand($ARGV[0]); my @u = <STDIN>;
                           for (my $i = $#u; $i > 0; $i--) { my $j = int(rand($i + 1)); @u[$i, $j] = @u[$j, $i]; }
                           print @u[0 .. $ARGV[1] - 1];' "$seed" "$num" | sort > "$tmp/utts"
        fi
        ;;
    utt)
        awk '{print $1}' "$list" | sort -u > "$tmp/wanted"
        awk '{print $1}' "$src/utt2spk" | sort | comm -12 - "$tmp/wanted" > "$tmp/utts"
        missing=$(( $(wc -l < "$tmp/wanted") - $(wc -l < "$tmp/utts") ))
        [ "$missing" -eq 0 ] || echo "$0: $missing utterance ids of $list are not in $src" >&2
        ;;
    spk)
        awk '{print $1}' "$list" | sort -u > "$tmp/wanted"
        "$utils/filter_scp.pl" -f 2 "$tmp/wanted" "$src/utt2spk" | awk '{print $1}' | sort > "$tmp/utts"
        missing=$(awk '{print $2}' "$src/utt2spk" | sort -u | comm -13 - "$tmp/wanted" | wc -l)
        [ "$missing" -eq 0 ] || echo "$0: $missing speaker ids of $list are not in $src" >&2
        ;;
esac
[ -s "$tmp/utts" ] || { echo "$0: the subset of $src is empty" >&2; exit 1; }

for f in utt2spk text segments utt2num_samples utt2dur utt2lang utt2uniq; do
    rm -f "$dest/$f"
    if [ -f "$src/$f" ]; then
        "$utils/filter_scp.pl" "$tmp/utts" "$src/$f" > "$dest/$f"
    fi
done
rm -f "$dest/wav.scp"
if [ -f "$src/segments" ]; then
    awk '{print $2}' "$dest/segments" | sort -u > "$tmp/recordings"
    "$utils/filter_scp.pl" "$tmp/recordings" "$src/wav.scp" > "$dest/wav.scp"
elif [ -f "$src/wav.scp" ]; then
    "$utils/filter_scp.pl" "$tmp/utts" "$src/wav.scp" > "$dest/wav.scp"
fi
"$utils/utt2spk_to_spk2utt.pl" "$dest/utt2spk" > "$dest/spk2utt"
echo "$0: $dest has $(wc -l < "$dest/utt2spk") of the $total utterances of $src" >&2
