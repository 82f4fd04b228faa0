"""Key mapping against the real module: every key mapped, every fairseq key consumed."""
from __future__ import annotations

import copy

import pytest
import torch

from dinosr_espnet.interop import key_map
from dinosr_espnet.interop.fairseq_config import config_from_fairseq
from dinosr_espnet.model import DinoSR, DinoSRConfig
from fairseq_writer import MODEL_CFG, NUM_UPDATES


def _reference(cfg: DinoSRConfig) -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        return DinoSR(cfg).state_dict()


def _spec_base_keys() -> set[str]:
    """The released BASE key list, written out from spec §9."""
    keys = {"mask_emb", "layer_norm.weight", "layer_norm.bias", "post_extract_proj.weight",
            "post_extract_proj.bias", "encoder.layer_norm.weight", "encoder.layer_norm.bias"}
    for i in range(7):
        keys |= {f"feature_extractor.conv_layers.{i}.0.weight",
                 f"feature_extractor.conv_layers.{i}.2.1.weight",
                 f"feature_extractor.conv_layers.{i}.2.1.bias"}
    layer_parts = [f"self_attn.{p}_proj" for p in "qkv"] + [
        "self_attn.out_proj", "self_attn_layer_norm", "fc1", "fc2", "final_layer_norm"]
    for prefix in ("encoder.", "_ema."):
        keys |= {f"{prefix}pos_conv.{j}.0.{w}" for j in range(5) for w in ("weight", "bias")}
        keys |= {f"{prefix}layers.{i}.{part}.{w}" for i in range(12) for part in layer_parts
                 for w in ("weight", "bias")}
    keys |= {"_ema.layer_norm.weight", "_ema.layer_norm.bias"}
    keys |= {f"heads.{k}.{w}" for k in range(8) for w in ("weight", "bias")}
    keys |= {f"_codebook{k}" for k in range(8)} | {f"_codebook_cnts{k}" for k in range(8)}
    return keys


def test_every_model_key_maps_to_the_spec_base_layout():
    reference = _reference(DinoSRConfig())
    del reference["num_updates"]  # a meta tensor has no value; it goes to optimizer_history
    fairseq_sd, _ = key_map.to_fairseq(reference, num_codebooks=8)
    flat = {k for k in fairseq_sd if k != "_ema"} | {f"_ema.{k}" for k in fairseq_sd["_ema"]}
    assert flat == _spec_base_keys()


def test_unmapped_model_key_fails_loudly():
    with pytest.raises(ValueError, match="'encoder.layers.0.new_gate.weight'"):
        key_map.fairseq_location("encoder.layers.0.new_gate.weight")
    state = dict(_reference(DinoSRConfig()))
    state["extra_module.weight"] = torch.zeros(1, device="meta")
    with pytest.raises(ValueError, match="extra_module.weight"):
        key_map.to_fairseq(state, num_codebooks=8)


def test_import_fills_every_key_with_fp32(fairseq_ckpt):
    cfg = config_from_fairseq(MODEL_CFG)
    reference = _reference(cfg)
    out = key_map.from_fairseq(fairseq_ckpt["model"], reference, NUM_UPDATES)
    assert set(out) == set(reference)
    model = fairseq_ckpt["model"]
    assert torch.equal(out["encoder.pos_conv.1.conv.weight"],
                       model["encoder.pos_conv.1.0.weight"].float())
    assert torch.equal(out["teacher.encoder.layers.2.fc1.bias"], model["_ema"]["layers.2.fc1.bias"])
    assert torch.equal(out["post_extract_norm.weight"], model["layer_norm.weight"].float())
    assert torch.equal(out["codebooks.sums"][1], model["_codebook1"])
    assert torch.equal(out["codebooks.counts"][0], model["_codebook_cnts0"])
    assert out["feature_extractor.conv_layers.2.norm.bias"].dtype == torch.float32
    assert out["num_updates"].item() == NUM_UPDATES and out["num_updates"].dtype == torch.long


def _sd(fairseq_ckpt):
    return copy.deepcopy(fairseq_ckpt["model"])


def _import(sd):
    return key_map.from_fairseq(sd, _reference(config_from_fairseq(MODEL_CFG)), 0)


def test_unknown_student_key_is_named(fairseq_ckpt):
    sd = _sd(fairseq_ckpt)
    sd["final_proj.weight"] = torch.zeros(3)
    with pytest.raises(ValueError, match="final_proj.weight"):
        _import(sd)


def test_unknown_teacher_key_is_named(fairseq_ckpt):
    sd = _sd(fairseq_ckpt)
    sd["_ema"]["layers.0.extra.weight"] = torch.zeros(3)
    with pytest.raises(ValueError, match=r"_ema\.layers\.0\.extra\.weight"):
        _import(sd)


@pytest.mark.parametrize("key", ["encoder.layers.1.fc2.bias", "_codebook_cnts1", "mask_emb",
                                 "feature_extractor.conv_layers.0.2.1.weight"])
def test_missing_key_is_named(fairseq_ckpt, key):
    sd = _sd(fairseq_ckpt)
    del sd[key]
    with pytest.raises(ValueError, match=f"lacks key '{key}'"):
        _import(sd)


def test_missing_teacher_key_is_named(fairseq_ckpt):
    sd = _sd(fairseq_ckpt)
    del sd["_ema"]["pos_conv.0.0.bias"]
    with pytest.raises(ValueError, match=r"'_ema\.pos_conv\.0\.0\.bias'"):
        _import(sd)


def test_shape_mismatch_is_named(fairseq_ckpt):
    sd = _sd(fairseq_ckpt)
    sd["heads.1.weight"] = torch.zeros(9, 32, dtype=torch.float16)
    with pytest.raises(ValueError, match=r"'heads.1.weight' has shape \(9, 32\)"):
        _import(sd)


def test_fp16_codebooks_are_accepted(fairseq_ckpt):
    sd = _sd(fairseq_ckpt)
    sd["_codebook0"] = sd["_codebook0"].half()
    out = _import(sd)
    assert out["codebooks.sums"].dtype == torch.float32
    assert torch.equal(out["codebooks.sums"][0], sd["_codebook0"].float())
