#!/usr/bin/env bash
# DinoSR self-supervised pretraining recipe template (ESPnet layout); recipes link it as
# ./ssl.sh and call it from their run.sh. Run from the recipe directory.
set -euo pipefail

stage=1                 # first stage to run
stop_stage=100          # last stage to run
cmd_backend=local       # job runner: local (utils/run.pl) or slurm (utils/slurm.pl + conf/slurm.conf)
ngpu=0                  # GPUs per node for training (0: CPU)
num_nodes=1             # nodes for training (> 1 needs cmd_backend=slurm and a shared filesystem)
nj=4                    # parallel jobs for dumping audio
skip_data_prep=false    # skip stages 1-3 (data already prepared, dumped and measured)
local_data_opts=""      # options for local/data.sh
train_set=train_960     # pretraining data set (data/<name>)
valid_set=dev           # validation data set
fs=16000                # sampling rate of the dumped audio (Hz)
audio_format=flac       # dumped audio: flac, wav or ark
mix_channels=false      # dump: true averages multi-channel audio to mono (false: the dump stops, naming the recording)
on_error=skip           # dump: unreadable/empty audio or NaN/inf samples: skip (listed in dump/raw/<set>/log/skipped) or fail
min_dur=2.0             # drop training utterances shorter than this (s; the release drops < 2 s)
dumpdir=dump            # where dumped audio goes (dump/raw/<set>)
expdir=exp              # where experiments go
ssl_config=conf/pretrain_base.yaml  # pretraining config (ESPnet YAML; model_conf = DinoSRConfig)
ssl_args=""             # more dinosr_train options, e.g. "--max_epoch 2 --accum_grad 2"
ssl_tag=""              # experiment name (default: the config name), exp/ssl_<tag>
units_set=dev_clean     # data set of the units report (stage 5)
units_model=latest.pth  # model file to analyse: the last epoch, the one asr.sh fine-tunes (DinoSR's valid loss is no model-selection criterion: its targets move)
units_alignments=""     # frame-level phone alignments (.phn) of units_set; empty: no report
units_item=""           # ZeroSpeech .item file of units_set for ABX; empty: no report
units_args="--layers all"  # more units_report options (e.g. "--layers 5,8 --mfcc_k 100,256")
units_mfcc_fit_set=""   # dumped set to fit the MFCC k-means baseline on (training audio, as HuBERT; e.g. a train subset); empty: the units set itself
gpu_inference=false     # run the units report on one GPU
help_message="Usage: $0 [options]   (run from the recipe directory)
Stages:
  1  data preparation: local/data.sh (corpus paths in db.sh) -> data/<set>
  2  dump: 16 kHz mono audio -> $dumpdir/raw/<set> (training set without utterances < min_dur)
  3  stats: ESPnet shape files of the training and validation sets
  4  pretraining: dinosr_train (resumes from checkpoint.pth; --ngpu, --num_nodes)
  5  units report: unit quality, ABX and pictures of units_set (units_report -> <exp>/units_<set>)
Each stage logs to exp/log/ or the experiment's log/ directory and is skipped when it
already succeeded with the same inputs."

. ./path.sh
. "$MAIN_ROOT/utils/parse_options.sh"
. ./cmd.sh
. "$MAIN_ROOT/egs/TEMPLATE/lib.sh"
case $on_error in skip|fail) ;; *) die "--on_error must be skip or fail, not '$on_error'" ;; esac
dump_opts=(--fs "$fs" --audio_format "$audio_format" --on_error "$on_error")
[ "$mix_channels" = false ] || dump_opts+=(--mix_channels)
[ $# -eq 0 ] || die "unexpected arguments: $* (see --help)"
[ -f "$ssl_config" ] || die "--ssl_config $ssl_config does not exist"

ssl_tag=${ssl_tag:-$(basename "$ssl_config" .yaml)}
ssl_exp=$expdir/ssl_$ssl_tag
stage_prefix="[ssl_$ssl_tag] "
stats_dir=$expdir/ssl_stats_$train_set
raw=$dumpdir/raw

data_prep() {
    local/data.sh $local_data_opts
}

dump_sets() {
    job "$train_cmd --num_threads $nj" "$expdir/log/dump/$train_set.log" \
        "$PYTHON" -m dinosr_espnet.bin.dump_audio "data/$train_set" "$raw/$train_set" --nj "$nj" \
        "${dump_opts[@]}" --min_dur "$min_dur"
    job "$train_cmd --num_threads $nj" "$expdir/log/dump/$valid_set.log" \
        "$PYTHON" -m dinosr_espnet.bin.dump_audio "data/$valid_set" "$raw/$valid_set" --nj "$nj" \
        "${dump_opts[@]}"
}

collect_shapes() {
    shapes_from_lengths "$raw/$train_set/utt2num_samples" "$stats_dir/train/speech_shape"
    shapes_from_lengths "$raw/$valid_set/utt2num_samples" "$stats_dir/valid/speech_shape"
}

pretrain() {
    guard_exp "$ssl_exp" "$1"
    # shellcheck disable=SC2086
    launch "$ssl_exp/train.log" -- "$PYTHON" -m dinosr_espnet.bin.dinosr_train \
        --config "$ssl_config" --output_dir "$ssl_exp" --resume true \
        --train_data_path_and_name_and_type "$raw/$train_set/wav.scp,speech,sound" \
        --valid_data_path_and_name_and_type "$raw/$valid_set/wav.scp,speech,sound" \
        --train_shape_file "$stats_dir/train/speech_shape" \
        --valid_shape_file "$stats_dir/valid/speech_shape" \
        $ssl_args
}

units_report() {
    job "$train_cmd --num_threads $nj" "$expdir/log/dump/$units_set.log" \
        "$PYTHON" -m dinosr_espnet.bin.dump_audio "data/$units_set" "$raw/$units_set" --nj "$nj" \
        "${dump_opts[@]}"
    local ngpu_job=0 fit_opts=()
    [ "$gpu_inference" = false ] || ngpu_job=1
    [ -z "$units_mfcc_fit_set" ] || fit_opts=(--mfcc_fit_wav_scp "$raw/$units_mfcc_fit_set/wav.scp")
    # shellcheck disable=SC2086
    job "$decode_cmd --gpu $ngpu_job" "$ssl_exp/units_$units_set/units_report.log" \
        "$PYTHON" -m dinosr_espnet.bin.units_report --model_file "$ssl_exp/$units_model" \
        --wav_scp "$raw/$units_set/wav.scp" --phones "$units_alignments" --item "$units_item" \
        --train_log "$ssl_exp/train.log" --out_dir "$ssl_exp/units_$units_set" \
        --ngpu "$ngpu_job" "${fit_opts[@]}" $units_args
}

if [ "$skip_data_prep" = false ]; then
    run_stage 1 data_prep "$expdir/log/stage1_data_prep.log" data/.done_data_prep \
        "$(fingerprint "$(corpus_paths)" "$local_data_opts")" data_prep
    run_stage 2 dump "$expdir/log/stage2_dump_ssl.log" "" "" dump_sets
    run_stage 3 stats "$expdir/log/stage3_stats_ssl.log" "" "" collect_shapes
fi
if [ -n "$units_alignments" ] && [ -n "$units_item" ] && in_range 5; then
    # Before any stage: the units report (stage 5) must be able to use a model of this config.
    # shellcheck disable=SC2086
    "$PYTHON" - "$ssl_config" $units_args <<'EOF' || die "--ssl_config $ssl_config: see above"
import argparse, sys
from dinosr_espnet.eval.report import check_config_rates
parser = argparse.ArgumentParser()
parser.add_argument("--label_rate", type=float, default=100.0)
try:
    check_config_rates(sys.argv[1], parser.parse_known_args(sys.argv[2:])[0].label_rate)
except (OSError, ValueError) as e:
    sys.exit(f"error: {e}")
EOF
fi
pretrain_key=$(fingerprint "$ssl_config" "$ssl_args" "$raw/$train_set/wav.scp" \
    "$raw/$valid_set/wav.scp")
run_stage 4 pretrain "$ssl_exp/log/stage4_pretrain.log" "$ssl_exp/log/.done_pretrain" \
    "$pretrain_key" pretrain "$pretrain_key"
if [ -n "$units_alignments" ] && [ -n "$units_item" ]; then
    units_key=$(fingerprint "$pretrain_key" "$units_model" "$units_set" "$units_alignments" \
        "$units_item" "$units_args" "$units_mfcc_fit_set")
    run_stage 5 units_report "$ssl_exp/log/stage5_units_report.log" \
        "$ssl_exp/units_$units_set/.done" "$units_key" units_report
elif in_range 5; then
    log "stage 5 (units_report): skipped: give --units_alignments and --units_item of $units_set"
fi
log "$0: done (experiment: $ssl_exp)"
