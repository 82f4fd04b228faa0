# shellcheck shell=bash
# Recipe environment: see egs/TEMPLATE/path.sh.
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../TEMPLATE/path.sh"
