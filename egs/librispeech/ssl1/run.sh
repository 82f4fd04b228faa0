#!/usr/bin/env bash
# DinoSR BASE pretraining on LibriSpeech 960 h (spec §5), validated on dev (clean + other).
# Set LIBRISPEECH in db.sh, then e.g.
#   ./run.sh --ngpu 8                                   # one node, 8 GPUs (DDP)
#   ./run.sh --cmd_backend slurm --ngpu 8 --num_nodes 2 # Slurm, 2 nodes x 8 GPUs
# Stages and every option: ./run.sh --help
set -euo pipefail
cd "$(dirname "$0")"

./ssl.sh \
    --train_set train_960 \
    --valid_set dev \
    --ssl_config conf/pretrain_base.yaml \
    --units_set dev_clean \
    "$@"
