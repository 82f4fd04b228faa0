# shellcheck shell=bash
# Shared helpers of the stage scripts (ssl1/ssl.sh, asr1/asr.sh): stage gating, one log file
# per stage, skip-when-done markers and the distributed training launcher.

log() { echo "$(date '+%Y-%m-%d %H:%M:%S') $*"; }

die() {
    echo "error: $*" >&2
    exit 1
}

# in_range N: true when stage N lies within --stage .. --stop_stage.
in_range() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }

# fingerprint ARG...: short hash of the arguments; an argument naming a file contributes the
# file's contents instead, so a changed config or model gives another fingerprint.
fingerprint() {
    local a
    for a in "$@"; do
        if [ -f "$a" ]; then sha256sum < "$a"; else printf '%s\n' "$a"; fi
    done | sha256sum | cut -c1-16
}

# corpus_paths: the corpus variables of ./db.sh (and BABEL_<id> ones) with their values, to
# fingerprint the data preparation (a corpus moved elsewhere gives another fingerprint).
corpus_paths() {
    (
        set +u
        . ./db.sh
        for v in $(sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' db.sh) $(compgen -v BABEL_); do
            printf '%s=%s\n' "$v" "${!v}"
        done | sort -u
    )
}

# run_stage N NAME LOG MARKER KEY FUNCTION [ARGS...]
# Runs FUNCTION under set -euo pipefail with all its output in LOG (stdout shows one line at
# the start and one at the end, with the time taken). When MARKER already holds KEY, the stage
# succeeded before with the same inputs and is skipped; on success KEY is written to MARKER.
# An empty MARKER means "always run". Messages start with $stage_prefix (the experiment).
# When $stage_times names a file, "N<TAB>NAME<TAB>SECONDS<TAB>LOG" is appended to it.
run_stage() {
    local n=$1 name=$2 logfile=$3 marker=$4 key=$5
    shift 5
    in_range "$n" || return 0
    if [ -n "$marker" ] && [ -f "$marker" ] && [ "$(cat "$marker")" = "$key" ]; then
        log "${stage_prefix:-}stage $n ($name): already done, skipped (delete $marker to redo)"
        return 0
    fi
    mkdir -p "$(dirname "$logfile")"
    log "${stage_prefix:-}stage $n ($name): started, log in $logfile"
    local start=$SECONDS rc
    set +e
    ( set -euo pipefail; "$@" ) > "$logfile" 2>&1
    rc=$?
    set -e
    if [ "$rc" -ne 0 ]; then
        echo "error: ${stage_prefix:-}stage $n ($name) failed (exit code $rc)," \
            "the end of $logfile:" >&2
        tail -n 25 "$logfile" | sed 's/^/    /' >&2
        exit "$rc"
    fi
    if [ -n "$marker" ]; then
        mkdir -p "$(dirname "$marker")"
        printf '%s\n' "$key" > "$marker"
    fi
    log "${stage_prefix:-}stage $n ($name): done in $((SECONDS - start)) s"
    if [ -n "${stage_times:-}" ]; then
        mkdir -p "$(dirname "$stage_times")"
        printf '%s\t%s\t%s\t%s\n' "$n" "$name" "$((SECONDS - start))" "$logfile" >> "$stage_times"
    fi
}

# guard_exp DIR KEY: a training run resumes from DIR/checkpoint.pth only when DIR was
# started with the same inputs (KEY); otherwise stop instead of mixing two experiments.
guard_exp() {
    local dir=$1 key=$2
    if [ -f "$dir/inputs.key" ] && [ "$(cat "$dir/inputs.key")" != "$key" ]; then
        die "$dir was started with other inputs (config, data or init):" \
            "remove it, or pick another tag"
    fi
    mkdir -p "$dir"
    printf '%s\n' "$key" > "$dir/inputs.key"
}

# job RUNNER LOG COMMAND...: run COMMAND as one job of RUNNER ($train_cmd, $decode_cmd:
# run.pl here, slurm.pl on a cluster) with its output in LOG; on failure show LOG's end.
job() {
    local runner=$1 logfile=$2
    shift 2
    # shellcheck disable=SC2086
    if ! $runner "$logfile" "$@"; then
        echo "the job failed; the end of $logfile:"
        tail -n 20 "$logfile"
        return 1
    fi
}

# launch LOG -- COMMAND...: run a training command through ESPnet's launcher, which turns
# --ngpu/--num_nodes into one process (CPU, 1 GPU), DDP on one node, or one task per node
# through slurm.pl (shared-file initialisation: the experiment dir must be on a shared
# filesystem). Needs $cuda_cmd, $ngpu, $num_nodes.
launch() {
    local logfile=$1
    shift 2
    "$PYTHON" -m espnet2.bin.launch --cmd "$cuda_cmd" --log "$logfile" --ngpu "$ngpu" \
        --num_nodes "$num_nodes" --init_file_prefix "$(dirname "$logfile")/.dist_init_" \
        --multiprocessing_distributed true -- "$@"
}

# shapes_from_lengths SRC DST: ESPnet's speech_shape file is utt2num_samples as it is.
shapes_from_lengths() {
    mkdir -p "$(dirname "$2")"
    cp "$1" "$2"
}
