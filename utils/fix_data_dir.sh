#!/usr/bin/env bash
# Make a Kaldi data dir consistent: sort every file in C order (which also ends the last line),
# drop duplicated keys, in text turn CRs and Unicode spaces (e.g. non-breaking) into spaces and
# remove the reserved words <s> </s> #0, in wav.scp expand a leading '~/' to $HOME, keep only
# the utterances present in all utterance-keyed files (utt2spk, text, segments or wav.scp,
# utt2num_samples, utt2dur, utt2lang, utt2uniq), drop utterances with an empty transcript,
# keep only the recordings that segments still use, and regenerate spk2utt. Then the result
# is validated (utils/validate_data_dir.sh): what cannot be repaired (e.g. utterance ids not
# prefixed by their speaker id) makes it exit 1 with the validator's message, as Kaldi's.
# Nothing is dropped silently: the original files go to <dir>/.backup/, the removed
# utterance ids (with the reason) to <dir>/.backup/removed_utts, and the counts to
# <dir>/.backup/fix_data_dir.log and stderr.
set -euo pipefail

help_message="Usage: $0 <data-dir>
  e.g. $0 data/train_960"
. "$(dirname "$0")/parse_options.sh"

if [ $# -ne 1 ]; then
    printf '%s\n' "$help_message" >&2
    exit 1
fi
data=${1%/}
utils=$(dirname "$0")
export LC_ALL=C

[ -f "$data/utt2spk" ] || { echo "$0: $data/utt2spk is missing" >&2; exit 1; }
backup=$data/.backup
mkdir -p "$backup"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

utt_files=""
for f in utt2spk text utt2num_samples utt2dur utt2lang utt2uniq; do
    if [ -f "$data/$f" ]; then utt_files+=" $f"; fi
done
audio_file=wav.scp
[ -f "$data/segments" ] && audio_file=segments
if [ -f "$data/$audio_file" ]; then utt_files+=" $audio_file"; fi

log=$backup/fix_data_dir.log
: > "$log"
report() { echo "$*" | tee -a "$log" >&2; }

# Sort each file, keeping the first line of a duplicated key.
for f in $(printf '%s\n' $utt_files wav.scp spk2utt | awk '!seen[$0]++'); do
    [ -f "$data/$f" ] || continue
    cp "$data/$f" "$backup/$f"
    sort -s -k1,1 "$data/$f" | awk '$1 != prev {print} {prev = $1}' > "$tmp/$f"
    dups=$(( $(awk 'END {print NR}' "$data/$f") - $(wc -l < "$tmp/$f") ))
    [ "$dups" -eq 0 ] || report "$f: dropped $dups lines with a duplicated key"
done

# Text: word separators other than space and tab become spaces; reserved symbols go.
if [ -f "$tmp/text" ]; then
    perl -CSD -ne 'use feature "unicode_strings"; chomp;
        my $spaces = s/[^\S\t ]/ /g; my ($utt, @words) = split " "; my $count = @words;
        @words = grep { $_ ne "<s>" && $_ ne "</s>" && $_ ne "#0" } @words;
        if ($spaces || @words != $count) { $_ = join(" ", $utt, @words); $n++ }
        print "$_\n"; END { print STDERR ($n // 0), "\n" }' "$tmp/text" 2> "$tmp/text.changed" > "$tmp/text.new"
    mv "$tmp/text.new" "$tmp/text"
    changed=$(cat "$tmp/text.changed")
    [ "$changed" -eq 0 ] || report "text: replaced CR/Unicode spaces or removed <s> </s> #0 in $changed lines"
fi
if [ -f "$tmp/wav.scp" ]; then
    home_paths=$(awk '$2 ~ /^~\//' "$tmp/wav.scp" | wc -l)
    if [ "$home_paths" -gt 0 ]; then
        HOME_DIR=$HOME awk '$2 ~ /^~\// {sub(/^~/, ENVIRON["HOME_DIR"], $2)} {print}' "$tmp/wav.scp" > "$tmp/wav.new"
        mv "$tmp/wav.new" "$tmp/wav.scp"
        report "wav.scp: expanded '~/' to $HOME/ in $home_paths entries"
    fi
fi

# Utterances usable everywhere: in every utterance-keyed file, with a non-empty transcript,
# and (with segments) cut from a recording that wav.scp has.
awk '{print $1}' "$tmp/utt2spk" > "$tmp/keep"
for f in $utt_files; do
    awk '{print $1}' "$tmp/$f" | comm -12 "$tmp/keep" - > "$tmp/keep.new"
    mv "$tmp/keep.new" "$tmp/keep"
done
if [ -f "$tmp/text" ]; then
    awk 'NF < 2 {print $1}' "$tmp/text" > "$tmp/empty_text"
    comm -23 "$tmp/keep" "$tmp/empty_text" > "$tmp/keep.new" && mv "$tmp/keep.new" "$tmp/keep"
fi
if [ "$audio_file" = segments ] && [ -f "$tmp/segments" ]; then
    "$utils/filter_scp.pl" -f 2 "$tmp/wav.scp" "$tmp/segments" | awk '{print $1}' \
        | comm -12 "$tmp/keep" - > "$tmp/keep.new"
    mv "$tmp/keep.new" "$tmp/keep"
fi

# Record why each removed utterance went: one line per utterance, reasons comma-separated.
for f in $utt_files; do awk '{print $1}' "$tmp/$f"; done | sort -u > "$tmp/all"
{
    for f in $utt_files; do
        awk '{print $1}' "$tmp/$f" | comm -13 - "$tmp/all" | awk -v f="$f" '{print $1, "not-in-" f}'
    done
    if [ -f "$tmp/text" ]; then awk '{print $1, "empty-transcript"}' "$tmp/empty_text"; fi
    if [ "$audio_file" = segments ] && [ -f "$tmp/segments" ]; then
        "$utils/filter_scp.pl" --exclude -f 2 "$tmp/wav.scp" "$tmp/segments" \
            | awk '{print $1, "recording-not-in-wav.scp"}'
    fi
} | sort -s -k1,1 | awk '$1 != prev {if (prev != "") print line; line = $0; prev = $1; next}
                         {line = line "," $2} END {if (prev != "") print line}' > "$backup/removed_utts"

for f in $utt_files; do
    "$utils/filter_scp.pl" "$tmp/keep" "$tmp/$f" > "$data/$f"
    report "$f: $(wc -l < "$tmp/$f") -> $(wc -l < "$data/$f") lines"
done
if [ "$audio_file" = segments ] && [ -f "$tmp/wav.scp" ]; then
    awk '{print $2}' "$data/segments" | sort -u > "$tmp/recordings"
    "$utils/filter_scp.pl" "$tmp/recordings" "$tmp/wav.scp" > "$data/wav.scp"
    report "wav.scp: $(wc -l < "$tmp/wav.scp") -> $(wc -l < "$data/wav.scp") recordings"
fi
"$utils/utt2spk_to_spk2utt.pl" "$data/utt2spk" > "$data/spk2utt"

kept=$(wc -l < "$tmp/keep")
removed=$(wc -l < "$backup/removed_utts")
report "$0: $data: kept $kept utterances, removed $removed (listed in $backup/removed_utts)"
if [ "$kept" -eq 0 ]; then
    echo "$0: $data: no utterance left" >&2
    exit 1
fi
validate_opts=()
[ -f "$data/text" ] || validate_opts+=(--no-text true)
[ -f "$data/wav.scp" ] || validate_opts+=(--no-wav true)
if ! verdict=$("$utils/validate_data_dir.sh" "${validate_opts[@]}" "$data" 2>&1); then
    echo "$0: $data: could not make a valid data dir (originals in $backup): ${verdict#*: $data: }" >&2
    exit 1
fi
