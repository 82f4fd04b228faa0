"""EMA teacher (Eq. 1) and its decay schedule λ (spec §5)."""
from __future__ import annotations

import copy
from typing import Optional, Sequence

import torch
from torch import nn

from dinosr_espnet.model.config import DinoSRConfig
from dinosr_espnet.model.encoder import TransformerEncoder


def teacher_decay(num_updates: int, cfg: DinoSRConfig) -> float:
    """λ used by the EMA step taken after ``num_updates`` completed updates.

    Linear ``ema_decay_start → ema_decay_end`` over ``ema_anneal_updates``, then held; after
    ``ema_last_update`` λ = 1 (teacher frozen). BASE: 0.999 at 0, 0.9999 from 30k, 1 from 200001.
    """
    if num_updates > cfg.ema_last_update:
        return 1.0
    if num_updates >= cfg.ema_anneal_updates:
        return cfg.ema_decay_end
    frac = num_updates / cfg.ema_anneal_updates
    return cfg.ema_decay_start + (cfg.ema_decay_end - cfg.ema_decay_start) * frac


class EMATeacher(nn.Module):
    """Frozen deep copy of the student's encoder, moved towards it by ``step`` (Eq. 1).

    Always in eval mode (no dropout, no layerdrop); its parameters never require grad.
    """

    def __init__(self, student: TransformerEncoder) -> None:
        super().__init__()
        self.encoder = copy.deepcopy(student)
        self.encoder.requires_grad_(False)
        self.encoder.eval()

    def train(self, mode: bool = True) -> "EMATeacher":
        super().train(mode)
        self.encoder.eval()
        return self

    @torch.no_grad()
    def step(self, student: TransformerEncoder, decay: float) -> None:
        """θ_t ← λ θ_t + (1−λ) θ_s over ``layer_norm`` and ``layers``; ``pos_conv`` copied.

        Does nothing when λ = 1 (the copy stops too).
        """
        if decay >= 1.0:
            return
        ema_t, ema_s = [], []
        for name in ("layer_norm", "layers"):
            ema_t += list(getattr(self.encoder, name).parameters())
            ema_s += list(getattr(student, name).parameters())
        torch._foreach_lerp_(ema_t, [p.detach().to(t.dtype) for p, t in zip(ema_s, ema_t)],
                             1.0 - decay)
        torch._foreach_copy_(list(self.encoder.pos_conv.parameters()),
                             [p.detach() for p in student.pos_conv.parameters()])

    @torch.no_grad()
    def targets(self, x: torch.Tensor, padding_mask: Optional[torch.Tensor],
                layers: Sequence[int]) -> list[torch.Tensor]:
        """FFN outputs (B, T, D) of ``layers`` for unmasked input ``x`` (B, T, D)."""
        return self.encoder(x, padding_mask, ffn_layers=layers).ffn_outputs
