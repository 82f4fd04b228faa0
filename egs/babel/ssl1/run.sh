#!/usr/bin/env bash
# Multilingual DinoSR pretraining on 10 BABEL languages (spec §7: 200k updates, 16 min of
# audio per update; otherwise the BASE settings of conf/pretrain_base.yaml). The languages are
# the `pretrain` group of conf/babel_languages.yaml; set BABEL_ROOT (or BABEL_<id>) in db.sh.
#   ./run.sh --ngpu 8                                    # one node, 8 GPUs
#   ./run.sh --cmd_backend slurm --ngpu 8 --num_nodes 2  # Slurm
# Stages and every option: ./run.sh --help
set -euo pipefail
cd "$(dirname "$0")"

# 16 min = 15.36M samples per update (global batch); 200k updates = 40 epochs x 5000.
# (A --ssl_args given to run.sh replaces these: repeat them in it.)
babel_args="--batch_bins 15360000 --valid_batch_bins 15360000"
babel_args+=" --max_epoch 40 --scheduler_conf max_steps=200000"
./ssl.sh \
    --train_set train_multilingual \
    --valid_set dev_multilingual \
    --ssl_config conf/pretrain_base.yaml \
    --ssl_tag babel \
    --ssl_args "$babel_args" \
    "$@"
