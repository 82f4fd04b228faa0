#!/usr/bin/env perl
# Convert spk2utt ("spk utt1 utt2 ...") to utt2spk ("utt spk" lines), Kaldi-style.
# Usage: utils/spk2utt_to_utt2spk.pl [spk2utt] > utt2spk   (reads stdin without argument)
# Lines come out in input order; pipe through `LC_ALL=C sort` for a sorted utt2spk.
use strict;
use warnings;

if (@ARGV > 1 || (@ARGV && $ARGV[0] =~ /^--?h(elp)?$/)) {
    die "Usage: $0 [spk2utt] > utt2spk\n";
}
while (my $line = <>) {
    my ($spk, @utts) = split ' ', $line;
    next unless defined $spk;
    @utts or die "$0: speaker $spk has no utterances (line $.)\n";
    print "$_ $spk\n" for @utts;
}
