"""Online clustering of teacher targets: N codebooks of V codewords (Eq. 2, 3, 5, 6; spec §2).

State is two fp32 buffers, ``sums`` (N, V, D) and ``counts`` (N, V); the centroids are
``sums / counts``. All math runs in fp32 with autocast disabled.
"""
from __future__ import annotations

import contextlib
import math
from typing import ContextManager, Optional

import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F


def init_codewords(num_codebooks: int, codebook_size: int, dim: int, method: str,
                   std: Optional[float] = None) -> torch.Tensor:
    """Initial codewords (N, V, D) (spec §2, "Codebook init").

    ``instance_norm`` (release): N(0,1), then each dimension standardised across the V
    codewords (biased variance, eps 1e-5). ``normal``: N(0, std), std default 1/sqrt(V).
    ``l2_normalized``: N(0,1), then each codeword scaled to unit L2 norm.
    """
    x = torch.randn(num_codebooks, codebook_size, dim)
    if method == "instance_norm":
        var, mean = torch.var_mean(x, dim=1, unbiased=False, keepdim=True)
        return (x - mean) / torch.sqrt(var + 1e-5)
    if method == "normal":
        return x * (std if std is not None else 1.0 / math.sqrt(codebook_size))
    if method == "l2_normalized":
        return F.normalize(x, dim=-1)
    raise ValueError(f"unknown codebook_init {method!r}")


def fp32_region(device: torch.device) -> ContextManager:
    """Autocast disabled, so codebook math stays fp32 under mixed precision (spec §3); a no-op
    on device types without autocast (e.g. ``meta``)."""
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()


def assignment_perplexity(counts: torch.Tensor) -> torch.Tensor:
    """2^(entropy in bits) of the assignment histogram ``counts`` (…, V) → (…,)."""
    p = counts / counts.sum(-1, keepdim=True).clamp(min=1e-12)
    return torch.exp(-torch.special.xlogy(p, p).sum(-1))


class OnlineCodebooks(nn.Module):
    """N online k-means codebooks; ``assign`` is Eq. 2, ``update`` Eq. 3/5/6."""

    def __init__(self, num_codebooks: int, codebook_size: int, dim: int, decay: float,
                 update: str = "ema_sum", freeze_inactive: bool = True,
                 init: str = "instance_norm", init_std: Optional[float] = None) -> None:
        super().__init__()
        if update not in ("ema_sum", "ema_mean"):
            raise ValueError(f"unknown codebook_update {update!r}")
        self.decay = decay
        self.update_rule = update
        self.freeze_inactive = freeze_inactive
        self.register_buffer("sums", init_codewords(num_codebooks, codebook_size, dim, init,
                                                    init_std))
        self.register_buffer("counts", torch.ones(num_codebooks, codebook_size))

    @property
    def codebook_size(self) -> int:
        return self.counts.shape[1]

    def centroids(self) -> torch.Tensor:
        """Codewords e = s / n, (N, V, D) fp32."""
        return self.sums.float() / self.counts.float().unsqueeze(-1)

    def assign(self, z: torch.Tensor) -> torch.Tensor:
        """Eq. 2: nearest codeword of each frame. ``z`` (N, M, D) → indices (N, M) long.

        ``argmin_v ‖z − e_v‖²`` = ``argmin_v (‖e_v‖² − 2 z·e_v)``: one batched matmul.
        """
        with fp32_region(z.device):
            e = self.centroids()
            scores = torch.baddbmm((e * e).sum(-1).unsqueeze(1), z.float(), e.transpose(1, 2),
                                   alpha=-2.0)
            return scores.argmin(-1)

    def batch_statistics(self, z: torch.Tensor, indices: torch.Tensor,
                         weights: Optional[torch.Tensor] = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-codeword sums Σ Z_v (N, V, D) and counts |Z_v| (N, V), fp32.

        ``weights`` (M,) in {0, 1} selects frames (e.g. the masked ones). One ``index_add_``
        over the N·M frames (O(N·M·D), where a one-hot matmul costs O(N·M·V·D)); unselected
        frames go to a spare row that is dropped, so no shape depends on the data.
        """
        n, m, d = z.shape
        v = self.codebook_size
        with fp32_region(z.device):
            rows = indices + torch.arange(n, device=indices.device).unsqueeze(1) * v
            if weights is not None:
                rows = torch.where(weights.bool().unsqueeze(0), rows, n * v)
            rows = rows.flatten()
            sums = z.new_zeros(n * v + 1, d, dtype=torch.float32)
            sums.index_add_(0, rows, z.reshape(n * m, d).float())
            counts = z.new_zeros(n * v + 1, dtype=torch.float32)
            counts.index_add_(0, rows, z.new_ones(n * m, dtype=torch.float32))
            return sums[:-1].view(n, v, d), counts[:-1].view(n, v)

    @torch.no_grad()
    def update(self, z: torch.Tensor, indices: torch.Tensor,
               weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        """EMA update from this batch (global batch when distributed); returns its counts (N, V).

        Eq. 3 (``ema_sum``): s ← τ s + (1−τ) Σ Z_v, n ← τ n + (1−τ) |Z_v|.
        Eq. 5: codewords with |Z_v| = 0 keep τ_v = 1 if ``freeze_inactive``.
        Eq. 6 (``ema_mean``): e ← τ e + (1−τ) mean(Z_v); n is kept, s = e · n, and inactive
        codewords are always left unchanged (their mean is undefined).
        """
        sums, counts = self.batch_statistics(z, indices, weights)
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            flat = torch.cat([sums.flatten(), counts.flatten()])
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            sums = flat[: sums.numel()].view_as(sums)
            counts = flat[sums.numel():].view_as(counts)
        active = counts > 0
        tau = torch.full_like(counts, self.decay)
        if self.update_rule == "ema_mean" or self.freeze_inactive:
            tau = torch.where(active, tau, 1.0)
        if self.update_rule == "ema_sum":
            self.sums.mul_(tau.unsqueeze(-1)).add_((1 - tau).unsqueeze(-1) * sums)
            self.counts.mul_(tau).add_((1 - tau) * counts)
        else:
            mean = sums / counts.clamp(min=1).unsqueeze(-1)
            e = self.centroids().mul_(tau.unsqueeze(-1)).add_((1 - tau).unsqueeze(-1) * mean)
            self.sums.copy_(e * self.counts.unsqueeze(-1))
        return counts
