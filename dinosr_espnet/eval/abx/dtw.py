"""Batched dynamic time warping with path-length normalisation (evaluation.md, ABX).

For a frame-distance matrix ``d`` (N x M) the accumulated cost is::

    C[0, 0] = d[0, 0]
    C[i, j] = d[i, j] + min(C[i-1, j-1], C[i-1, j], C[i, j-1])

and the score is ``C[N-1, M-1] / L`` with ``L`` the number of cells on the optimal path. Ties
between predecessors are broken in the order diagonal, then ``(i, j-1)``, then ``(i-1, j)``
(the order of the libri-light back-tracking, with ``x`` on the rows); ``L`` is carried forward
with the chosen predecessor, which gives the same path as back-tracking.

All pairs of a batch are processed together, one anti-diagonal ``k = i + j`` at a time (its
cells depend only on the two previous diagonals). The distances are first laid out
diagonal-major, ``diag[b, k, 1 + i] = d[b, i, k - i]``, so that the three predecessors of every
cell of diagonal ``k`` are plain slices of diagonals ``k - 1`` and ``k - 2`` (no gathers in the
loop). Pairs of different lengths are padded: padding never influences ``C[n-1, m-1]`` since the
recursion only looks at smaller indices. ``dtw_pairs`` (the ``torch`` DTW backend, on any device)
cuts the token pairs of a chunk out of its frame-distance matrix into such padded batches;
``dtw_numba.py`` is the default CPU kernel, with the same results.
"""
from __future__ import annotations

import numpy as np
import torch


def _diagonal_major(dist: torch.Tensor) -> torch.Tensor:
    """(B, N, M) -> (B, N + M - 1, N + 1): diagonal k, slot 1 + i holds d[i, k - i] (inf outside)."""
    batch, rows, cols = dist.shape
    device = dist.device
    diag = torch.arange(rows + cols - 1, device=device).unsqueeze(1)
    i = torch.arange(rows, device=device).unsqueeze(0)
    j = diag - i
    inside = (j >= 0) & (j < cols)
    flat = (i * cols + j.clamp(0, cols - 1)).reshape(1, -1).expand(batch, -1)
    values = dist.reshape(batch, -1).gather(1, flat).reshape(batch, rows + cols - 1, rows)
    values = values.masked_fill(~inside, float("inf"))
    return torch.nn.functional.pad(values, (1, 0), value=float("inf"))


def dtw_batch(dist: torch.Tensor, len_x: torch.Tensor, len_y: torch.Tensor) -> torch.Tensor:
    """Path-length-normalised DTW cost of each pair.

    Args:
        dist: (B, N, M) frame distances, padded beyond each pair's lengths.
        len_x: (B,) number of valid rows per pair (>= 1).
        len_y: (B,) number of valid columns per pair (>= 1).

    Returns:
        (B,) ``C[len_x - 1, len_y - 1] / L``.
    """
    batch, rows, cols = dist.shape
    device, dtype = dist.device, dist.dtype
    local = _diagonal_major(dist)
    cost = torch.empty_like(local)
    length = torch.empty(local.shape, dtype=torch.long, device=device)
    # Diagonals k = -2 and k = -1; slot 0 of every diagonal is row i = -1. Only the virtual
    # cell (-1, -1) costs 0, so that C[0, 0] = d[0, 0].
    before_prev = torch.full((batch, rows + 1), float("inf"), dtype=dtype, device=device)
    before_prev[:, 0] = 0.0
    prev = torch.full((batch, rows + 1), float("inf"), dtype=dtype, device=device)
    len_before_prev = torch.zeros((batch, rows + 1), dtype=torch.long, device=device)
    len_prev = torch.zeros_like(len_before_prev)
    for k in range(rows + cols - 1):
        corner, left, up = before_prev[:, :-1], prev[:, 1:], prev[:, :-1]
        take_corner = (corner <= left) & (corner <= up)
        take_left = ~take_corner & (left <= up)
        best = torch.where(take_corner, corner, torch.where(take_left, left, up))
        best_len = torch.where(
            take_corner, len_before_prev[:, :-1], torch.where(take_left, len_prev[:, 1:], len_prev[:, :-1])
        )
        cost[:, k, 1:] = local[:, k, 1:] + best
        cost[:, k, 0] = float("inf")
        length[:, k, 1:] = best_len + 1
        length[:, k, 0] = 0
        before_prev, prev = prev, cost[:, k]
        len_before_prev, len_prev = len_prev, length[:, k]
    index = torch.arange(batch, device=device)
    last_diag = len_x + len_y - 2
    return cost[index, last_diag, len_x] / length[index, last_diag, len_x].to(dtype)


def _batch_ends(len_x: np.ndarray, len_y: np.ndarray, budget: int, waste: float = 2.0) -> list[int]:
    """End indices of consecutive pair batches whose padded tables stay within ``budget``
    elements and within ``waste`` times their cells (a single pair may exceed both)."""
    ends, start, total = [], 0, len(len_x)
    while start < total:
        stop = min(total, start + budget)
        rows = np.maximum.accumulate(len_x[start:stop])
        cols = np.maximum.accumulate(len_y[start:stop])
        size = np.arange(1, stop - start + 1) * rows * cols
        fits = (size <= budget) & (size <= waste * np.cumsum(len_x[start:stop] * len_y[start:stop]))
        start += max(1, int(np.argmin(fits)) if not fits.all() else len(fits))
        ends.append(start)
    return ends


def dtw_pairs(
    dist: torch.Tensor, row0: np.ndarray, col0: np.ndarray, len_x: np.ndarray, len_y: np.ndarray, budget: int
) -> torch.Tensor:
    """DTW of the sub-matrices ``dist[row0[p]:row0[p] + len_x[p], col0[p]:col0[p] + len_y[p]]``,
    in batches of similar sizes; (P,) on the device of ``dist``."""
    device = dist.device
    order = np.lexsort((len_y, len_x))
    result = torch.empty(len(order), dtype=dist.dtype, device=device)
    start = 0
    for end in _batch_ends(len_x[order], len_y[order], budget):
        chosen = order[start:end]
        lx, ly = (torch.as_tensor(v[chosen], device=device) for v in (len_x, len_y))
        steps_x = torch.arange(int(lx.max()), device=device)
        steps_y = torch.arange(int(ly.max()), device=device)
        rows = torch.as_tensor(row0[chosen], device=device)[:, None] + torch.minimum(steps_x, lx[:, None] - 1)
        cols = torch.as_tensor(col0[chosen], device=device)[:, None] + torch.minimum(steps_y, ly[:, None] - 1)
        tables = dist[rows[:, :, None], cols[:, None, :]]
        result[torch.as_tensor(chosen, device=device)] = dtw_batch(tables, lx, ly)
        start = end
    return result
