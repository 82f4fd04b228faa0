"""State-dict key mapping between our ``DinoSR`` and the released fairseq layout (spec §9).

Every key of our state dict is mapped by one rule below; a key without a rule is a
``ValueError`` (so a renamed sub-module fails loudly instead of being skipped). On import every
fairseq key must be consumed and shapes must match; on export every one of ours must be.

fairseq layout: the student's tensors at the top level of ``model`` (fp16 in the release);
the teacher encoder in the nested dict ``model["_ema"]`` (fp32); codebook k in
``_codebook{k}`` (V×D EMA sums) and ``_codebook_cnts{k}`` (V counts), paired with teacher layer
(K−N)+k — the same order as our ``codebooks.sums[k]`` / ``codebooks.counts[k]``.
"""
from __future__ import annotations

import re
from typing import Mapping, Optional, Sequence

import torch

EMA_KEY = "_ema"

# Our encoder-relative key → fairseq encoder-relative key (student "encoder.", teacher "_ema").
_ENCODER_RULES = [
    (re.compile(r"pos_conv\.(\d+)\.conv\.(weight|bias)"), r"pos_conv.\1.0.\2"),
    (re.compile(r"layer_norm\.(weight|bias)"), r"layer_norm.\1"),
    (re.compile(r"layers\.(\d+)\.(self_attn\.[qkv]_proj|self_attn\.out_proj|self_attn_layer_norm"
                r"|fc1|fc2|final_layer_norm)\.(weight|bias)"), r"layers.\1.\2.\3"),
]
# Our student key → fairseq top-level key.
_STUDENT_RULES = [
    (re.compile(r"mask_emb"), "mask_emb"),
    (re.compile(r"feature_extractor\.conv_layers\.(\d+)\.conv\.(weight|bias)"),
     r"feature_extractor.conv_layers.\1.0.\2"),
    (re.compile(r"feature_extractor\.conv_layers\.(\d+)\.norm\.(weight|bias)"),
     r"feature_extractor.conv_layers.\1.2.1.\2"),
    (re.compile(r"post_extract_norm\.(weight|bias)"), r"layer_norm.\1"),
    (re.compile(r"post_extract_proj\.(weight|bias)"), r"post_extract_proj.\1"),
    (re.compile(r"heads\.(\d+)\.(weight|bias)"), r"heads.\1.\2"),
]
CODEBOOK_SUMS, CODEBOOK_COUNTS, NUM_UPDATES = "codebooks.sums", "codebooks.counts", "num_updates"
_SPECIAL = (CODEBOOK_SUMS, CODEBOOK_COUNTS, NUM_UPDATES)


def _apply(rules: Sequence[tuple[re.Pattern, str]], key: str) -> Optional[str]:
    for pattern, template in rules:
        if pattern.fullmatch(key):
            return pattern.sub(template, key)
    return None


def fairseq_location(key: str) -> tuple[bool, str]:
    """``(in_ema, fairseq_key)`` of one of our (non-codebook) keys; ``ValueError`` if unmapped."""
    if key.startswith("teacher.encoder."):
        mapped = _apply(_ENCODER_RULES, key[len("teacher.encoder."):])
        if mapped is not None:
            return True, mapped
    elif key.startswith("encoder."):
        mapped = _apply(_ENCODER_RULES, key[len("encoder."):])
        if mapped is not None:
            return False, "encoder." + mapped
    else:
        mapped = _apply(_STUDENT_RULES, key)
        if mapped is not None:
            return False, mapped
    raise ValueError(f"model key '{key}' has no fairseq equivalent (interop/key_map.py rules)")


def _check_shape(name: str, tensor: torch.Tensor, shape: torch.Size) -> None:
    if tuple(tensor.shape) != tuple(shape):
        raise ValueError(f"fairseq key '{name}' has shape {tuple(tensor.shape)}, the config "
                         f"implies {tuple(shape)}")


def from_fairseq(fairseq_sd: Mapping[str, object], reference: Mapping[str, torch.Tensor],
                 num_updates: int) -> dict[str, torch.Tensor]:
    """Our state dict (keys and dtypes of ``reference``) from a fairseq ``model`` state dict.

    ``reference`` is the state dict of a ``DinoSR`` built from the imported config (shapes and
    dtypes only; a meta-device model will do). Raises ``ValueError`` naming any missing,
    unconsumed or non-float key, a shape mismatch and non-positive codebook counts.
    """
    bad_keys = [k for k in fairseq_sd if not isinstance(k, str)]
    if not isinstance(fairseq_sd.get(EMA_KEY), Mapping):
        raise ValueError(f"fairseq state dict lacks the teacher '{EMA_KEY}' (a nested state dict)")
    bad_keys += [k for k in fairseq_sd[EMA_KEY] if not isinstance(k, str)]
    if bad_keys:
        raise ValueError(f"fairseq state dict has a key of type {type(bad_keys[0]).__name__} "
                         f"(state dict keys are strings)")
    sources = {False: dict(fairseq_sd), True: dict(fairseq_sd[EMA_KEY])}
    del sources[False][EMA_KEY]

    def take(in_ema: bool, name: str) -> torch.Tensor:
        where = f"{EMA_KEY}.{name}" if in_ema else name
        if name not in sources[in_ema]:
            raise ValueError(f"fairseq state dict lacks key '{where}'")
        value = sources[in_ema].pop(name)
        if not torch.is_tensor(value):
            raise ValueError(f"fairseq key '{where}' is a {type(value).__name__}, not a tensor")
        if value.layout != torch.strided or not value.is_floating_point():
            raise ValueError(f"fairseq key '{where}' is a {value.dtype} {value.layout} tensor "
                             f"(expected dense floating point)")
        return value

    out: dict[str, torch.Tensor] = {}
    for key, ref in reference.items():
        if key in _SPECIAL:
            continue
        in_ema, name = fairseq_location(key)
        value = take(in_ema, name)
        _check_shape(f"{EMA_KEY}.{name}" if in_ema else name, value, ref.shape)
        out[key] = value.to(ref.dtype)
    n, v, d = reference[CODEBOOK_SUMS].shape
    sums, counts = [], []
    for k in range(n):
        sums.append(take(False, f"_codebook{k}"))
        _check_shape(f"_codebook{k}", sums[-1], (v, d))
        counts.append(take(False, f"_codebook_cnts{k}"))
        _check_shape(f"_codebook_cnts{k}", counts[-1], (v,))
    for k, count in enumerate(counts):
        if not bool(torch.isfinite(count).all()) or bool((count <= 0).any()):
            raise ValueError(f"fairseq key '_codebook_cnts{k}' holds counts that are not finite "
                             f"and positive (centroid = sum / count)")
    out[CODEBOOK_SUMS] = torch.stack(sums).to(reference[CODEBOOK_SUMS].dtype)
    out[CODEBOOK_COUNTS] = torch.stack(counts).to(reference[CODEBOOK_COUNTS].dtype)
    if NUM_UPDATES in reference:
        out[NUM_UPDATES] = torch.tensor(num_updates, dtype=reference[NUM_UPDATES].dtype)
    leftover = sorted(sources[False]) + sorted(f"{EMA_KEY}.{k}" for k in sources[True])
    if leftover:
        raise ValueError(f"fairseq state dict has {len(leftover)} unknown key(s) (not consumed): "
                         f"{', '.join(leftover[:10])}{' ...' if len(leftover) > 10 else ''}")
    missing = sorted(set(reference) - set(out))
    if missing:
        raise ValueError(f"model keys not filled by the import: {', '.join(missing)}")
    return out


def to_fairseq(state_dict: Mapping[str, torch.Tensor], num_codebooks: int,
               student_dtype: torch.dtype = torch.float16) -> tuple[dict[str, object], int]:
    """fairseq ``model`` state dict and ``num_updates`` from our state dict.

    Student tensors are cast to ``student_dtype`` (fp16 as released), the teacher (``_ema``)
    and the codebooks are fp32. Every key of ``state_dict`` must be mapped.
    """
    for key in (CODEBOOK_SUMS, CODEBOOK_COUNTS):
        if key not in state_dict:
            raise ValueError(f"model state dict lacks '{key}'")
    if state_dict[CODEBOOK_SUMS].shape[0] != num_codebooks:
        raise ValueError(f"'{CODEBOOK_SUMS}' holds {state_dict[CODEBOOK_SUMS].shape[0]} "
                         f"codebooks, the config says {num_codebooks}")
    student: dict[str, object] = {}
    ema: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key in _SPECIAL:
            continue
        in_ema, name = fairseq_location(key)
        if in_ema:
            ema[name] = value.detach().to(torch.float32).clone()
        else:
            student[name] = value.detach().to(student_dtype).clone()
    for k in range(num_codebooks):
        student[f"_codebook{k}"] = state_dict[CODEBOOK_SUMS][k].detach().float().clone()
        student[f"_codebook_cnts{k}"] = state_dict[CODEBOOK_COUNTS][k].detach().float().clone()
    student[EMA_KEY] = ema
    num_updates = int(state_dict[NUM_UPDATES]) if NUM_UPDATES in state_dict else 0
    return student, num_updates
