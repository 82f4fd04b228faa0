#!/usr/bin/env bash
# The mini recipe (`make demo`): DinoSR end to end on a generated corpus, on 2 CPU cores.
# Generates a small LibriSpeech/Libri-light-style corpus (55 min of "960 h" speech, as hard as
# real speech for the MFCC baseline, which stage 1 measures), pretrains a small DinoSR model
# on it, fine-tunes it with CTC on the "10 h" split (37 min) from the DinoSR init and, as a
# baseline, from a random init, builds a 4-gram KenLM, decodes with Viterbi and with the LM
# (weights tuned on dev only), scores WER, writes the units report of the pretrained model
# and prints a summary with the paper's effects as checks (exp/summary.md). docs/demo.md
# shows a run; the real recipes are egs/{librispeech,librilight,babel}.
#   ./run.sh               # the demo (about 20 minutes on 2 cores)
#   ./run.sh --size ci     # what CI runs: the CI corpus (6 min) and few updates
set -euo pipefail

stage=1                 # first stage to run
stop_stage=100          # last stage to run
size=demo               # corpus size preset of make_corpus: demo or ci
seed=0                  # corpus seed
nj=2                    # parallel jobs: corpus synthesis, dumping, decoding, the two fine-tunings
nthreads=1              # torch threads per job (1 is fastest on a shared 2-core machine)
use_lm=true             # build KenLM (utils/install_kenlm.sh --install-deps) and decode with it
ssl_config=conf/pretrain_mini.yaml   # pretraining config
asr_config=conf/finetune_mini.yaml   # fine-tuning config (both inits)
ssl_args=""             # more dinosr_train options
asr_args=""             # more asr_train options (both inits)
finetune_set=train_10h  # Libri-light split to fine-tune on (train_10min, train_1h, train_10h)
expdir=exp              # experiments, logs and the summary
help_message="Usage: $0 [options]   (run from egs/mini/asr1, or a copy of its files)
Stages:
  1  corpus: generate corpora/<size> (make_corpus: LibriSpeech + Libri-light layouts,
     LM text, phone alignments, ABX items) and measure its difficulty for the MFCC
     baseline (local/corpus_difficulty.py: ABX, k-means PNMI)
  2  pretraining: ssl.sh stages 1-4 (data prep, dump, stats, dinosr_train on train_960)
  3  LM: build KenLM (utils/install_kenlm.sh --install-deps), then the 4-gram on the
     corpus's LM text (asr.sh stage 6)
  4  fine-tuning data: asr.sh stages 1-3 (dump, letter list, shapes) for <finetune_set>
  5  fine-tuning: asr.sh stage 4 from the DinoSR init and from a random init, side by side
  6  decoding and scoring: asr.sh stages 5-8 for both, side by side (Viterbi; 4-gram with
     weights tuned on dev; WER)
  7  units report: ssl.sh stage 5 (unit quality, ABX with legacy slicing) on dev_clean,
     then k-means on the best codebook layer's features (local/layer_kmeans.py)
  8  summary: WER table and checks -> $expdir/summary.md"

. ./path.sh
. "$MAIN_ROOT/utils/parse_options.sh"
. "$MAIN_ROOT/egs/TEMPLATE/lib.sh"
[ $# -eq 0 ] || die "unexpected arguments: $* (see --help)"
case "$size" in
    demo | ci) ;;
    *) die "--size must be demo or ci, got '$size'" ;;
esac

export OMP_NUM_THREADS=$nthreads MKL_NUM_THREADS=$nthreads
export MINI_CORPUS=$PWD/corpora/$size
mkdir -p "$expdir"
stage_times=$(cd "$expdir" && pwd)/stage_times.tsv
export stage_times
[ "$stage" -gt 1 ] || rm -f "$stage_times"
size_ssl_args="" size_asr_args=""
if [ "$size" = ci ]; then  # 6 min of speech: a run through every stage, not a model
    size_ssl_args="--max_epoch 3 --num_iters_per_epoch 100 --scheduler_conf max_steps=300"
    size_asr_args="--max_epoch 8 --num_iters_per_epoch 150 --scheduler_conf max_steps=1200"
    size_asr_args+=" --encoder_conf freeze_encoder_updates=600"  # half, as in the config
fi
ssl_tag=mini_$size
ssl_exp=$expdir/ssl_$ssl_tag
common=(--expdir "$expdir" --nj "$nj")
ssl_opts=("${common[@]}" --train_set train_960 --valid_set dev
    --ssl_config "$ssl_config" --ssl_tag "$ssl_tag" --ssl_args "$size_ssl_args $ssl_args"
    --units_set dev_clean --units_alignments "$MINI_CORPUS/alignments/librispeech/dev_clean.phn"
    --units_item "$MINI_CORPUS/abx/dev_clean.item"
    --units_args "--layers all --mfcc_k 64,100,256 --abx_slicing legacy --keep_features"
    --units_mfcc_fit_set train_960)
asr_opts=("${common[@]}" --train_set "$finetune_set" --valid_set dev
    --test_sets "test_clean test_other" --token_text data/train_10h/text
    --asr_config "$asr_config" --asr_args "$size_asr_args $asr_args" --pretrain_exp "$ssl_exp"
    --inference_nj 1 --inference_args "--batch_size 16 --num_workers 0"
    --use_lm "$use_lm" --lm_text "$MINI_CORPUS/lm/librispeech-lm-norm.txt" --lm_order 4
    --lm_weight_range "0 4 0.5" --word_score_range "-2 2 2" --tune_args "--beam 50")
tags=("dinosr_$size" "random_$size")
inits=(true false)

make_corpus() {
    "$PYTHON" -m dinosr_espnet.bin.make_corpus --size "$size" --seed "$seed" --nj "$nj" \
        --corpora librispeech,librilight --out "$MINI_CORPUS"
    # CI: too few speakers for ABX cells; one k-means restart keeps the stage short
    local restarts=20
    [ "$size" != ci ] || restarts=1
    "$PYTHON" local/corpus_difficulty.py --corpus "$MINI_CORPUS" --n_init "$restarts" \
        --out "$expdir/corpus_difficulty.json"
}

layer_kmeans() {
    "$PYTHON" local/layer_kmeans.py --units "$ssl_exp/units_dev_clean" --k 64 100 \
        --phones "$MINI_CORPUS/alignments/librispeech/dev_clean.phn"
}

install_kenlm() {
    "$MAIN_ROOT/utils/install_kenlm.sh" --install-deps \
        || die "KenLM could not be built (see above); ./run.sh --use_lm false runs without the LM"
}

# for_both FIRST LAST: asr.sh stages FIRST..LAST for the DinoSR init and for the random init
# side by side (one torch thread each: the 2 cores are used without contention).
for_both() {
    local i pids=() rc=0
    for i in 0 1; do
        ./asr.sh "${asr_opts[@]}" --stage "$1" --stop_stage "$2" --asr_tag "${tags[$i]}" \
            --init_from_pretrain "${inits[$i]}" &
        pids+=($!)
    done
    for i in 0 1; do wait "${pids[$i]}" || rc=1; done
    [ "$rc" -eq 0 ] || die "asr.sh stages $1-$2 failed for one of the inits (see above)"
}

summary() {
    "$PYTHON" local/summary.py --dumpdir dump --sets "dev test_clean test_other" \
        --dinosr "$expdir/asr_${tags[0]}" --random "$expdir/asr_${tags[1]}" \
        --units "$ssl_exp/units_dev_clean" --difficulty "$expdir/corpus_difficulty.json" \
        --times "$stage_times" --size "$size" \
        --elapsed "$((SECONDS - run_start))" --out "$expdir/summary.md"
}

run_start=$SECONDS
run_stage 1 corpus "$expdir/log/mini_stage1_corpus.log" "" "" make_corpus
if in_range 2; then ./ssl.sh "${ssl_opts[@]}" --stage 1 --stop_stage 4; fi
if [ "$use_lm" = true ]; then
    run_stage 3 kenlm "$expdir/log/mini_stage3_kenlm.log" "" "" install_kenlm
    if in_range 3; then ./asr.sh "${asr_opts[@]}" --stage 6 --stop_stage 6 --asr_tag "${tags[0]}"; fi
fi
if in_range 4; then ./asr.sh "${asr_opts[@]}" --stage 1 --stop_stage 3 --asr_tag "${tags[0]}"; fi
if in_range 5; then for_both 4 4; fi
if in_range 6; then for_both 5 8; fi
if in_range 7; then ./ssl.sh "${ssl_opts[@]}" --stage 5 --stop_stage 5; fi
run_stage 7 layer_kmeans "$expdir/log/mini_stage7_layer_kmeans.log" "" "" layer_kmeans
run_stage 8 summary "$expdir/log/mini_stage8_summary.log" "" "" summary
if in_range 8; then cat "$expdir/summary.md"; fi
log "$0: done in $((SECONDS - run_start)) s"
