#!/usr/bin/env perl
# Split a Kaldi file into contiguous parts of near-equal size, Kaldi-style.
# Usage: utils/split_scp.pl [--utt2spk=<utt2spk>] <in.scp> <out1.scp> <out2.scp> ...
#        utils/split_scp.pl [--utt2spk=<utt2spk>] [--one-based] -j <num-jobs> <job-id> <in.scp> [<out.scp>]
#   --utt2spk  keep all lines of a speaker in the same part (parts balanced by line count)
#   -j N k     write only part k (0-based, or 1-based with --one-based) to <out.scp> or stdout
# Parts differ by at most one line without --utt2spk. Fewer lines (speakers) than parts is an error.
use strict;
use warnings;

my ($utt2spk_file, $one_based, $num_jobs, $job_id) = (undef, 0, undef, undef);
while (@ARGV && $ARGV[0] =~ /^-/) {
    my $opt = shift @ARGV;
    if ($opt =~ /^--utt2spk=(.+)$/) { $utt2spk_file = $1; }
    elsif ($opt eq '--utt2spk') { $utt2spk_file = shift @ARGV; }
    elsif ($opt eq '--one-based') { $one_based = 1; }
    elsif ($opt eq '-j') { $num_jobs = shift @ARGV; $job_id = shift @ARGV; }
    else { die "$0: unknown option $opt\n"; }
}
my $usage = "Usage: $0 [--utt2spk=<utt2spk>] <in.scp> <out1.scp> ...\n"
          . "       $0 [--utt2spk=<utt2spk>] [--one-based] -j <num-jobs> <job-id> <in.scp> [<out.scp>]\n";
my $in = shift @ARGV or die $usage;
my @outs;
if (defined $num_jobs) {
    ($num_jobs =~ /^\d+$/ && $num_jobs > 0 && defined $job_id && $job_id =~ /^\d+$/) or die $usage;
    $job_id -= 1 if $one_based;
    ($job_id >= 0 && $job_id < $num_jobs) or die "$0: job id out of range for $num_jobs jobs\n";
    @ARGV <= 1 or die $usage;
} else {
    @outs = @ARGV or die $usage;
    $num_jobs = @outs;
}

open(my $fh, '<', $in) or die "$0: cannot open $in: $!\n";
my @lines = grep { /\S/ } <$fh>;
close($fh);

# Group lines into units that must stay together: one line each, or one speaker each.
my @units;
if (defined $utt2spk_file) {
    open(my $u, '<', $utt2spk_file) or die "$0: cannot open $utt2spk_file: $!\n";
    my %spk;
    while (my $line = <$u>) { my ($utt, $s) = split ' ', $line; $spk{$utt} = $s if defined $s; }
    close($u);
    my $prev;
    for my $line (@lines) {
        my ($key) = split ' ', $line;
        my $s = $spk{$key};
        defined $s or die "$0: $key of $in is not in $utt2spk_file\n";
        if (!defined $prev || $s ne $prev) { push @units, []; }
        push @{ $units[-1] }, $line;
        $prev = $s;
    }
} else {
    @units = map { [$_] } @lines;
}
my $what = defined $utt2spk_file ? 'speakers' : 'lines';
@units >= $num_jobs or die "$0: $in has " . scalar(@units) . " $what, fewer than $num_jobs parts\n";

# Contiguous split: part boundaries fall on the unit boundaries closest to k * lines / parts,
# each part keeping at least one unit.
my @cum = (0);
push @cum, $cum[-1] + @{$_} for @units;
my @bounds = (0);
for my $k (1 .. $num_jobs - 1) {
    my $target = $k * @lines / $num_jobs;
    my ($best, $hi) = ($bounds[-1] + 1, @units - ($num_jobs - $k));
    for my $b ($best + 1 .. $hi) {
        last if abs($cum[$b] - $target) >= abs($cum[$best] - $target);
        $best = $b;
    }
    push @bounds, $best;
}
push @bounds, scalar @units;
my @parts = map { [ map { @$_ } @units[ $bounds[$_] .. $bounds[$_ + 1] - 1 ] ] } 0 .. $num_jobs - 1;

if (@outs) {
    for my $k (0 .. $#outs) {
        open(my $o, '>', $outs[$k]) or die "$0: cannot write $outs[$k]: $!\n";
        print $o @{ $parts[$k] };
        close($o) or die "$0: cannot write $outs[$k]: $!\n";
    }
} else {
    my $o = \*STDOUT;
    if (@ARGV) { open($o, '>', $ARGV[0]) or die "$0: cannot write $ARGV[0]: $!\n"; }
    print $o @{ $parts[$job_id] };
}
