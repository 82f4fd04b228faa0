"""fairseq "static" span masking with batch equalisation (spec §4), vectorised in torch.

Per row: ``n = max(min_spans, int(mask_prob · T / mask_length + U[0,1)))`` span starts drawn
without replacement from ``[0, T − mask_length)``; each start masks ``mask_length`` frames
(spans may overlap, and are clipped at the row's end). Without ``lengths`` one count is drawn for
the whole batch; with ``lengths`` each row's count uses its own valid length. Equalisation then
randomly unmasks frames of each row down to the smallest per-row masked count.

``seeded_span_mask`` draws the same kind of mask row by row, each row from its own generator
seeded by ``utterance_seeds`` (a hash of a base seed, the update count and the utterance's
samples): a row's mask then does not depend on which other rows share its batch, on padding,
or on the data-parallel rank that holds it (``DinoSRConfig.mask_seed``).
"""
from __future__ import annotations

import hashlib
import struct
from typing import Callable, Optional, Sequence

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


def utterance_fingerprints(source: torch.Tensor, padding_mask: Optional[torch.Tensor] = None
                           ) -> torch.Tensor:
    """(B,) int64 fingerprint of each row of ``source`` (B, L), on its device.

    ``Σ_j (bits(x_j) >> 8) · w_j`` with fixed weights ``w_j`` in [1, 2^16): exact integer
    arithmetic without overflow for rows below 2^24 samples, so the value is independent of
    the reduction order, of the batch around the row and of trailing zero padding (padded
    samples, given by ``padding_mask``, count as zeros).
    """
    x = source.float()
    if padding_mask is not None:
        x = x.masked_fill(padding_mask, 0.0)
    if x.shape[1] >= 1 << 24:
        raise ValueError(f"utterance_fingerprints: rows of {x.shape[1]} samples exceed 2^24")
    bits = x.contiguous().view(torch.int32).long() >> 8
    pos = torch.arange(x.shape[1], device=x.device, dtype=torch.long)
    return (bits * ((pos * 40503) % 65521 + 1)).sum(-1)


def utterance_seeds(source: torch.Tensor, padding_mask: Optional[torch.Tensor], seed: int,
                    step: int) -> list[int]:
    """One 63-bit generator seed per row from (``seed``, ``step``, the row's fingerprint).

    Costs one device→host copy of B integers.
    """
    seeds = []
    for fingerprint in utterance_fingerprints(source, padding_mask).tolist():
        digest = hashlib.blake2b(struct.pack("<qqq", seed, step, fingerprint), digest_size=8)
        seeds.append(int.from_bytes(digest.digest(), "little") >> 1)
    return seeds


def seeded_span_mask(
    seeds: Sequence[int],
    num_frames: int,
    mask_prob: float,
    mask_length: int,
    min_spans: int = 1,
    equalize: bool = True,
    lengths: Optional[Sequence[int]] = None,
    reduce_min: Optional[Callable[[int], int]] = None,
    device: Optional[torch.device] = None,
) -> torch.Tensor:
    """(B, T) bool mask like ``compute_span_mask``, row i drawn over its own valid length
    from a CPU generator seeded with ``seeds[i]`` (its own span count, as fairseq does with
    padding). Equalisation keeps, per row, a random subset (same generator) of the smallest
    masked count of the batch, or of ``reduce_min(count)`` (e.g. the minimum over all
    data-parallel ranks: the global batch).
    """
    if lengths is not None and len(lengths) != len(seeds):
        raise ValueError(f"masking: {len(lengths)} lengths for {len(seeds)} seeds")
    rows, generators = [], []
    for i, seed in enumerate(seeds):
        size = num_frames if lengths is None else int(lengths[i])
        if not 0 <= size <= num_frames:
            raise ValueError(f"masking: length {size} of row {i} not in [0, {num_frames}]")
        g = torch.Generator().manual_seed(seed)
        rows.append(compute_span_mask(1, size, mask_prob, mask_length, min_spans,
                                      equalize=False, generator=g)[0])
        generators.append(g)
    if equalize:
        smallest = min((int(r.sum()) for r in rows), default=num_frames)
        if reduce_min is not None:  # called on every rank, even one without rows
            smallest = reduce_min(smallest)
        rows = [_rank(torch.rand(len(r), generator=g).masked_fill(~r, 2.0)[None])[0] < smallest
                for r, g in zip(rows, generators)]
    mask = torch.zeros(len(seeds), num_frames, dtype=torch.bool)
    for i, r in enumerate(rows):
        mask[i, : len(r)] = r
    return mask.to(device or "cpu")
