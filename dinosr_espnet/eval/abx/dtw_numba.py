"""DTW of every token pair of many group pairs, compiled with numba (CPU, all threads).

Same recursion, tie order and path-length normalisation as ``dtw.py`` (diagonal, then
``(i, j-1)``, then ``(i-1, j)``; the path length is carried with the chosen predecessor), done
row by row in two scratch rows, in the precision of the distance matrix: float32 distances give
float32 costs as in the legacy Cython DTW, float64 the exact reference. Lengths are kept in the
same float type (small integers, exact) so that the final division stays in that precision.
Group pairs are spread over the numba threads (``numba.set_num_threads``). The frame
distances of many chunks arrive in one flat buffer, so that a single parallel region serves
them all: alternating thousands of small torch and numba parallel regions makes two OpenMP
thread teams spin against each other.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _dtw(dist, start, stride, rows, cols, cost, length):
    """Normalised DTW of the ``rows x cols`` table ``dist[start + i * stride + j]``."""
    acc = dist[start]
    cost[0] = acc
    length[0] = 1
    for j in range(1, cols):
        acc = dist[start + j] + acc
        cost[j] = acc
        length[j] = length[j - 1] + 1
    for i in range(1, rows):
        row = start + i * stride
        diag_c = cost[0]
        diag_l = length[0]
        cost[0] = dist[row] + diag_c
        length[0] = diag_l + 1
        for j in range(1, cols):
            up_c = cost[j]
            up_l = length[j]
            # left beats up on ties, the diagonal beats both (diagonal, left, up)
            best_c, best_l = up_c, up_l
            if cost[j - 1] <= up_c:
                best_c, best_l = cost[j - 1], length[j - 1]
            if diag_c <= best_c:
                best_c, best_l = diag_c, diag_l
            diag_c, diag_l = up_c, up_l
            cost[j] = dist[row + j] + best_c
            length[j] = best_l + 1
    return cost[cols - 1] / length[cols - 1]


@numba.njit(parallel=True, cache=True, nogil=True)
def dtw_group_pairs(dist, base, stride, row0, col0, first, second, out_offset, ptr, member_len, member_rel,
                    out):
    """Fill ``out[out_offset[q] + i * n_h + j]`` with the DTW of member ``i`` of group
    ``first[q]`` and member ``j`` of group ``second[q]``, for every pair ``q``. Pair ``q``'s
    frame distances form a row-major matrix at ``dist[base[q]:]`` with ``stride[q]`` columns,
    its row group from row ``row0[q]``, its column group from column ``col0[q]``."""
    for q in numba.prange(len(first)):
        g, h = first[q], second[q]
        widest = 1
        for k in range(ptr[h], ptr[h + 1]):
            widest = max(widest, member_len[k])
        cost = np.empty(widest, dtype=dist.dtype)
        length = np.empty(widest, dtype=dist.dtype)
        position = out_offset[q]
        for i in range(ptr[g], ptr[g + 1]):
            top = base[q] + (row0[q] + member_rel[i]) * stride[q] + col0[q]
            for j in range(ptr[h], ptr[h + 1]):
                out[position] = _dtw(dist, top + member_rel[j], stride[q], member_len[i], member_len[j],
                                     cost, length)
                position += 1
