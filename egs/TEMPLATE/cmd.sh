# shellcheck shell=bash
# Job runners (Kaldi style), chosen by cmd_backend (environment or run.sh --cmd_backend):
#   local  utils/run.pl: jobs run on this machine (default)
#   slurm  utils/slurm.pl: jobs go to Slurm through sbatch; partitions, GPUs, memory and
#          nodes are mapped to sbatch options in conf/slurm.conf of the repository
# train_cmd: CPU jobs (dump, LM); cuda_cmd: training (GPUs); decode_cmd: inference/decoding.
cmd_backend=${cmd_backend:-local}
case "$cmd_backend" in
    local)
        train_cmd="run.pl"
        cuda_cmd="run.pl"
        decode_cmd="run.pl"
        ;;
    slurm)
        train_cmd="slurm.pl --config $MAIN_ROOT/conf/slurm.conf"
        cuda_cmd="slurm.pl --config $MAIN_ROOT/conf/slurm.conf"
        decode_cmd="slurm.pl --config $MAIN_ROOT/conf/slurm.conf"
        ;;
    *)
        echo "cmd.sh: unknown cmd_backend '$cmd_backend' (use local or slurm)" >&2
        return 1
        ;;
esac
export train_cmd cuda_cmd decode_cmd
