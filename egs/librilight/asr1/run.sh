#!/usr/bin/env bash
# CTC fine-tuning of the LibriSpeech-pretrained DinoSR on Libri-light limited supervision and
# LibriSpeech train-clean-100 (spec §7); WER on dev/test clean/other with Viterbi and with the
# 4-gram LM (lm_weight/word_score tuned on dev_other only). Set LIBRISPEECH and
# LIBRILIGHT_LIMITED in db.sh; the pretrained model comes from ../../librispeech/ssl1. E.g.
#   ./run.sh --lm_arpa /data/openslr11/4-gram.arpa.gz --ngpu 1                    # 10 h
#   ./run.sh --train_set train_10min --asr_config conf/finetune_10m.yaml --lm_arpa ...
#   ./run.sh --train_set train_1h --asr_config conf/finetune_1h.yaml --lm_arpa ...
#   ./run.sh --train_set train_100h --asr_config conf/finetune_100h.yaml --lm_arpa ...
# Stages and every option: ./run.sh --help
set -euo pipefail
cd "$(dirname "$0")"

./asr.sh \
    --train_set train_10h \
    --valid_set dev_other \
    --test_sets "dev_clean dev_other test_clean test_other" \
    --token_text data/train_10h/text \
    --asr_config conf/finetune_10h.yaml \
    --pretrain_exp ../../librispeech/ssl1/exp/ssl_pretrain_base \
    --metric wer \
    "$@"
