"""Test helper: a small random checkpoint in the released fairseq layout (spec §9).

Written from the documented layout alone (key names and shapes of fairseq's modules), not
from our model or ``interop.key_map``, so the importer is checked against an independent
description. Student tensors are fp16 (as released); the teacher ``_ema`` is fp32 and drawn
independently of the student (so a student/teacher mix-up cannot go unnoticed); codebooks are
fp32 EMA sums with non-unit counts (so sums and centroids differ).
"""
from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch

CONV_LAYERS = [(16, 10, 5), (16, 3, 2), (16, 3, 2)]
DIM, FFN, HEADS, LAYERS = 32, 64, 4, 3
POS_DEPTH, POS_KERNEL, POS_GROUPS = 2, 5, 4
N_CODEBOOKS, V = 2, 8
NUM_UPDATES = 123456

# Every field the official code writes (release values, small sizes), typed in here
# independently of the exporter's template.
MODEL_CFG: dict[str, Any] = {
    "_name": "dinosr",
    "extractor_mode": "layer_norm",
    "encoder_layers": LAYERS,
    "encoder_embed_dim": DIM,
    "encoder_ffn_embed_dim": FFN,
    "encoder_attention_heads": HEADS,
    "activation_fn": "gelu",
    "layer_type": "transformer",
    "dropout": 0.1,
    "attention_dropout": 0.1,
    "activation_dropout": 0.0,
    "encoder_layerdrop": 0.05,
    "dropout_input": 0.0,
    "dropout_features": 0.0,
    "final_dim": 0,
    "layer_norm_first": False,
    "conv_feature_layers": "[(16, 10, 5)] + [(16, 3, 2)] * 2",
    "conv_bias": False,
    "logit_temp": 0.1,
    "quantize_targets": False,
    "quantize_input": False,
    "same_quantizer": False,
    "target_glu": False,
    "feature_grad_mult": 1.0,
    "quantizer_depth": 1,
    "quantizer_factor": 3,
    "latent_vars": 320,
    "latent_groups": 2,
    "latent_dim": 0,
    "mask_length": 10,
    "mask_prob": 0.8,
    "mask_selection": "static",
    "mask_other": 0.0,
    "no_mask_overlap": False,
    "mask_min_space": 1,
    "require_same_masks": True,
    "mask_dropout": 0.0,
    "mask_channel_length": 10,
    "mask_channel_prob": 0.0,
    "mask_channel_before": False,
    "mask_channel_selection": "static",
    "mask_channel_other": 0.0,
    "no_mask_channel_overlap": False,
    "mask_channel_min_space": 1,
    "num_negatives": 100,
    "negatives_from_everywhere": False,
    "cross_sample_negatives": 0,
    "codebook_negatives": 0,
    "conv_pos": POS_KERNEL * POS_DEPTH,
    "conv_pos_groups": POS_GROUPS,
    "pos_conv_depth": POS_DEPTH,
    "latent_temp": [2.0, 0.5, 0.999995],
    "max_positions": 100000,
    "checkpoint_activations": False,
    "required_seq_len_multiple": 2,
    "crop_seq_to_multiple": 1,
    "depthwise_conv_kernel_size": 31,
    "attn_type": "",
    "pos_enc_type": "abs",
    "fp16": True,
    "discrete": True,
    "codebook_size": V,
    "normal_init_codebook": False,
    "codebook_init_decay": 0.9,
    "codebook_end_decay": 0.9,
    "codebook_end_decay_step": 0,
    "freeze_teacher_step": 200001,
    "freeze_pre_enc_modules": True,
    "loss_beta": 0.0,
    "loss_scale": None,
    "average_top_k_layers": N_CODEBOOKS,
    "layer_norm_target_layer": False,
    "instance_norm_target_layer": True,
    "instance_norm_targets": False,
    "layer_norm_targets": False,
    "batch_norm_target_layer": False,
    "group_norm_target_layer": False,
    "ema_decay": 0.999,
    "ema_end_decay": 0.9999,
    "ema_anneal_end_step": 30000,
    "ema_transformer_only": True,
    "ema_layers_only": True,
    "max_update": 250000,  # differs from the release: must survive the round trip
    "min_target_var": 0.1,
    "min_pred_var": 0.01,
}
TASK_CFG: dict[str, Any] = {
    "_name": "audio_pretraining",
    "data": "/path/to/manifests",
    "labels": None,
    "binarized_dataset": False,
    "sample_rate": 16000,
    "normalize": True,
    "enable_padding": False,
    "max_sample_size": 320000,
    "min_sample_size": 16000,  # idem
    "num_batch_buckets": 0,
    "precompute_mask_indices": False,
}


def _encoder_tensors(gen: torch.Generator) -> dict[str, torch.Tensor]:
    """fairseq ``TransformerEncoder`` keys (relative), random fp32."""
    def rnd(*shape: int, scale: float = 1.0, offset: float = 0.0) -> torch.Tensor:
        return torch.randn(*shape, generator=gen) * scale + offset

    t: dict[str, torch.Tensor] = {}
    for j in range(POS_DEPTH):
        fan_in = DIM // POS_GROUPS * POS_KERNEL
        t[f"pos_conv.{j}.0.weight"] = rnd(DIM, DIM // POS_GROUPS, POS_KERNEL, scale=fan_in ** -0.5)
        t[f"pos_conv.{j}.0.bias"] = rnd(DIM, scale=0.1)
    t["layer_norm.weight"] = rnd(DIM, scale=0.1, offset=1.0)
    t["layer_norm.bias"] = rnd(DIM, scale=0.1)
    for i in range(LAYERS):
        p = f"layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            t[p + f"self_attn.{proj}.weight"] = rnd(DIM, DIM, scale=DIM ** -0.5)
            t[p + f"self_attn.{proj}.bias"] = rnd(DIM, scale=0.1)
        t[p + "self_attn_layer_norm.weight"] = rnd(DIM, scale=0.1, offset=1.0)
        t[p + "self_attn_layer_norm.bias"] = rnd(DIM, scale=0.1)
        t[p + "fc1.weight"] = rnd(FFN, DIM, scale=DIM ** -0.5)
        t[p + "fc1.bias"] = rnd(FFN, scale=0.1)
        t[p + "fc2.weight"] = rnd(DIM, FFN, scale=FFN ** -0.5)
        t[p + "fc2.bias"] = rnd(DIM, scale=0.1)
        t[p + "final_layer_norm.weight"] = rnd(DIM, scale=0.1, offset=1.0)
        t[p + "final_layer_norm.bias"] = rnd(DIM, scale=0.1)
    return t


def make_fairseq_checkpoint(seed: int = 0) -> dict[str, Any]:
    """A complete fairseq-style checkpoint dict (top level as fairseq's trainer saves it)."""
    gen = torch.Generator().manual_seed(seed)
    model: dict[str, Any] = {"mask_emb": torch.rand(DIM, generator=gen).half()}
    in_ch = 1
    for i, (ch, k, _) in enumerate(CONV_LAYERS):
        model[f"feature_extractor.conv_layers.{i}.0.weight"] = (
            torch.randn(ch, in_ch, k, generator=gen) * (2.0 / (in_ch * k)) ** 0.5).half()
        model[f"feature_extractor.conv_layers.{i}.2.1.weight"] = (
            1.0 + 0.1 * torch.randn(ch, generator=gen)).half()
        model[f"feature_extractor.conv_layers.{i}.2.1.bias"] = (
            0.1 * torch.randn(ch, generator=gen)).half()
        in_ch = ch
    model["layer_norm.weight"] = (1.0 + 0.1 * torch.randn(in_ch, generator=gen)).half()
    model["layer_norm.bias"] = (0.1 * torch.randn(in_ch, generator=gen)).half()
    model["post_extract_proj.weight"] = (torch.randn(DIM, in_ch, generator=gen)
                                         * in_ch ** -0.5).half()
    model["post_extract_proj.bias"] = (0.1 * torch.randn(DIM, generator=gen)).half()
    student = _encoder_tensors(gen)
    for name, value in student.items():
        model["encoder." + name] = value.half()
    for k in range(N_CODEBOOKS):
        model[f"heads.{k}.weight"] = (torch.randn(V, DIM, generator=gen) * DIM ** -0.5).half()
        model[f"heads.{k}.bias"] = (0.1 * torch.randn(V, generator=gen)).half()
        counts = 0.5 + 3.0 * torch.rand(V, generator=gen)
        model[f"_codebook{k}"] = torch.randn(V, DIM, generator=gen) * counts[:, None]
        model[f"_codebook_cnts{k}"] = counts
    model["_ema"] = _encoder_tensors(gen)  # an independent draw: differs in every tensor
    return {
        "args": None,
        "cfg": {
            "_name": None,
            "common": {"fp16": True, "seed": 1},
            "model": dict(MODEL_CFG),
            "task": dict(TASK_CFG),
        },
        "model": model,
        "criterion": None,
        "optimizer_history": [
            {"criterion_name": "ModelCriterion", "optimizer_name": "FairseqAdam",
             "lr_scheduler_state": {"best": None}, "num_updates": NUM_UPDATES - 1000},
            {"criterion_name": "ModelCriterion", "optimizer_name": "FairseqAdam",
             "lr_scheduler_state": {"best": None}, "num_updates": NUM_UPDATES},
        ],
        "task_state": {},
        "extra_state": {
            "train_iterator": {"epoch": 3, "iterations_in_epoch": 17, "shuffle": True},
            "metrics": {"train": [("loss", "AverageMeter", {"val": np.float64(1.25),
                                                             "count": np.int64(7)})]},
            "previous_training_time": 123.4,
            "legacy_args": argparse.Namespace(normalize=True),
        },
        "last_optimizer_state": {"state": {0: {"exp_avg": torch.zeros(3)}}, "param_groups": []},
    }
