#!/usr/bin/env perl
# Run a command on this machine, optionally as an array of jobs, Kaldi-style.
#
# Usage: utils/run.pl [options] [JOB=1:N] <log-file> <command> ...
#   e.g. utils/run.pl --max-jobs-run 4 JOB=1:8 exp/log/dump.JOB.log \
#            python -m my.tool --part JOB data/split8/JOB
# Every occurrence of the job variable (any name, e.g. JOB or SPLIT) in the log file and the
# command is replaced by the job index. Each job's output goes to its own log file, framed by
# "# <command>", "# Started at ...", "# Accounting: time=..." and "# Ended (code N) at ...".
# Commands run with `bash -c` and `set -o pipefail`. A single command argument is used verbatim
# as a shell snippet; with several, those containing whitespace are quoted (with double quotes,
# so $vars in them still expand, as in Kaldi) and the others are passed as they are.
#
# Options:
#   --max-jobs-run N   run at most N jobs at a time (default: number of CPUs)
#   --gpu N, --num-threads N, --mem M, --time T, --config F
#                      accepted for compatibility with slurm.pl and ignored here
# Exit status: 0 if every job succeeded; otherwise 1, after naming every failed log.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Path qw(make_path);
use POSIX qw(strftime);

sub usage {
    die "Usage: $0 [--max-jobs-run N] [JOB=1:N] <log-file> <command> ...\n"
      . "  (--gpu, --num-threads, --mem, --time, --config are accepted and ignored)\n";
}

sub num_cpus {
    my $n = 0;
    if (open(my $f, '<', '/proc/cpuinfo')) { $n = grep { /^processor\s*:/ } <$f>; close($f); }
    return $n > 0 ? $n : 1;
}

my $max_jobs_run = num_cpus();
my %ignored = map { $_ => 1 } qw(gpu num-threads num_threads mem time config);
while (@ARGV && $ARGV[0] =~ /^--/) {
    my $opt = shift @ARGV;
    last if $opt eq '--';
    usage() if $opt eq '--help';
    my ($name, $value) = $opt =~ /^--([^=]+)=(.*)$/ ? ($1, $2) : (substr($opt, 2), shift @ARGV);
    defined $value or die "$0: option $opt needs a value\n";
    if ($name eq 'max-jobs-run' || $name eq 'max_jobs_run') {
        $value =~ /^[1-9]\d*$/ or die "$0: --max-jobs-run needs a positive integer, got '$value'\n";
        $max_jobs_run = $value;
    } elsif (!$ignored{$name}) {
        die "$0: unknown option $opt\n";
    }
}

my ($jobvar, $first, $last) = (undef, 1, 1);
if (@ARGV && $ARGV[0] =~ /^([A-Za-z_]\w*)=(\d+):(\d+)$/) {
    ($jobvar, $first, $last) = ($1, $2, $3);
    shift @ARGV;
    $first <= $last or die "$0: empty job range $jobvar=$first:$last\n";
} elsif (@ARGV && $ARGV[0] =~ /^([A-Za-z_]\w*)=(\d+)$/) {
    ($jobvar, $first, $last) = ($1, $2, $2);
    shift @ARGV;
}
usage() if @ARGV < 2;
my $logfile = shift @ARGV;
if (defined $jobvar && $last > $first && index($logfile, $jobvar) < 0) {
    die "$0: the log file '$logfile' must contain $jobvar so that jobs do not share it\n";
}

my $cmd = '';
if (@ARGV == 1) { $cmd = $ARGV[0]; @ARGV = (); }
for my $arg (@ARGV) {
    if ($arg =~ /^\S+$/) { $cmd .= "$arg "; }
    elsif ($arg =~ /"/) { $cmd .= "'$arg' "; }
    else { $cmd .= "\"$arg\" "; }
}

sub substitute {
    my ($text, $id) = @_;
    $text =~ s/\Q$jobvar\E/$id/g if defined $jobvar;
    return $text;
}

sub run_job {
    my ($id) = @_;
    my $log = substitute($logfile, $id);
    my $job_cmd = substitute($cmd, $id);
    make_path(dirname($log));
    open(my $fh, '>', $log) or die "$0: cannot write $log: $!\n";
    print $fh "# $job_cmd\n# Started at " . strftime('%a %b %e %H:%M:%S %Z %Y', localtime) . "\n";
    close($fh);
    my $start = time();
    open(STDOUT, '>>', $log) or die "$0: cannot append to $log: $!\n";
    open(STDERR, '>&', \*STDOUT) or die "$0: cannot redirect stderr: $!\n";
    system('bash', '-c', "set -o pipefail; $job_cmd");
    my $status = $? == -1 ? 127 : ($? & 127 ? 128 + ($? & 127) : $? >> 8);
    my $elapsed = time() - $start;
    print "# Accounting: time=$elapsed threads=1\n";
    print "# Ended (code $status) at " . strftime('%a %b %e %H:%M:%S %Z %Y', localtime) . "\n";
    exit($status ? 1 : 0);
}

my (%running, @failed);
sub reap_one {
    my $pid = wait();
    return if $pid <= 0;
    my $id = delete $running{$pid};
    push @failed, $id if defined $id && $? != 0;
}

for my $id ($first .. $last) {
    reap_one() while keys(%running) >= $max_jobs_run;
    my $pid = fork();
    defined $pid or die "$0: fork failed: $!\n";
    if ($pid == 0) { run_job($id); }
    $running{$pid} = $id;
}
reap_one() while %running;

if (@failed) {
    my $total = $last - $first + 1;
    my @logs = map { substitute($logfile, $_) } sort { $a <=> $b } @failed;
    print STDERR "$0: " . scalar(@failed) . " / $total failed, see the log(s): @logs\n";
    exit 1;
}
exit 0;
