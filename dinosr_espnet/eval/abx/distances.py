"""Framewise distances for ABX, batched: ``(B, N, D) x (B, M, D) -> (B, N, M)``.

``cosine`` is the standard ZeroSpeech angular distance ``acos(<a,b> / (|a||b|)) / pi``
(norms clamped at ``EPS``, so an all-zero frame is at distance 0.5 from everything).
The probability distances take framewise distributions as they are, with no L2 normalisation
(the legacy tools normalise first, which breaks them; evaluation.md), natural logarithms:

- ``kl``: ``KL(x || y) = sum_k x_k (log x_k - log max(y_k, EPS))`` (0 log 0 = 0);
- ``symkl``: ``(KL(x || y) + KL(y || x)) / 2``;
- ``js``: Jensen-Shannon ``(KL(x || m) + KL(y || m)) / 2`` with ``m = (x + y) / 2`` (the DinoSR
  paper's choice, spec §7), summed term by term as
  ``sum_k [x_k log(2 x_k / s_k) + y_k log(2 y_k / s_k)] / 2``, ``s = x + y``: never forming
  ``m`` (``s / 2`` underflows to 0 for the smallest subnormals, which made ``log m = -inf``) and
  never subtracting entropies (which cancel to rounding noise for close distributions), so the
  float32 value stays within about 1e-7 of the exact one, is exactly 0 on identical frames and
  exactly symmetric; no ``EPS`` needed.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

EPS = 1e-10
DISTANCES = ("cosine", "kl", "symkl", "js")
PROBABILITY_DISTANCES = ("kl", "symkl", "js")


def unit_norm(frames: torch.Tensor) -> torch.Tensor:
    """Frames divided by their L2 norm (clamped at ``EPS``)."""
    return frames / frames.norm(dim=-1, keepdim=True).clamp_min(EPS)


def angular_distance(xn: torch.Tensor, yn: torch.Tensor) -> torch.Tensor:
    """``acos(<x, y>) / pi`` for frames already of unit norm (in place on the fresh product)."""
    return (xn @ yn.transpose(-1, -2)).clamp_(-1.0, 1.0).acos_().div_(math.pi)


def cosine_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Angular distance in [0, 1] between every frame of ``x`` and of ``y``."""
    return angular_distance(unit_norm(x), unit_norm(y))


def kl_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``KL(x_i || y_j)`` for every frame pair; memory ``B * N * M * D``.

    Term by term rather than as a matrix product, so that a pair's value does not depend on
    the shape of the matrix it is computed in (chunking; exact ties between tokens stay ties).
    """
    x = x.unsqueeze(-2)
    return torch.special.xlogy(x, x / y.clamp_min(EPS).unsqueeze(-3)).sum(-1)


def symmetric_kl_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(KL(x_i || y_j) + KL(y_j || x_i)) / 2`` for every frame pair."""
    return 0.5 * (kl_distance(x, y) + kl_distance(y, x).transpose(-1, -2))


def js_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Jensen-Shannon divergence for every frame pair; memory ``B * N * M * D``."""
    x, y = x.unsqueeze(-2), y.unsqueeze(-3)
    # s = 0 only where x = y = 0, whose terms are 0 whatever the ratio (xlogy(0, .) = 0).
    total = (x + y).clamp_min_(torch.finfo(x.dtype).smallest_normal * torch.finfo(x.dtype).eps)
    terms = torch.special.xlogy(x, x / total * 2)
    terms += torch.special.xlogy(y, y / total * 2)
    return terms.sum(-1).mul_(0.5).clamp_min_(0.0)


_FUNCTIONS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "cosine": cosine_distance,
    "kl": kl_distance,
    "symkl": symmetric_kl_distance,
    "js": js_distance,
}


def get_distance(name: str, prepared: bool = False) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The batched frame distance called ``name`` (one of ``DISTANCES``); with ``prepared`` the
    version for frames that went through ``prepare_frames`` once (saves per-pair work)."""
    if name not in _FUNCTIONS:
        raise ValueError(f"unknown ABX distance {name!r}; choose from {DISTANCES}")
    return angular_distance if prepared and name == "cosine" else _FUNCTIONS[name]


def prepare_frames(frames: torch.Tensor, name: str) -> torch.Tensor:
    """Per-frame work done once for all pairs: unit norm for ``cosine``, nothing otherwise."""
    return unit_norm(frames) if name == "cosine" else frames


def check_probabilities(matrix: torch.Tensor, uttid: str, tolerance: float = 1e-3) -> None:
    """Reject frames that are not distributions (a probability distance was asked for)."""
    if bool((matrix < 0).any()):
        raise ValueError(
            f"features of {uttid!r} have negative values; KL/JS distances need framewise "
            "probabilities (log-probabilities? apply exp / softmax first)"
        )
    sums = matrix.sum(-1)
    if bool(((sums - 1.0).abs() > tolerance).any()):
        worst = float((sums - 1.0).abs().max())
        raise ValueError(
            f"features of {uttid!r}: frames must sum to 1 for KL/JS distances "
            f"(largest deviation {worst:.3g})"
        )
