"""fairseq cfg['model'] ↔ DinoSRConfig, and the safe conv_feature_layers parser."""
from __future__ import annotations

import logging

import pytest

from dinosr_espnet.interop.fairseq_config import (
    config_from_fairseq, config_to_fairseq, format_conv_feature_layers, parse_conv_feature_layers,
)
from dinosr_espnet.model.config import DinoSRConfig
from fairseq_writer import MODEL_CFG

BASE_STRING = "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]"
BASE_LAYERS = [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2


def test_parse_base_string():
    assert parse_conv_feature_layers(BASE_STRING) == BASE_LAYERS
    assert parse_conv_feature_layers("2 * [(4, 3, 1)]") == [(4, 3, 1), (4, 3, 1)]
    assert parse_conv_feature_layers([[8, 2, 2]]) == [(8, 2, 2)]


def test_format_then_parse_round_trips():
    text = format_conv_feature_layers(BASE_LAYERS)
    assert text == "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2"
    assert parse_conv_feature_layers(text) == BASE_LAYERS


@pytest.mark.parametrize("text", [
    "__import__('os').system('touch x')",
    "[(512, 10, 5)] + open('f')",
    "[(512, 10, 5)] * (10 ** 9)",
    "[(512, 10, 5)] * 100000",
    "[(512, 10)]",
    "[(512, 10, 5.0)]",
    "[(512, 10, 5)] - [(1, 1, 1)]",
    "[x for x in range(3)]",
    "[(512, 10, 5)",
    "[]",
])
def test_parse_rejects_anything_else(text):
    with pytest.raises(ValueError, match="conv_feature_layers"):
        parse_conv_feature_layers(text)


def test_release_base_config_maps_to_our_defaults():
    base = {
        "conv_feature_layers": BASE_STRING, "encoder_embed_dim": 768,
        "encoder_ffn_embed_dim": 3072, "encoder_attention_heads": 12, "encoder_layers": 12,
        "conv_pos": 95, "conv_pos_groups": 16, "pos_conv_depth": 5, "conv_bias": False,
        "dropout": 0.1, "attention_dropout": 0.1, "activation_dropout": 0.0,
        "dropout_input": 0.0, "encoder_layerdrop": 0.05, "mask_prob": 0.8, "mask_length": 10,
        "require_same_masks": True, "average_top_k_layers": 8, "codebook_size": 256,
        "codebook_end_decay": 0.9, "ema_decay": 0.999, "ema_end_decay": 0.9999,
        "ema_anneal_end_step": 30000, "freeze_teacher_step": 200001,
        "freeze_pre_enc_modules": True, "extractor_mode": "layer_norm",
    }
    cfg = config_from_fairseq(base)
    assert cfg == DinoSRConfig()  # kernel 95 // 5 = 19, last EMA step 200000, no real freeze
    assert cfg.pos_conv_kernel == 19 and cfg.ema_last_update == 200000


def test_small_config_mapping():
    cfg = config_from_fairseq(MODEL_CFG)
    assert cfg.conv_layers == [(16, 10, 5), (16, 3, 2), (16, 3, 2)]
    assert (cfg.embed_dim, cfg.ffn_dim, cfg.num_heads, cfg.num_layers) == (32, 64, 4, 3)
    assert (cfg.pos_conv_depth, cfg.pos_conv_kernel, cfg.pos_conv_groups) == (2, 5, 4)
    assert (cfg.num_codebooks, cfg.codebook_size, cfg.target_layers) == (2, 8, [1, 2])
    assert cfg.freeze_feature_extractor_after is None


def test_export_then_import_config_round_trips():
    cfg = DinoSRConfig.from_dict({**config_from_fairseq(MODEL_CFG).to_dict(),
                                  "codebook_init": "normal", "mask_equalize": False,
                                  "ema_last_update": 5000, "layerdrop": 0.2})
    assert config_from_fairseq(config_to_fairseq(cfg)) == cfg


@pytest.mark.parametrize("key,value", [
    ("layer_norm_first", True), ("extractor_mode", "default"), ("activation_fn", "relu"),
    ("instance_norm_target_layer", False), ("layer_norm_target_layer", True),
])
def test_unsupported_architecture_is_an_error_naming_the_key(key, value):
    with pytest.raises(ValueError, match=f"'{key}'"):
        config_from_fairseq({**MODEL_CFG, key: value})


def test_weight_norm_positional_conv_is_rejected():
    with pytest.raises(ValueError, match="pos_conv_depth"):
        config_from_fairseq({**MODEL_CFG, "pos_conv_depth": 1, "conv_pos": 128})


def test_invalid_value_names_the_key():
    with pytest.raises(ValueError, match="num_heads"):
        config_from_fairseq({**MODEL_CFG, "encoder_attention_heads": 5})


def test_training_only_difference_warns(caplog):
    with caplog.at_level(logging.WARNING):
        cfg = config_from_fairseq({**MODEL_CFG, "mask_channel_prob": 0.3})
    assert cfg == config_from_fairseq(MODEL_CFG)
    assert "mask_channel_prob" in caplog.text


def test_missing_key_takes_base_value_with_warning(caplog):
    partial = {k: v for k, v in MODEL_CFG.items() if k != "dropout"}
    with caplog.at_level(logging.WARNING):
        cfg = config_from_fairseq(partial)
    assert cfg.dropout == 0.1 and "dropout" in caplog.text


def test_export_rejects_kernel_below_three():
    cfg = DinoSRConfig(pos_conv_kernel=1)
    with pytest.raises(ValueError, match="pos_conv_kernel"):
        config_to_fairseq(cfg)
