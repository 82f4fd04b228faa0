#!/usr/bin/env bash
# DinoSR CTC fine-tuning and decoding recipe template (ESPnet layout); recipes link it as
# ./asr.sh and call it from their run.sh. Run from the recipe directory.
set -euo pipefail

stage=1                 # first stage to run
stop_stage=100          # last stage to run
cmd_backend=local       # job runner: local (utils/run.pl) or slurm (utils/slurm.pl + conf/slurm.conf)
ngpu=0                  # GPUs per node for fine-tuning (0: CPU)
num_nodes=1             # nodes for fine-tuning (> 1 needs cmd_backend=slurm and a shared filesystem)
nj=4                    # parallel jobs for dumping audio
inference_nj=4          # parallel jobs for CTC inference and LM decoding (per set)
gpu_inference=false     # run CTC inference on one GPU per job
skip_data_prep=false    # skip stages 1-2 (data already prepared and dumped)
local_data_opts=""      # options for local/data.sh
train_set=train_10h     # fine-tuning data set (data/<name>)
valid_set=dev_other     # validation set: model selection and LM weight tuning
test_sets="dev_clean dev_other test_clean test_other"  # sets to decode and score
fs=16000                # sampling rate of the dumped audio (Hz)
audio_format=flac       # dumped audio: flac, wav or ark
mix_channels=false      # dump: true averages multi-channel audio to mono (false: the dump stops, naming the recording)
on_error=skip           # dump: unreadable/empty audio or NaN/inf samples: skip (listed in dump/raw/<set>/log/skipped) or fail
dumpdir=dump            # where dumped audio goes (dump/raw/<set>)
expdir=exp              # where experiments go
token_text=""           # transcripts for the letter list (default: data/<train_set>/text)
pretrain_exp=""         # pretraining experiment dir (its config.yaml gives the architecture)
pretrain_model=latest.pth  # checkpoint of pretrain_exp whose student initialises the encoder (last epoch)
init_from_pretrain=true # false: same architecture, random initialisation (baseline)
asr_config=conf/finetune_10h.yaml   # fine-tuning config (ESPnet ASR YAML, encoder: dinosr)
asr_args=""             # more asr_train options, e.g. "--max_epoch 5"
asr_tag=""              # experiment name (default: config name + init), exp/asr_<tag>
inference_model=valid.cer_ctc.ave.pth  # model file of the fine-tuning experiment to decode with
inference_args="--batch_size 8"        # more asr_inference options
use_lm=true             # stages 6-7 (KenLM); false: Viterbi decoding only
lm_text=""              # LM training text(s), one sentence per line (e.g. librispeech-lm-norm.txt)
lm_arpa=""              # an existing ARPA LM (e.g. LibriSpeech 4-gram.arpa.gz) instead of lm_text
lm_order=4              # n-gram order of the LM estimated on lm_text
lm_tag=""               # LM experiment name (default: <order>gram), exp/lm_<tag>
lm_args=""              # more train_lm options, e.g. "--memory 50%"
lm_weight_range="0 8 1"     # lm_weight grid of the dev tuning: start stop step
word_score_range="-5 5 1"   # word_score grid of the dev tuning: start stop step
tune_args="--beam 100"  # more tune_lm options (a smaller beam makes the grid search cheaper)
decode_args="--beam 500 --beam_threshold 100"  # more ctc_decode options for the final decoding
metric=wer              # wer (LibriSpeech) or cer (BABEL)
help_message="Usage: $0 [options]   (run from the recipe directory)
Stages:
  1  data preparation: local/data.sh (corpus paths in db.sh) -> data/<set>
  2  dump: 16 kHz mono audio -> $dumpdir/raw/<set>
  3  stats: letter token list and ESPnet shape files
  4  fine-tuning: asr_train from the pretrained student (or random init), --resume true
  5  inference: CTC emissions and Viterbi hypotheses of valid_set and test_sets
  6  LM: KenLM n-gram (lmplz from utils/install_kenlm.sh) and its letter lexicon
  7  LM decoding: tune lm_weight/word_score on valid_set only, decode every set with the best
  8  scoring: WER/CER of Viterbi (and LM) decoding -> <exp>/RESULTS.md
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
[ -f "$asr_config" ] || die "--asr_config $asr_config does not exist"
[ -n "$pretrain_exp" ] \
    || die "--pretrain_exp is not set: the pretraining experiment dir (its config.yaml defines the encoder)"

init=$([ "$init_from_pretrain" = true ] && echo dinosr || echo random)
asr_tag=${asr_tag:-$(basename "$asr_config" .yaml)_$init}
asr_exp=$expdir/asr_$asr_tag
stage_prefix="[asr_$asr_tag] "
lm_tag=${lm_tag:-${lm_order}gram}
lm_exp=$expdir/lm_$lm_tag
raw=$dumpdir/raw
token_list=$expdir/token_list/tokens.txt
stats_dir=$expdir/asr_stats_$train_set
decode_dir=$asr_exp/decode_$(basename "$inference_model" .pth)
# shellcheck disable=SC2086
eval_sets=$(printf '%s\n' "$valid_set" $test_sets | awk '!seen[$0]++')

data_prep() {
    local/data.sh $local_data_opts
}

dump_sets() {
    local set
    for set in $train_set $eval_sets; do
        job "$train_cmd --num_threads $nj" "$expdir/log/dump/$set.log" \
            "$PYTHON" -m dinosr_espnet.bin.dump_audio "data/$set" "$raw/$set" --nj "$nj" \
            "${dump_opts[@]}"
    done
}

# Letter list (<blank>, <unk>, letters and "|" by frequency) and the shape files used by
# ESPnet's batching: speech_shape = samples, text_shape = letters incl. word boundaries.
collect_stats() {
    mkdir -p "$(dirname "$token_list")"
    "$PYTHON" - "${token_text:-data/$train_set/text}" "$token_list" <<'EOF'
import sys
from dinosr_espnet.data.kaldi_dir import read_kaldi_map
from dinosr_espnet.decode.tokens import build_token_list, write_token_list
texts = read_kaldi_map(sys.argv[1], allow_empty_value=True).values()
write_token_list(sys.argv[2], build_token_list(texts))
EOF
    local split set
    for split in train valid; do
        set=$([ "$split" = train ] && echo "$train_set" || echo "$valid_set")
        shapes_from_lengths "$raw/$set/utt2num_samples" "$stats_dir/$split/speech_shape"
        awk '{ n = -1; for (i = 2; i <= NF; i++) n += length($i) + 1; print $1, (n > 0 ? n : 0) }' \
            "$raw/$set/text" > "$stats_dir/$split/text_shape"
    done
}

finetune() {
    guard_exp "$asr_exp" "$1"
    local init_opts=()
    if [ "$init_from_pretrain" = true ]; then
        [ -f "$pretrain_exp/$pretrain_model" ] \
            || die "$pretrain_exp/$pretrain_model does not exist: pretrain first (or set --pretrain_model)"
        init_opts=(--init_param "$pretrain_exp/$pretrain_model:dinosr:encoder.dinosr")
    fi
    # shellcheck disable=SC2086
    launch "$asr_exp/train.log" -- "$PYTHON" -m dinosr_espnet.bin.asr_train \
        --config "$asr_config" --output_dir "$asr_exp" --resume true \
        --encoder_conf "pretrain_config=$pretrain_exp/config.yaml" "${init_opts[@]}" \
        --token_list "$token_list" \
        --train_data_path_and_name_and_type "$raw/$train_set/wav.scp,speech,sound" \
        --train_data_path_and_name_and_type "$raw/$train_set/text,text,text" \
        --train_shape_file "$stats_dir/train/speech_shape" \
        --train_shape_file "$stats_dir/train/text_shape" \
        --valid_data_path_and_name_and_type "$raw/$valid_set/wav.scp,speech,sound" \
        --valid_data_path_and_name_and_type "$raw/$valid_set/text,text,text" \
        --valid_shape_file "$stats_dir/valid/speech_shape" \
        --valid_shape_file "$stats_dir/valid/text_shape" \
        $asr_args
}

# CTC emissions and Viterbi text of every eval set: one pass over all their utterances (the
# model is loaded once per job), split over inference_nj jobs, then divided back per set.
inference() {
    local all=$decode_dir/all set job n dup
    mkdir -p "$all"
    # shellcheck disable=SC2086
    for set in $eval_sets; do cat "$raw/$set/wav.scp"; done | sort > "$all/wav.scp"
    # shellcheck disable=SC2086
    for set in $eval_sets; do cat "$raw/$set/utt2num_samples"; done | sort > "$all/utt2num_samples"
    dup=$(cut -d' ' -f1 "$all/wav.scp" | uniq -d | head -n 1)
    [ -z "$dup" ] || die "utterance id $dup is in more than one of the sets: $eval_sets"
    n=$(wc -l < "$all/wav.scp")
    n=$((n < inference_nj ? n : inference_nj))
    local keys=()
    for job in $(seq "$n"); do keys+=("$all/split$n/keys.$job"); done
    mkdir -p "$all/split$n"
    split_scp.pl "$all/wav.scp" "${keys[@]}"
    local gpu_opt=() ngpu_job=0
    if [ "$gpu_inference" = true ]; then gpu_opt=(--gpu 1); ngpu_job=1; fi
    # shellcheck disable=SC2086
    $decode_cmd "${gpu_opt[@]}" JOB=1:"$n" "$all/log/inference.JOB.log" \
        "$PYTHON" -m dinosr_espnet.bin.asr_inference --asr_train_config "$asr_exp/config.yaml" \
        --asr_model_file "$asr_exp/$inference_model" --data_dir "$all" \
        --key_file "$all/split$n/keys.JOB" --output_dir "$all/split$n/output.JOB" \
        --ngpu "$ngpu_job" $inference_args
    for job in $(seq "$n"); do cat "$all/split$n/output.$job/emissions.scp"; done \
        | sort > "$all/emissions.scp"
    for job in $(seq "$n"); do cat "$all/split$n/output.$job/text"; done | sort > "$all/viterbi.txt"
    for set in $eval_sets; do
        mkdir -p "$decode_dir/$set/viterbi"
        filter_scp.pl "$raw/$set/wav.scp" "$all/emissions.scp" > "$decode_dir/$set/emissions.scp"
        filter_scp.pl "$raw/$set/wav.scp" "$all/viterbi.txt" > "$decode_dir/$set/viterbi/text"
        cp "$all/split$n/output.1/tokens.txt" "$decode_dir/$set/tokens.txt"
    done
}

train_lm() {
    local src
    if [ -n "$lm_arpa" ]; then
        src=(--arpa "$lm_arpa")
    else
        [ -n "$lm_text" ] \
            || die "give --lm_text (LM training text) or --lm_arpa (an existing LM), or --use_lm false"
        # shellcheck disable=SC2206
        src=(--text $lm_text --order "$lm_order")
    fi
    # shellcheck disable=SC2086
    job "$train_cmd" "$lm_exp/train_lm.log" \
        "$PYTHON" -m dinosr_espnet.bin.train_lm "${src[@]}" --out "$lm_exp" $lm_args \
        || die "the LM was not built (see above). Viterbi results need no LM: --use_lm false"
}

# Tune lm_weight and word_score on valid_set only (dev), then decode every set with the best.
lm_decode() {
    local lm lexicon=$lm_exp/lexicon.txt tuned=$decode_dir/$valid_set/lm_$lm_tag/best.yaml set
    lm=$(find "$lm_exp" -maxdepth 1 -name '*.bin' | head -n 1)
    [ -n "$lm" ] && [ -f "$lexicon" ] \
        || die "no LM in $lm_exp (*.bin and lexicon.txt): run stage 6 first"
    mkdir -p "$(dirname "$tuned")"
    # shellcheck disable=SC2086
    job "$decode_cmd --num_threads $inference_nj" "$(dirname "$tuned")/tune_lm.log" \
        "$PYTHON" -m dinosr_espnet.bin.tune_lm --emissions "$decode_dir/$valid_set/emissions.scp" \
        --tokens "$decode_dir/$valid_set/tokens.txt" --ref "$raw/$valid_set/text" \
        --lm "$lm" --lexicon "$lexicon" --metric "$metric" --nj "$inference_nj" \
        --lm_weight_range $lm_weight_range --word_score_range $word_score_range \
        --out "$tuned" $tune_args
    for set in $eval_sets; do
        mkdir -p "$decode_dir/$set/lm_$lm_tag"
        # shellcheck disable=SC2086
        job "$decode_cmd --num_threads $inference_nj" "$decode_dir/$set/lm_$lm_tag/decode.log" \
            "$PYTHON" -m dinosr_espnet.bin.ctc_decode --emissions "$decode_dir/$set/emissions.scp" \
            --tokens "$decode_dir/$set/tokens.txt" --lm "$lm" --lexicon "$lexicon" \
            --decode_config "$tuned" --nj "$inference_nj" \
            --out "$decode_dir/$set/lm_$lm_tag/text" $decode_args
    done
}

# WER/CER of every set and decoding mode into <exp>/RESULTS.md (ESPnet style: environment
# block, one table per mode, links to the per-utterance scoring files).
score() {
    local results=$asr_exp/RESULTS.md set mode modes=viterbi scored links
    [ "$use_lm" = false ] || modes="viterbi lm_$lm_tag"
    "$PYTHON" -m dinosr_espnet.bin.results_environment --out "$results"
    for mode in $modes; do
        links=""
        for set in $eval_sets; do
            [ -f "$decode_dir/$set/$mode/text" ] \
                || die "$decode_dir/$set/$mode/text is missing: run the decoding stages first"
            "$PYTHON" -m dinosr_espnet.bin.score --ref "$raw/$set/text" \
                --hyp "$decode_dir/$set/$mode/text" --metric "$metric" --set-name "$set" \
                --results "$results" --title "$asr_exp $(basename "$decode_dir") $mode"
            scored=$decode_dir/$set/$mode/score_$metric/result.txt
            "$PYTHON" -m dinosr_espnet.bin.score_utterances --ref "$raw/$set/text" \
                --hyp "$decode_dir/$set/$mode/text" --metric "$metric" --out "$scored"
            links+="${links:+, }[$set](${scored#"$asr_exp"/})"
        done
        printf '\nPer-utterance scoring: %s\n' "$links" >> "$results"
    done
    cat "$results"
}

if [ "$skip_data_prep" = false ]; then
    run_stage 1 data_prep "$expdir/log/stage1_data_prep.log" data/.done_data_prep \
        "$(fingerprint "$(corpus_paths)" "$local_data_opts")" data_prep
    run_stage 2 dump "$expdir/log/stage2_dump_asr_$train_set.log" "" "" dump_sets
fi
run_stage 3 stats "$expdir/log/stage3_stats_asr_$train_set.log" "" "" collect_stats
finetune_key=$(fingerprint "$asr_config" "$asr_args" "$init_from_pretrain" \
    "$pretrain_exp/config.yaml" \
    "$([ "$init_from_pretrain" = true ] && echo "$pretrain_exp/$pretrain_model")" \
    "$token_list" "$raw/$train_set/wav.scp" "$raw/$train_set/text" "$raw/$valid_set/wav.scp")
run_stage 4 finetune "$asr_exp/log/stage4_finetune.log" "$asr_exp/log/.done_finetune" \
    "$finetune_key" finetune "$finetune_key"
# shellcheck disable=SC2086
infer_key=$(fingerprint "$finetune_key" "$inference_model" "$inference_args" $eval_sets)
run_stage 5 inference "$asr_exp/log/stage5_inference.log" "$decode_dir/.done_inference" \
    "$infer_key" inference
if [ "$use_lm" = true ]; then
    # shellcheck disable=SC2086
    lm_key=$(fingerprint "$lm_arpa" $lm_text "$lm_order" "$lm_args")
    run_stage 6 lm "$expdir/log/stage6_lm_$lm_tag.log" "$lm_exp/.done" "$lm_key" train_lm
    decode_key=$(fingerprint "$infer_key" "$lm_key" "$lm_weight_range" "$word_score_range" \
        "$tune_args" "$decode_args")
    run_stage 7 lm_decode "$asr_exp/log/stage7_lm_decode.log" "$decode_dir/.done_lm_$lm_tag" \
        "$decode_key" lm_decode
elif in_range 6 || in_range 7; then
    log "stages 6-7 (LM): skipped (--use_lm false): Viterbi decoding only"
fi
run_stage 8 score "$asr_exp/log/stage8_score.log" "" "" score
log "$0: done (experiment: $asr_exp, results: $asr_exp/RESULTS.md)"
