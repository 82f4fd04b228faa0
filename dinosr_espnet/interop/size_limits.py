"""Upper bounds on the sizes a converted config may ask for, checked before any tensor exists.

A checkpoint's config decides the shapes of the model the converter builds (on the meta
device) to check the file's tensors against. An absurd value (``encoder_embed_dim:
1000000000000``) would overflow torch's size arithmetic or stall the converter, so every size
is bounded first, generously: far above any published speech SSL model.
"""
from __future__ import annotations

from typing import Callable

from dinosr_espnet.model.config import DinoSRConfig

MAX_DIM = 65536          # embedding, FFN and CNN channel widths
MAX_LAYERS = 1024        # transformer layers, heads, codebooks
MAX_CODEBOOK_SIZE = 1 << 20
MAX_KERNEL = 4096        # CNN kernels and strides, positional-conv kernel
MAX_CONV_LAYERS = 64     # CNN layers, stacked positional convs
MAX_STEP = 1 << 62       # update counts (fit an int64)

SIZE_LIMITS: dict[str, int] = {
    "embed_dim": MAX_DIM,
    "ffn_dim": MAX_DIM,
    "num_heads": MAX_LAYERS,
    "num_layers": MAX_LAYERS,
    "num_codebooks": MAX_LAYERS,
    "codebook_size": MAX_CODEBOOK_SIZE,
    "pos_conv_depth": MAX_CONV_LAYERS,
    "pos_conv_kernel": MAX_KERNEL,
    "pos_conv_groups": MAX_DIM,
    "mask_length": MAX_KERNEL,
    "ema_anneal_updates": MAX_STEP,
    "ema_last_update": MAX_STEP,
}


def check_sizes(cfg: DinoSRConfig, name_of: Callable[[str], str]) -> None:
    """``ValueError`` naming (through ``name_of(field)``) the first size out of bounds."""
    for field, limit in SIZE_LIMITS.items():
        value = getattr(cfg, field)
        if value > limit:
            raise ValueError(f"{name_of(field)} = {value} is out of range (at most {limit})")
    if len(cfg.conv_layers) > MAX_CONV_LAYERS:
        raise ValueError(f"{name_of('conv_layers')} has {len(cfg.conv_layers)} layers (at most "
                         f"{MAX_CONV_LAYERS})")
    for i, (channels, kernel, stride) in enumerate(cfg.conv_layers):
        for what, value, limit in (("channels", channels, MAX_DIM), ("kernel", kernel, MAX_KERNEL),
                                   ("stride", stride, MAX_KERNEL)):
            if not 1 <= value <= limit:
                raise ValueError(f"{name_of('conv_layers')}: layer {i} {what} = {value} is out "
                                 f"of range (1..{limit})")
