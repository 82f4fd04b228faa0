"""The group pairs whose token-pair DTW distances the cells need.

A cell ``(x, a, b)`` needs ``d(x_i, a_j)`` and ``d(x_i, b_k)`` for all tokens of the groups, so
the work is organised by ordered group pair ``(g, h)``: its block holds the ``n_g x n_h`` DTW
distances (row-major: X tokens on the rows) at ``offsets[q]`` of one flat array. Pairs are
listed by the *family* ``(context, phone)`` of their row group, the unit of work of
``chunks.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dinosr_espnet.eval.abx.cells import Cells, Groups


@dataclass
class PairTable:
    """Distinct ordered group pairs ``(first[q], second[q])``, sorted by ``(family[q], first,
    second)``; block ``q`` is ``values[offsets[q]:offsets[q + 1]]`` reshaped to (size of
    first, size of second)."""

    first: np.ndarray
    second: np.ndarray
    family: np.ndarray
    offsets: np.ndarray
    num_groups: int

    def __len__(self) -> int:
        return len(self.first)

    def index(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Position of each pair ``(first[i], second[i])`` in the table (all must be present)."""
        codes = self.first * self.num_groups + self.second
        order = np.argsort(codes, kind="stable")
        return order[np.searchsorted(codes[order], first * self.num_groups + second)]


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` of integers by sorting (numpy 2's hash-based unique is ~10x slower here)."""
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def pair_table(groups: Groups, cells: list[Cells]) -> PairTable:
    """All distinct (X group, A or B group) pairs of ``cells``, listed family by family."""
    num_groups = len(groups)
    codes = [np.concatenate([c.x * num_groups + c.a, c.x * num_groups + c.b]) for c in cells]
    unique = sorted_unique(np.concatenate(codes)) if codes else np.zeros(0, dtype=np.int64)
    first, second = unique // num_groups, unique % num_groups
    family_of_group = groups.keys[:, 0] * (groups.keys[:, 2].max() + 1) + groups.keys[:, 2]
    order = np.argsort(family_of_group[first], kind="stable")
    first, second, family = first[order], second[order], family_of_group[first[order]]
    sizes = groups.sizes
    offsets = np.concatenate([[0], np.cumsum(sizes[first] * sizes[second])]).astype(np.int64)
    return PairTable(first, second, family, offsets, num_groups)
