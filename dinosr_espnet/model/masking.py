"""fairseq "static" span masking with batch equalisation (spec §4), vectorised in torch.

Per row: ``n = max(min_spans, int(mask_prob · T / mask_length + U[0,1)))`` span starts drawn
without replacement from ``[0, T − mask_length)``; each start masks ``mask_length`` frames
(spans may overlap, and are clipped at the row's end). Without ``lengths`` one count is drawn for
the whole batch; with ``lengths`` each row's count uses its own valid length. Equalisation then
randomly unmasks frames of each row down to the smallest per-row masked count.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch


def span_counts(
    num_frames: int, mask_prob: float, mask_length: int, min_spans: int,
    lengths: Optional[Sequence[int]], batch_size: int, generator: Optional[torch.Generator],
) -> tuple[list[int], list[int], list[int]]:
    """Host-side draw of (valid lengths, span counts, start ranges) per row (fairseq rules).

    If ``T − mask_length <= n`` the start range becomes ``n + 1`` (as fairseq does); it is
    then clipped to the valid length and ``n`` to the range, so tiny inputs never fail.
    """
    gen_device = generator.device if generator is not None else "cpu"
    if lengths is None:
        sizes = [num_frames] * batch_size
        u = torch.rand(1, generator=generator, device=gen_device).tolist() * batch_size
    else:
        if len(lengths) != batch_size:
            raise ValueError(f"masking: {len(lengths)} lengths for a batch of {batch_size}")
        sizes = [int(n) for n in lengths]
        if any(not 0 <= n <= num_frames for n in sizes):
            raise ValueError(f"masking: lengths {sizes} must lie in [0, {num_frames}]")
        u = torch.rand(batch_size, generator=generator, device=gen_device).tolist()
    counts, ranges = [], []
    for size, ub in zip(sizes, u):
        n = max(min_spans, int(mask_prob * size / mask_length + ub))
        r = size - mask_length
        if r <= n:
            r = n + 1
        r = min(r, size)
        counts.append(min(n, r))
        ranges.append(r)
    return sizes, counts, ranges


def compute_span_mask(
    batch_size: int,
    num_frames: int,
    mask_prob: float,
    mask_length: int,
    min_spans: int = 1,
    equalize: bool = True,
    lengths: Optional[Sequence[int]] = None,
    generator: Optional[torch.Generator] = None,
    device: Optional[torch.device] = None,
) -> torch.Tensor:
    """Return a (B, T) bool mask, True = masked frame; padded frames are never masked.

    Random draws use ``generator`` (on its device) when given, for reproducibility; otherwise
    the global RNGs, on ``device``. The result is moved to ``device``.
    """
    if mask_length < 1:
        raise ValueError(f"masking: mask_length must be >= 1, got {mask_length}")
    sizes, counts, ranges = span_counts(num_frames, mask_prob, mask_length, min_spans,
                                        lengths, batch_size, generator)
    work = generator.device if generator is not None else (device or torch.device("cpu"))
    t = num_frames
    size_t = torch.tensor(sizes, device=work)
    count_t = torch.tensor(counts, device=work)
    range_t = torch.tensor(ranges, device=work)
    if t == 0 or batch_size == 0:
        return torch.zeros(batch_size, t, dtype=torch.bool, device=device or work)

    # Starts without replacement: the n smallest of uniform scores inside each row's range.
    pos = torch.arange(t, device=work)
    scores = torch.rand(batch_size, t, generator=generator, device=work)
    scores = scores.masked_fill(pos >= range_t[:, None], 2.0)
    starts = _rank(scores) < count_t[:, None]

    # Frame f is masked if a start lies in (f − mask_length, f]: a windowed count via cumsum.
    c = starts.long().cumsum(1)
    before = torch.nn.functional.pad(c, (mask_length, 0))[:, :t]
    mask = (c - before > 0) & (pos < size_t[:, None])

    if equalize and batch_size > 1:
        smallest = mask.sum(1).min()
        scores = torch.rand(batch_size, t, generator=generator, device=work)
        mask = _rank(scores.masked_fill(~mask, 2.0)) < smallest
    return mask.to(device or work)


def _rank(scores: torch.Tensor) -> torch.Tensor:
    """Rank (0 = smallest) of every entry within its row."""
    order = scores.argsort(dim=1)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(scores.shape[1], device=scores.device).expand_as(order))
    return ranks
