"""ABX scores: DTW for every needed token pair, error per cell, unweighted aggregation.

Token-pair DTW distances ``d(x, y)`` (ordered: frame distances ``D(x_i, y_j)``, x on the rows)
are computed once for all cells, group pair by group pair (``pairs.py``): per chunk
(``chunks.py``) one frame-distance matrix on the torch device, then the DTW of all its token
pairs, by the numba kernel (``dtw_numba.py``, CPU threads) or the torch wavefront (``dtw.py``).

Per cell, the error is the fraction of triplets ``(x, a, b)`` with ``d(x, a) > d(x, b)``, ties
counting 1/2 (= 1 - theta); within speaker the triplets with x = a are left out. Aggregation
(evaluation.md): unweighted means over contexts (and X speakers, across), then speakers, then
ordered phone pairs.
"""
from __future__ import annotations

from typing import Callable

import numba
import numpy as np
import torch
from tqdm import tqdm

from dinosr_espnet.eval.abx.cells import Cells, Groups
from dinosr_espnet.eval.abx.chunks import frame_layout, plan_chunks, token_pairs
from dinosr_espnet.eval.abx.dtw import dtw_pairs
from dinosr_espnet.eval.abx.dtw_numba import dtw_group_pairs
from dinosr_espnet.eval.abx.pairs import PairTable
from dinosr_espnet.eval.abx.tokens import TokenSet

Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
DTW_BACKENDS = ("numba", "torch")
_HOST_BUFFER = 1 << 25  # frame distances handed to one numba call (entries)


def pair_values(
    tokens: TokenSet,
    groups: Groups,
    table: PairTable,
    distance: Distance,
    elementwise: bool,
    chunk_elements: int,
    backend: str,
) -> np.ndarray:
    """Flat float64 DTW distances of every block of ``table`` (see ``PairTable``).

    ``chunk_elements`` bounds the frame-distance matrix of a chunk (divided by the feature
    dimension when the distance is ``elementwise``, as KL/JS build ``rows x columns x D`` tensors).
    """
    if backend not in DTW_BACKENDS:
        raise ValueError(f"DTW backend must be one of {DTW_BACKENDS}, got {backend!r}")
    values = np.empty(int(table.offsets[-1]), dtype=np.float64)
    if len(table) == 0:
        return values
    layout = frame_layout(groups, tokens.offsets, tokens.lengths)
    frames = tokens.frames
    budget = max(1, chunk_elements // (frames.shape[1] if elementwise else 1))
    plan = plan_chunks(table, groups, layout, budget)
    rows = torch.as_tensor(plan.rows, device=frames.device)
    cols = torch.as_tensor(plan.cols, device=frames.device)
    heights, widths = np.diff(plan.row_bounds), np.diff(plan.col_bounds)

    def chunk_distances(k: int) -> torch.Tensor:
        return distance(frames[rows[plan.row_bounds[k]:plan.row_bounds[k + 1]]],
                        frames[cols[plan.col_bounds[k]:plan.col_bounds[k + 1]]])

    progress = tqdm(total=len(plan), desc="ABX: DTW chunks", unit="chunk", disable=None)
    if backend == "torch":
        for k in range(len(plan)):
            part = slice(plan.bounds[k], plan.bounds[k + 1])
            costs = dtw_pairs(chunk_distances(k), *token_pairs(table, plan, k, groups, layout), budget)
            values[table.offsets[part.start]:table.offsets[part.stop]] = costs.double().cpu().numpy()
            progress.update()
        progress.close()
        return values
    # numba: many chunks' matrices side by side in one host buffer, one kernel call per fill.
    sizes = heights * widths
    buffer = torch.empty(max(min(_HOST_BUFFER, int(sizes.sum())), int(sizes.max())), dtype=frames.dtype)
    base = np.zeros(len(plan), dtype=np.int64)

    def run(begin: int, end: int) -> None:
        part = slice(plan.bounds[begin], plan.bounds[end])
        per_chunk = np.diff(plan.bounds[begin:end + 1])
        dtw_group_pairs(buffer.numpy(), np.repeat(base[begin:end], per_chunk),
                        np.repeat(widths[begin:end], per_chunk), plan.row0[part], plan.col0[part],
                        table.first[part], table.second[part], table.offsets[part], groups.ptr,
                        layout.length, layout.rel, values)
        progress.update(end - begin)

    first_chunk, filled = 0, 0
    for k in range(len(plan)):
        if filled + sizes[k] > len(buffer):
            run(first_chunk, k)
            first_chunk, filled = k, 0
        base[k] = filled
        buffer[filled:filled + sizes[k]].view(int(heights[k]), int(widths[k])).copy_(chunk_distances(k))
        filled += int(sizes[k])
    run(first_chunk, len(plan))
    progress.close()
    return values


@numba.njit(parallel=True, cache=True, nogil=True)
def _errors(values, offsets, sizes, x, a, b, xa, xb, exclude_self, errors):
    """Share of wrong triplets of every cell (brute force over ``n_x * n_a * n_b``, exact)."""
    for cell in numba.prange(len(x)):
        num_x, num_a, num_b = sizes[x[cell]], sizes[a[cell]], sizes[b[cell]]
        base_a, base_b = offsets[xa[cell]], offsets[xb[cell]]
        wrong, count = 0.0, 0
        for i in range(num_x):
            for j in range(num_a):
                if exclude_self and i == j:
                    continue
                d_xa = values[base_a + i * num_a + j]
                for k in range(num_b):
                    d_xb = values[base_b + i * num_b + k]
                    if d_xa > d_xb:
                        wrong += 1.0
                    elif d_xa == d_xb:
                        wrong += 0.5
                count += num_b
        errors[cell] = wrong / count


def cell_errors(groups: Groups, cells: Cells, table: PairTable, values: np.ndarray) -> np.ndarray:
    """Error (1 - theta) of every cell, from the flat DTW distances of ``table``.

    Within speaker X and A are the same group, so x = a is the diagonal of the X-A block.
    """
    xa = table.index(cells.x, cells.a)
    xb = table.index(cells.x, cells.b)
    errors = np.empty(len(cells), dtype=np.float64)
    _errors(values, table.offsets, groups.sizes, cells.x, cells.a, cells.b, xa, xb, cells.exclude_self,
            errors)
    return errors


def _mean_over(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unweighted mean of ``values`` for each distinct row of ``keys`` (non-negative ints)."""
    codes = np.ravel_multi_index(keys.T, keys.max(axis=0) + 1)
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    means = np.bincount(inverse, weights=values) / np.bincount(inverse)
    return keys[first], means


def aggregate(cells: Cells, errors: np.ndarray) -> float:
    """Mean over contexts [and X speakers], then speakers, then ordered phone pairs."""
    width = cells.keys.shape[1]
    speaker_phones = [1, width - 2, width - 1]  # (s, a, b)
    keys, means = _mean_over(cells.keys[:, speaker_phones], errors)
    _, means = _mean_over(keys[:, 1:], means)
    return float(means.mean())
