#!/usr/bin/env perl
# Convert utt2spk ("utt spk" lines) to spk2utt ("spk utt1 utt2 ..."), Kaldi-style.
# Usage: utils/utt2spk_to_spk2utt.pl [utt2spk] > spk2utt   (reads stdin without argument)
# Speakers come out in the order of their first appearance, utterances in input order, so a
# C-sorted utt2spk whose speaker ids prefix the utterance ids gives a C-sorted spk2utt.
use strict;
use warnings;

if (@ARGV > 1 || (@ARGV && $ARGV[0] =~ /^--?h(elp)?$/)) {
    die "Usage: $0 [utt2spk] > spk2utt\n";
}
my (@order, %utts);
while (my $line = <>) {
    my @fields = split ' ', $line;
    next unless @fields;
    @fields == 2 or die "$0: bad utt2spk line $.: $line";
    my ($utt, $spk) = @fields;
    push @order, $spk unless exists $utts{$spk};
    push @{ $utts{$spk} }, $utt;
}
print "$_ @{ $utts{$_} }\n" for @order;
