#!/usr/bin/env perl
# Run a command on a Slurm cluster as a job array; same interface as utils/run.pl.
#
# Usage: utils/slurm.pl [options] [JOB=1:N] <log-file> <command> ...
# Writes a job script to <log-dir>/q/<name>.sh, submits it with `sbatch --wait --array=1-N`,
# and returns when every task has finished. Each task writes its own log file (JOB replaced
# by the task index, framed as in run.pl) and its exit status to <log-dir>/q/done.<name>.<task>.
# Slurm's own output goes to <log-dir>/q/<name>-<task>.out.
#
# Options (each turned into sbatch options through the config file):
#   --config F         config file (default: conf/slurm.conf when it exists, else the built-in
#                      one printed by --help)
#   --max-jobs-run N   at most N tasks at once (--array=1-N%M)
#   --gpu N, --mem M, --num-threads N, --time T, and any other option the config defines
# Config lines (Kaldi format):
#   command <submit command and fixed options>
#   option <name>=<value> <sbatch options>   (used when --<name> <value> is given)
#   option <name>=* <sbatch options with $0>  ($0 = the value given)
#   default <name>=<value>                    (applied when --<name> is not given)
# Exit status: 0 if every task succeeded; otherwise 1, after naming every failed log.
use strict;
use warnings;
use Cwd qw(getcwd);
use File::Basename qw(basename dirname);
use File::Path qw(make_path);

my $default_config = <<'EOF';
command sbatch --export=PATH --ntasks-per-node=1
option time=* --time $0
option mem=* --mem-per-cpu $0
option mem=0
option num_threads=* --cpus-per-task $0
option num_threads=1 --cpus-per-task 1
option num_nodes=* --nodes $0
default gpu=0
option gpu=0
option gpu=* -p gpu --gres=gpu:$0
EOF

sub usage {
    die "Usage: $0 [--config F] [--max-jobs-run N] [--gpu N] [--mem M] [--num-threads N] "
      . "[--time T] [JOB=1:N] <log-file> <command> ...\nBuilt-in config:\n$default_config";
}

my (%opts, @opt_order);
my $config = -f 'conf/slurm.conf' ? 'conf/slurm.conf' : undef;
while (@ARGV && $ARGV[0] =~ /^--/) {
    my $opt = shift @ARGV;
    last if $opt eq '--';
    usage() if $opt eq '--help';
    my ($name, $value) = $opt =~ /^--([^=]+)=(.*)$/ ? ($1, $2) : (substr($opt, 2), shift @ARGV);
    defined $value or die "$0: option $opt needs a value\n";
    $name =~ s/-/_/g;
    if ($name eq 'config') { $config = $value; next; }
    push @opt_order, $name unless exists $opts{$name};
    $opts{$name} = $value;
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

# Read the config and turn the options into sbatch arguments.
my $config_text = $default_config;
if (defined $config) {
    open(my $c, '<', $config) or die "$0: cannot open config $config: $!\n";
    local $/;
    $config_text = <$c>;
    close($c);
}
my ($submit, %exact, %wild, %default);
my $config_name = $config // 'built-in config';
for my $line (split /\n/, $config_text) {
    $line =~ s/#.*//;
    next unless $line =~ /\S/;
    if ($line =~ /^\s*command\s+(.+?)\s*$/) { $submit = $1; }
    elsif ($line =~ /^\s*option\s+(\w+)=\*\s*(.*?)\s*$/) { $wild{$1} = $2; }
    elsif ($line =~ /^\s*option\s+(\w+)=(\S+)\s*(.*?)\s*$/) { $exact{$1}{$2} = $3; }
    elsif ($line =~ /^\s*default\s+(\w+)=(\S+)\s*$/) { $default{$1} = $2; }
    else { die "$0: cannot parse line of $config_name: $line\n"; }
}
defined $submit or die "$0: $config_name has no 'command' line\n";
my $max_jobs_run = delete $opts{max_jobs_run};
@opt_order = grep { $_ ne 'max_jobs_run' } @opt_order;
if (defined $max_jobs_run && $max_jobs_run !~ /^[1-9]\d*$/) {
    die "$0: --max-jobs-run needs a positive integer, got '$max_jobs_run'\n";
}
for my $name (sort keys %default) {
    next if exists $opts{$name};
    push @opt_order, $name;
    $opts{$name} = $default{$name};
}
my @sbatch_opts;
for my $name (@opt_order) {
    my $value = $opts{$name};
    my $args;
    if (exists $exact{$name} && exists $exact{$name}{$value}) { $args = $exact{$name}{$value}; }
    elsif (exists $wild{$name}) { ($args = $wild{$name}) =~ s/\$0/$value/g; }
    else { die "$0: option --$name $value is not defined in $config_name\n"; }
    push @sbatch_opts, $args if length $args;
}

# Build the command exactly as run.pl does, then the job script.
my $cmd = '';
if (@ARGV == 1) { $cmd = $ARGV[0]; @ARGV = (); }
for my $arg (@ARGV) {
    if ($arg =~ /^\S+$/) { $cmd .= "$arg "; }
    elsif ($arg =~ /"/) { $cmd .= "'$arg' "; }
    else { $cmd .= "\"$arg\" "; }
}
my $task_var = '${SLURM_ARRAY_TASK_ID}';
my ($task_cmd, $task_log) = ($cmd, $logfile);
if (defined $jobvar) {
    $task_cmd =~ s/\Q$jobvar\E/$task_var/g;
    $task_log =~ s/\Q$jobvar\E/$task_var/g;
}
my $qdir = dirname($logfile) . '/q';
(my $name = basename($logfile)) =~ s/\.log$//;
$name =~ s/[._-]?\Q$jobvar\E//g if defined $jobvar;
$name = 'job' unless length $name;
make_path($qdir);
my $script = "$qdir/$name.sh";
my $cwd = getcwd();
(my $quoted_cmd = $cmd) =~ s/'/'\\''/g;
my $path_sh = -f 'path.sh' ? '. ./path.sh' : ':';
unlink glob("$qdir/done.$name.*");
my $array = "$first-$last" . (defined $max_jobs_run ? "%$max_jobs_run" : '');
my $sbatch = join(' ', $submit, @sbatch_opts, "--job-name=$name", "--array=$array",
                  "--output=$qdir/$name-%a.out", '--wait', $script);
open(my $s, '>', $script) or die "$0: cannot write $script: $!\n";
print $s <<"EOF";
#!/usr/bin/env bash
# submitted with: $sbatch
cd '$cwd'
$path_sh
log="$task_log"
mkdir -p "\$(dirname "\$log")"
{ echo '# $quoted_cmd'; echo "# Started at \$(date) on \$(hostname), task $task_var"; } > "\$log"
start=\$(date +%s)
( set -o pipefail; $task_cmd ) >> "\$log" 2>&1
ret=\$?
echo "# Accounting: time=\$((\$(date +%s) - start)) threads=\${SLURM_CPUS_PER_TASK:-1}" >> "\$log"
echo "# Ended (code \$ret) at \$(date)" >> "\$log"
echo \$ret > '$qdir/done.$name.'$task_var
exit \$ret
EOF
close($s) or die "$0: cannot write $script: $!\n";
chmod 0755, $script;

my $rc = system('bash', '-c', $sbatch);
if ($rc == -1 || ($rc >> 8) == 127) {
    die "$0: could not run '$sbatch' (is Slurm installed and sbatch on PATH?)\n";
}

my @failed;
for my $id ($first .. $last) {
    my $done = "$qdir/done.$name.$id";
    my $status = -f $done ? do { open(my $d, '<', $done); my $x = <$d>; chomp $x; $x } : 'missing';
    push @failed, $id if $status ne '0';
}
if (@failed) {
    my $total = $last - $first + 1;
    my @logs = map { my $l = $logfile; $l =~ s/\Q$jobvar\E/$_/g if defined $jobvar; $l } @failed;
    print STDERR "$0: " . scalar(@failed) . " / $total failed, see the log(s): @logs "
      . "(and $qdir/$name-<task>.out)\n";
    exit 1;
}
exit 0;
