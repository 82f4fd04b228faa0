"""Test helper: DinoSR forward written directly on fairseq tensors with functional ops.

Independent of ``dinosr_espnet.model``: it reads the fairseq key names and re-implements the
released computation (spec §3) with ``conv1d``, ``layer_norm``, ``gelu``, ``linear``, a
hand-written multi-head attention, ``instance_norm`` and a nearest-centroid search.
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch.nn import functional as F

from fairseq_writer import (
    CONV_LAYERS, DIM, HEADS, LAYERS, N_CODEBOOKS, POS_DEPTH, POS_GROUPS, POS_KERNEL,
)

EPS = 1e-5


def _f32(sd: Mapping[str, torch.Tensor], prefix: str = "") -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v.float() for k, v in sd.items()
            if torch.is_tensor(v) and k.startswith(prefix)}


def features(model: Mapping[str, torch.Tensor], wav: torch.Tensor) -> torch.Tensor:
    """CNN → LayerNorm → projection: (B, L) → (B, T, D)."""
    w = _f32(model)
    x = wav.unsqueeze(1)
    for i, (ch, _, stride) in enumerate(CONV_LAYERS):
        x = F.conv1d(x, w[f"feature_extractor.conv_layers.{i}.0.weight"], stride=stride)
        norm = f"feature_extractor.conv_layers.{i}.2.1."
        x = F.layer_norm(x.transpose(1, 2), (ch,), w[norm + "weight"], w[norm + "bias"],
                         EPS).transpose(1, 2)
        x = F.gelu(x)
    x = x.transpose(1, 2)
    x = F.layer_norm(x, (x.shape[-1],), w["layer_norm.weight"], w["layer_norm.bias"], EPS)
    return F.linear(x, w["post_extract_proj.weight"], w["post_extract_proj.bias"])


def _attention(x: torch.Tensor, w: Mapping[str, torch.Tensor], p: str) -> torch.Tensor:
    b, t, d = x.shape
    hd = d // HEADS

    def split(name: str) -> torch.Tensor:
        y = F.linear(x, w[p + f"self_attn.{name}.weight"], w[p + f"self_attn.{name}.bias"])
        return y.reshape(b, t, HEADS, hd).permute(0, 2, 1, 3)

    q, k, v = split("q_proj"), split("k_proj"), split("v_proj")
    weights = torch.softmax(q @ k.transpose(-1, -2) / hd ** 0.5, dim=-1)
    y = (weights @ v).permute(0, 2, 1, 3).reshape(b, t, d)
    return F.linear(y, w[p + "self_attn.out_proj.weight"], w[p + "self_attn.out_proj.bias"])


def encoder(enc: Mapping[str, torch.Tensor], x: torch.Tensor
            ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """fairseq post-LN encoder (relative keys): (hidden states K+1, FFN outputs K)."""
    w = _f32(enc)
    h = x.transpose(1, 2)
    for j in range(POS_DEPTH):
        h = F.conv1d(h, w[f"pos_conv.{j}.0.weight"], w[f"pos_conv.{j}.0.bias"],
                     padding=POS_KERNEL // 2, groups=POS_GROUPS)
        h = F.gelu(F.layer_norm(h.transpose(1, 2), (DIM,), eps=EPS).transpose(1, 2))
    x = x + h.transpose(1, 2)
    x = F.layer_norm(x, (DIM,), w["layer_norm.weight"], w["layer_norm.bias"], EPS)
    hidden, ffn = [x], []
    for i in range(LAYERS):
        p = f"layers.{i}."
        x = F.layer_norm(x + _attention(x, w, p), (DIM,), w[p + "self_attn_layer_norm.weight"],
                         w[p + "self_attn_layer_norm.bias"], EPS)
        f = F.linear(F.gelu(F.linear(x, w[p + "fc1.weight"], w[p + "fc1.bias"])),
                     w[p + "fc2.weight"], w[p + "fc2.bias"])
        x = F.layer_norm(x + f, (DIM,), w[p + "final_layer_norm.weight"],
                         w[p + "final_layer_norm.bias"], EPS)
        hidden.append(x)
        ffn.append(f)
    return hidden, ffn


def codeword_indices(model: Mapping, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher targets: (N, B, T) nearest-centroid indices and the (N, B, T) distance margin
    between the second-nearest and the nearest centroid (to rule out near-ties)."""
    _, ffn = encoder(model["_ema"], feats)
    indices, margins = [], []
    for k in range(N_CODEBOOKS):
        z = F.instance_norm(ffn[LAYERS - N_CODEBOOKS + k].transpose(1, 2), eps=EPS).transpose(1, 2)
        centroids = model[f"_codebook{k}"].float() / model[f"_codebook_cnts{k}"].float()[:, None]
        dist = torch.cdist(z, centroids.expand(z.shape[0], -1, -1))
        top = dist.topk(2, dim=-1, largest=False)
        indices.append(top.indices[..., 0])
        margins.append(top.values[..., 1] - top.values[..., 0])
    return torch.stack(indices), torch.stack(margins)


def masked_prediction_loss(model: Mapping, wav: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 4: mean over masked frames of (1/N) Σ_k −log p_k(target), no dropout."""
    feats = features(model, wav)
    targets, _ = codeword_indices(model, feats)
    student_in = torch.where(mask.unsqueeze(-1), model["mask_emb"].float(), feats)
    hidden, _ = encoder(_f32(model, "encoder."), student_in)
    total = torch.zeros(())
    for k in range(N_CODEBOOKS):
        logits = F.linear(hidden[-1], model[f"heads.{k}.weight"].float(),
                          model[f"heads.{k}.bias"].float())
        total = total + F.cross_entropy(logits[mask], targets[k][mask], reduction="sum")
    return total / N_CODEBOOKS / mask.sum()
