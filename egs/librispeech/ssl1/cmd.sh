# shellcheck shell=bash
# Job runners (run.pl or slurm.pl by cmd_backend): see egs/TEMPLATE/cmd.sh.
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../TEMPLATE/cmd.sh"
