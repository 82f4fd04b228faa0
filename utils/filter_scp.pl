#!/usr/bin/env perl
# Keep (or with --exclude, drop) the lines of a Kaldi file whose key is in an id list.
# Usage: utils/filter_scp.pl [--exclude] [-f <field>] <id-list> [<in-file>] > <out-file>
#   <id-list>   ids in its first column (e.g. another scp, or a list of utterance ids)
#   -f <field>  compare this column of <in-file> (1-based; negative counts from the end),
#               e.g. -f 2 filters segments by recording id. Default 1.
# Output keeps the input order.
use strict;
use warnings;

my $exclude = 0;
my $field = 1;
while (@ARGV && $ARGV[0] =~ /^-/) {
    my $opt = shift @ARGV;
    if ($opt eq '--exclude') { $exclude = 1; }
    elsif ($opt eq '-f') { $field = shift @ARGV; }
    elsif ($opt =~ /^-f(-?\d+)$/) { $field = $1; }
    elsif ($opt =~ /^--?h(elp)?$/) { @ARGV = (); last; }
    else { die "$0: unknown option $opt\n"; }
}
if (@ARGV < 1 || @ARGV > 2 || !defined $field || $field !~ /^-?[1-9]\d*$/) {
    die "Usage: $0 [--exclude] [-f <field>] <id-list> [<in-file>] > <out-file>\n";
}
my $list = shift @ARGV;
open(my $ids, '<', $list) or die "$0: cannot open id list $list: $!\n";
my %keep;
while (my $line = <$ids>) {
    my ($id) = split ' ', $line;
    $keep{$id} = 1 if defined $id;
}
close($ids);
while (my $line = <>) {
    my @fields = split ' ', $line;
    next unless @fields;
    my $key = $field > 0 ? $fields[$field - 1] : $fields[$field];
    defined $key or die "$0: line $. has no field $field: $line";
    print $line if ($keep{$key} ? 1 : 0) != $exclude;
}
