# shellcheck shell=bash
# Kaldi-style option parsing, to be sourced after a script has set its option defaults:
#
#   nj=4              # number of parallel jobs
#   audio_format=flac # flac, wav or ark
#   help_message="Usage: $0 [options] <data-dir>"
#   . utils/parse_options.sh
#
# `--opt-name value` or `--opt-name=value` sets the shell variable `opt_name`, which must
# already be defined (an unknown option is an error); an option whose default is true/false
# only accepts true or false, and one whose default is a whole number (stage, nj, ...) only
# accepts a whole number. Parsing stops at the first non-option argument or at `--`.
# `--help` prints $help_message (when set) and every option defined above the line that
# sources this file, with its current value and trailing comment, then exits 0.
# This file is sourced, so it leaves the caller's shell options (set -euo pipefail) as they
# are; it works under them.

_po_print_help() {
    if [ -n "${help_message:-}" ]; then
        printf '%s\n' "$help_message"
    else
        printf 'Usage: %s [options] ...\n' "$0"
    fi
    printf 'Options (current value):\n'
    local _po_line _po_opt _po_comment
    while IFS= read -r _po_line; do
        case "$_po_line" in
            *parse_options.sh*) break ;;
        esac
        if [[ "$_po_line" =~ ^([A-Za-z_][A-Za-z0-9_]*)=[^#]*(#[[:space:]]*(.*))?$ ]]; then
            _po_opt=${BASH_REMATCH[1]}
            _po_comment=${BASH_REMATCH[3]}
            [ "$_po_opt" = help_message ] && continue
            printf '  --%-22s %-12s %s\n' "${_po_opt//_/-}" "${!_po_opt:-\"\"}" "$_po_comment"
        fi
    done < "$0"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --help | -h)
            _po_print_help
            exit 0
            ;;
        --)
            shift
            break
            ;;
        --*=*)
            _po_name=${1%%=*}
            _po_value=${1#*=}
            shift
            ;;
        --*)
            _po_name=$1
            if [ $# -lt 2 ]; then
                echo "$0: option $1 needs a value (see --help)" >&2
                exit 1
            fi
            _po_value=$2
            shift 2
            ;;
        *)
            break
            ;;
    esac
    _po_var=${_po_name#--}
    _po_var=${_po_var//-/_}
    if ! [[ "$_po_var" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || ! declare -p "$_po_var" > /dev/null 2>&1; then
        echo "$0: invalid option $_po_name (see --help)" >&2
        exit 1
    fi
    case "${!_po_var}" in
        true | false)
            if [ "$_po_value" != true ] && [ "$_po_value" != false ]; then
                echo "$0: option $_po_name expects true or false, got '$_po_value'" >&2
                exit 1
            fi
            ;;
        *)
            if [[ "${!_po_var}" =~ ^-?[0-9]+$ ]] && ! [[ "$_po_value" =~ ^-?[0-9]+$ ]]; then
                echo "$0: option $_po_name expects a whole number, got '$_po_value'" >&2
                exit 1
            fi
            ;;
    esac
    printf -v "$_po_var" '%s' "$_po_value"
done
unset _po_name _po_value _po_var
true
