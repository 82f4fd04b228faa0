"""DinoSRConfig: BASE defaults, CNN frame formula, validation messages (spec §3)."""
import pytest
import torch

from dinosr_espnet.model import DinoSRConfig


def frames_by_hand(n: int) -> int:
    # BASE: (10,5), (3,2)x4, (2,2)x2, floor((L - k) / s) + 1 per layer.
    for k, s in [(10, 5)] + [(3, 2)] * 4 + [(2, 2)] * 2:
        n = (n - k) // s + 1
    return n


def test_base_defaults():
    cfg = DinoSRConfig()
    assert cfg.conv_layers == [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2
    assert (cfg.embed_dim, cfg.ffn_dim, cfg.num_heads, cfg.num_layers) == (768, 3072, 12, 12)
    assert (cfg.num_codebooks, cfg.codebook_size, cfg.codebook_decay) == (8, 256, 0.9)
    assert cfg.receptive_field == 400
    assert cfg.conv_stride == 320
    assert cfg.target_layers == [4, 5, 6, 7, 8, 9, 10, 11]


@pytest.mark.parametrize("samples,frames", [(400, 1), (401, 1), (16000, 49), (16319, 50),
                                            (16400, 51)])
def test_num_frames(samples, frames):
    cfg = DinoSRConfig()
    assert frames_by_hand(samples) == frames
    assert cfg.num_frames(samples) == frames
    assert cfg.num_frames(torch.tensor([samples])).tolist() == [frames]


def test_too_short_input_has_no_frames():
    cfg = DinoSRConfig()
    assert cfg.num_frames(399) == 0
    assert cfg.num_frames(torch.tensor([0, 399, 400])).tolist() == [0, 0, 1]


def test_round_trip_and_yaml_lists():
    cfg = DinoSRConfig.from_dict({"conv_layers": [[32, 10, 5], [32, 3, 2]], "embed_dim": 64,
                                  "num_heads": 4, "pos_conv_groups": 4, "dropout": 0.1})
    assert cfg.conv_layers == [(32, 10, 5), (32, 3, 2)]
    assert cfg.dropout == pytest.approx(0.1)
    assert cfg.receptive_field == 10 + 2 * 5
    assert DinoSRConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("bad,key", [
    ({"not_a_key": 1}, "not_a_key"),
    ({"num_codebooks": 13}, "num_codebooks"),
    ({"codebook_size": 1}, "codebook_size"),
    ({"codebook_decay": 1.0}, "codebook_decay"),
    ({"codebook_decay": -0.1}, "codebook_decay"),
    ({"mask_length": 0}, "mask_length"),
    ({"num_heads": 7}, "num_heads"),
    ({"pos_conv_groups": 5}, "pos_conv_groups"),
    ({"pos_conv_kernel": 18}, "pos_conv_kernel"),
    ({"codebook_update": "kmeans"}, "codebook_update"),
    ({"codebook_init": "zeros"}, "codebook_init"),
    ({"ema_decay_end": 1.5}, "ema_decay_end"),
    ({"num_layers": 2.5}, "num_layers"),
    ({"conv_layers": [[512, 10]]}, "conv_layers"),
    ({"freeze_feature_extractor_after": -1}, "freeze_feature_extractor_after"),
    ({"dropout": "0.1"}, r"'dropout' must be a number, got '0\.1' \(a quoted number is text"),
    ({"target_norm_eps": "1e-5"}, r"'target_norm_eps'.*got '1e-5' \(YAML reads 1e-5 as text: "
                                  r"write it with a decimal point, e\.g\. 1\.0e-5\)"),
    ({"num_layers": "12"}, r"'num_layers' must be an int, got '12'"),
    ({"mask_equalize": "true"}, "mask_equalize"),
    ({"dropout": float("nan")}, "dropout"),
])
def test_bad_config_names_key(bad, key):
    """(Also strings that look like numbers: they are errors, never converted.)"""
    with pytest.raises(ValueError, match=key):
        DinoSRConfig.from_dict(bad)
