"""ABX scores: DTW for every needed token pair, error per cell, unweighted aggregation.

Token-pair DTW distances ``d(x, y)`` (ordered: frame distances ``D(x_i, y_j)``) are computed once
for all cells of a condition, in batches of pairs of similar lengths (padding stays small) whose
size is bounded by ``chunk_elements`` (tensor elements of the batch's distance tables).

Per cell, the error is the fraction of triplets ``(x, a, b)`` with ``d(x, a) > d(x, b)``, ties
counting 1/2 (= 1 - theta); within speaker the triplets with x = a are left out. Aggregation
(evaluation.md): unweighted means over contexts (and X speakers, across), then speakers, then
ordered phone pairs.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from dinosr_espnet.eval.abx.cells import Cells
from dinosr_espnet.eval.abx.dtw import dtw_batch
from dinosr_espnet.eval.abx.tokens import TokenSet

Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _chunk_ends(len_x: np.ndarray, len_y: np.ndarray, per_cell: int, dim: int, budget: int) -> list[int]:
    """End indices of consecutive pair batches whose padded size stays within ``budget``."""
    ends, start, total = [], 0, len(len_x)
    # No batch can hold more pairs than this (the smallest pair is 1 x 1 frames).
    window = budget // (per_cell + 2 * dim) + 1
    while start < total:
        stop = min(total, start + window)
        rows = np.maximum.accumulate(len_x[start:stop])
        cols = np.maximum.accumulate(len_y[start:stop])
        count = np.arange(1, stop - start + 1)
        size = count * (rows * cols * per_cell + (rows + cols) * dim)
        start += max(1, int(np.searchsorted(size, budget, side="right")))
        ends.append(start)
    return ends


def _gather(tokens: TokenSet, index: np.ndarray, width: int) -> torch.Tensor:
    """(B, width, D) frames of tokens ``index``, padded by repeating each token's last frame."""
    device = tokens.frames.device
    first = torch.as_tensor(tokens.offsets[index], device=device).unsqueeze(1)
    last = torch.as_tensor(tokens.lengths[index] - 1, device=device).unsqueeze(1)
    steps = torch.arange(width, device=device).unsqueeze(0)
    rows = (first + torch.minimum(steps, last)).reshape(-1)
    return tokens.frames.index_select(0, rows).view(len(index), width, -1)


def pair_distances(
    tokens: TokenSet,
    pairs: np.ndarray,
    distance: Distance,
    elementwise: bool,
    chunk_elements: int,
) -> np.ndarray:
    """Normalised DTW distance ``d(x, y)`` for each row ``(x, y)`` of ``pairs`` (float64)."""
    len_x, len_y = tokens.lengths[pairs[:, 0]], tokens.lengths[pairs[:, 1]]
    order = np.lexsort((len_y, len_x))
    dim = tokens.frames.shape[1]
    ends = _chunk_ends(len_x[order], len_y[order], dim if elementwise else 1, dim, chunk_elements)
    result = np.empty(len(pairs), dtype=np.float64)
    start = 0
    for end in tqdm(ends, desc="ABX: DTW batches", unit="batch", disable=None):
        chosen = order[start:end]
        lx, ly = len_x[chosen], len_y[chosen]
        x = _gather(tokens, pairs[chosen, 0], int(lx.max()))
        y = _gather(tokens, pairs[chosen, 1], int(ly.max()))
        device = tokens.frames.device
        costs = dtw_batch(
            distance(x, y), torch.as_tensor(lx, device=device), torch.as_tensor(ly, device=device)
        )
        result[chosen] = costs.double().cpu().numpy()
        start = end
    return result


def cell_errors(
    tokens: TokenSet,
    cells: Cells,
    distance: Distance,
    elementwise: bool,
    chunk_elements: int,
) -> np.ndarray:
    """Error (1 - theta) of every cell, from DTW distances of the distinct pairs they need."""
    n = len(tokens)
    codes = []
    for x, a, b in zip(cells.x, cells.a, cells.b):
        codes.append((x[:, None] * n + a[None, :]).ravel())
        codes.append((x[:, None] * n + b[None, :]).ravel())
    unique, inverse = np.unique(np.concatenate(codes), return_inverse=True)
    pairs = np.stack([unique // n, unique % n], axis=1)
    distances = pair_distances(tokens, pairs, distance, elementwise, chunk_elements)
    flat = distances[inverse]
    errors = np.empty(len(cells), dtype=np.float64)
    position = 0
    for i, (x, a, b) in enumerate(zip(cells.x, cells.a, cells.b)):
        d_xa = flat[position:position + len(x) * len(a)].reshape(len(x), len(a))
        position += d_xa.size
        d_xb = flat[position:position + len(x) * len(b)].reshape(len(x), len(b))
        position += d_xb.size
        wrong = (d_xa[:, :, None] > d_xb[:, None, :]) + 0.5 * (d_xa[:, :, None] == d_xb[:, None, :])
        if cells.exclude_self:
            keep = np.broadcast_to((x[:, None] != a[None, :])[:, :, None], wrong.shape)
            errors[i] = wrong[keep].mean()
        else:
            errors[i] = wrong.mean()
    return errors


def _mean_over(
    keys: np.ndarray, values: np.ndarray, kept_columns: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Unweighted mean of ``values`` for each distinct ``keys[:, kept_columns]``."""
    groups, inverse = np.unique(keys[:, kept_columns], axis=0, return_inverse=True)
    inverse = inverse.ravel()
    means = np.bincount(inverse, weights=values) / np.bincount(inverse)
    return groups, means


def aggregate(cells: Cells, errors: np.ndarray) -> float:
    """Mean over contexts [and X speakers], then speakers, then ordered phone pairs."""
    width = cells.keys.shape[1]
    speaker_phones = [1, width - 2, width - 1]  # (s, a, b)
    keys, means = _mean_over(cells.keys, errors, speaker_phones)
    _, means = _mean_over(keys, means, [1, 2])
    return float(means.mean())
