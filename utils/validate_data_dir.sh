#!/usr/bin/env bash
# Check that a Kaldi data dir is well formed; exit 1 with a message naming the file and the
# first offending id otherwise. The verdicts are those of Kaldi's utils/validate_data_dir.sh
# (with utils/validate_text.pl), plus a few more checks.
# Checks: utt2spk, spk2utt, wav.scp, text exist (see options); every file ends with a newline
# and is sorted in C order with unique keys; utt2spk and spk2utt agree; text, segments (or
# wav.scp), utt2num_samples and utt2dur hold exactly the utterances of utt2spk; every
# transcript is non-empty valid UTF-8, separates words only by spaces and tabs (no CR, no
# non-breaking or other Unicode space) and has none of the reserved symbols <s> </s> #0 as a
# word; no wav.scp entry starts with '~' (nothing expands it); segments have 0 <= start < end
# and their recordings are exactly those of wav.scp; utt2num_samples values are positive
# integers; sorting utt2spk by speaker keeps the utterance order (speaker ids prefix
# utterance ids).
set -euo pipefail

no_text=false     # the dir has no text (e.g. unlabeled pretraining data)
no_wav=false      # the dir has no wav.scp
no_spk_sort=false # skip the speaker-order check
help_message="Usage: $0 [options] <data-dir>
  e.g. $0 data/train_960"
. "$(dirname "$0")/parse_options.sh"

if [ $# -ne 1 ]; then
    printf '%s\n' "$help_message" >&2
    exit 1
fi
data=${1%/}
export LC_ALL=C

fail() {
    echo "$0: $data: $*" >&2
    exit 1
}

[ -d "$data" ] || fail "no such directory"
required="utt2spk spk2utt"
[ "$no_text" = true ] || required+=" text"
[ "$no_wav" = true ] || required+=" wav.scp"
for f in $required; do
    [ -s "$data/$f" ] || fail "$f is missing or empty"
done

keys() { awk '{print $1}' "$1"; }

# Newline-terminated, sorted, unique keys in every file that is present.
for f in utt2spk spk2utt text wav.scp segments utt2num_samples utt2dur utt2lang utt2uniq; do
    [ -f "$data/$f" ] || continue
    [ -z "$(tail -c 1 "$data/$f")" ] || fail "$f does not end with a newline (its last line is cut)"
    if ! out=$(keys "$data/$f" | sort -c -u 2>&1); then
        fail "$f is not sorted with unique keys in C order (${out##*disorder: }); run utils/fix_data_dir.sh"
    fi
    [ "$f" = text ] && continue   # empty transcripts get their own message below
    bad=$(awk 'NF < 2 {print NR " (" $1 ")"; exit}' "$data/$f")
    [ -z "$bad" ] || fail "$f line $bad has a key but no value"
    if [ "$f" = utt2spk ] && [ "$no_spk_sort" != true ] && ! cmp -s <(sort -s -k2,2 "$data/utt2spk") "$data/utt2spk"; then
        bad=$(sort -s -k2,2 "$data/utt2spk" | paste -d ' ' - "$data/utt2spk" | awk '$1 != $3 {print $1 " of speaker " $2; exit}')
        fail "utt2spk sorted by speaker changes the utterance order (first moved: $bad): make speaker ids prefixes of utterance ids (e.g. <speaker>-<utterance>)"
    fi
done

# Two files must hold the same keys.
same_keys() {
    local a=$1 b=$2 diff_id
    diff_id=$(comm -3 <(keys "$data/$a") <(keys "$data/$b") | head -n 1 | tr -d '\t')
    [ -z "$diff_id" ] || fail "utterance '$diff_id' is in only one of $a and $b"
}

awk 'NF != 2 {print "line " NR ": " $0; exit 1}' "$data/utt2spk" > /dev/null \
    || fail "utt2spk must have exactly two fields per line"
if ! cmp -s <("$(dirname "$0")/spk2utt_to_utt2spk.pl" "$data/spk2utt" | sort -k1,1) "$data/utt2spk"; then
    fail "spk2utt does not match utt2spk; regenerate it with utils/utt2spk_to_spk2utt.pl"
fi

if [ -f "$data/text" ]; then
    same_keys utt2spk text
    bad=$(awk 'NF < 2 {print $1; exit}' "$data/text")
    [ -z "$bad" ] || fail "utterance '$bad' has an empty transcript in text"
    bad=$(perl -ne 'use Encode; eval { decode("UTF-8", $_, Encode::FB_CROAK); 1 } or do { print "$.\n"; exit }' "$data/text")
    [ -z "$bad" ] || fail "text line $bad is not valid UTF-8"
    bad=$(perl -CS -ne '
        use Encode; use feature "unicode_strings"; my $line = decode("UTF-8", $_); chomp $line; my ($utt) = split " ", $line;
        if ($line =~ /\r/) { print "line $. (utterance $utt) contains a CR (0x0D) character (DOS line ends?)"; exit }
        if ($line =~ /([^\S\t ])/) {
            printf "line %d (utterance %s) contains the Unicode space U+%04X; only spaces and tabs may separate words", $., $utt, ord $1; exit }
        my @words = split " ", $line; shift @words;
        for my $w (@words) {
            if ($w eq "<s>" || $w eq "</s>" || $w eq "#0") { print "line $. (utterance $utt) contains the reserved symbol $w"; exit } }
    ' "$data/text")
    [ -z "$bad" ] || fail "text $bad; run utils/fix_data_dir.sh"
fi
if [ -f "$data/wav.scp" ]; then
    bad=$(awk '$2 ~ /^~/ {print $1; exit}' "$data/wav.scp")
    [ -z "$bad" ] || fail "wav.scp entry of '$bad' starts with '~', which nothing expands when the file is read; write the full path"
fi

if [ -f "$data/segments" ]; then
    same_keys utt2spk segments
    bad=$(awk 'NF != 4 || $3 < 0 || ($4 > 0 && $4 <= $3) {print $1; exit}' "$data/segments")
    [ -z "$bad" ] || fail "segments line of '$bad' is not '<utt> <recording> <start> <end>' with 0 <= start < end"
    if [ -f "$data/wav.scp" ]; then
        bad=$(awk '{print $2}' "$data/segments" | sort -u | comm -23 - <(keys "$data/wav.scp") | head -n 1)
        [ -z "$bad" ] || fail "recording '$bad' of segments is not in wav.scp"
        bad=$(awk '{print $2}' "$data/segments" | sort -u | comm -13 - <(keys "$data/wav.scp") | head -n 1)
        [ -z "$bad" ] || fail "recording '$bad' of wav.scp is used by no segment; run utils/fix_data_dir.sh"
    fi
elif [ -f "$data/wav.scp" ]; then
    same_keys utt2spk wav.scp
fi

for f in utt2num_samples utt2dur; do
    [ -f "$data/$f" ] || continue
    same_keys utt2spk "$f"
done
if [ -f "$data/utt2num_samples" ]; then
    bad=$(awk 'NF != 2 || $2 !~ /^[0-9]+$/ || $2 == 0 {print $1; exit}' "$data/utt2num_samples")
    [ -z "$bad" ] || fail "utt2num_samples of '$bad' is not a positive integer"
fi

echo "$0: successfully validated data-directory $data"
