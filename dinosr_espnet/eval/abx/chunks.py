"""Work chunks of the DTW distances: which frame-distance matrix serves which group pairs.

The frame distances of a chunk of group pairs come from ONE matrix: the frames of all its row
groups against the frames of all its column groups (one GEMM for cosine, instead of one small
product per token pair). Chunks follow the families ``(context, phone)`` of the row groups
(``PairTable`` order): the partners of the groups ``(c, ., a)`` are exactly the groups of the
speakers who have ``a`` in context ``c``, so a family's matrix holds (almost) only needed
entries, whereas a whole context's matrix is mostly waste on real, sparse item files. Small
families are merged while the matrix stays under ``MERGE_ELEMENTS`` (the Python cost of a
chunk is worth about that many entries), families larger than the budget are cut into slices
of row groups. ``plan_chunks`` computes every chunk's frame indices at once.

Inside a group's block of rows (or columns) its tokens follow in member order (``FrameLayout``).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from dinosr_espnet.eval.abx.cells import Groups
from dinosr_espnet.eval.abx.pairs import PairTable, sorted_unique
from dinosr_espnet.eval.abx.slicing import concat_ranges

MERGE_ELEMENTS = 1 << 14


@dataclass
class FrameLayout:
    """Where the frames of each group member live: ``frames[start[k]:start[k] + length[k]]`` for
    member ``k`` (position in ``Groups.members``), at ``rel[k]`` inside its group's block; a
    group's block has ``group_frames[g]`` frames."""

    start: np.ndarray
    length: np.ndarray
    rel: np.ndarray
    group_frames: np.ndarray


def frame_layout(groups: Groups, offsets: np.ndarray, lengths: np.ndarray) -> FrameLayout:
    """Frame positions of every group member (``offsets``/``lengths`` are the tokens')."""
    length = lengths[groups.members]
    ends = np.cumsum(length)
    group_frames = np.diff(np.concatenate([[0], ends[groups.ptr[1:] - 1]]))
    rel = ends - length - np.repeat(ends[groups.ptr[:-1]] - length[groups.ptr[:-1]], groups.sizes)
    return FrameLayout(offsets[groups.members], length, rel, group_frames)


def block_frames(groups: Groups, layout: FrameLayout, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame indices of groups ``chosen`` one after the other, and each group's first row."""
    member_start = groups.ptr[chosen]
    member_count = groups.sizes[chosen]
    members = concat_ranges(member_start, member_count)
    rows = concat_ranges(layout.start[members], layout.length[members])
    sizes = layout.group_frames[chosen]
    return rows, np.cumsum(sizes) - sizes


def chunks(
    table: PairTable, layout: FrameLayout, budget: int, merge: int = MERGE_ELEMENTS
) -> Iterator[slice]:
    """Consecutive ranges of ``table`` whose frame-distance matrix (rows x columns) stays near
    ``budget`` elements (a single row group may exceed it); whole families merged up to
    ``merge`` elements."""
    total = len(table)
    if total == 0:
        return
    family_start = np.flatnonzero(np.r_[True, table.family[1:] != table.family[:-1]])
    family_end = np.r_[family_start[1:], total]
    run_start = np.flatnonzero(np.r_[True, table.first[1:] != table.first[:-1]])
    run_rows = layout.group_frames[table.first[run_start]]
    run_family = np.searchsorted(family_start, run_start, side="right") - 1
    family_rows = np.bincount(run_family, weights=run_rows).astype(np.int64)
    family_index = np.searchsorted(family_start, np.arange(total), side="right") - 1
    distinct = sorted_unique(family_index * table.num_groups + table.second)
    family_cols = np.bincount(distinct // table.num_groups, minlength=len(family_start),
                              weights=layout.group_frames[distinct % table.num_groups]).astype(np.int64)
    run_bounds = np.searchsorted(run_family, np.arange(len(family_start) + 1))
    begin, rows, cols = 0, 0, 0
    for f, (f_rows, f_cols) in enumerate(zip(family_rows.tolist(), family_cols.tolist())):
        if f_rows * f_cols > budget:
            if begin < family_start[f]:
                yield slice(begin, int(family_start[f]))
            first_run, last_run = run_bounds[f], run_bounds[f + 1]
            sizes = run_rows[first_run:last_run]
            label = (np.cumsum(sizes) - sizes) // max(1, budget // f_cols)
            cuts = run_start[first_run + np.flatnonzero(np.r_[True, label[1:] != label[:-1]])]
            for start, stop in zip(cuts.tolist(), np.r_[cuts[1:], family_end[f]].tolist()):
                yield slice(start, stop)
            begin, rows, cols = int(family_end[f]), 0, 0
        elif rows and (rows + f_rows) * (cols + f_cols) > merge:
            yield slice(begin, int(family_start[f]))
            begin, rows, cols = int(family_start[f]), f_rows, f_cols
        else:
            rows, cols = rows + f_rows, cols + f_cols
    if begin < total:
        yield slice(begin, total)


@dataclass
class ChunkPlan:
    """Chunk ``k`` covers the pairs ``bounds[k]:bounds[k + 1]`` of the table; its matrix has the
    frames ``rows[row_bounds[k]:row_bounds[k + 1]]`` on the rows and ``cols[col_bounds[k]:...]``
    on the columns; pair ``q``'s row group starts at row ``row0[q]`` of its chunk's matrix, its
    column group at column ``col0[q]``."""

    bounds: np.ndarray
    rows: np.ndarray
    row_bounds: np.ndarray
    cols: np.ndarray
    col_bounds: np.ndarray
    row0: np.ndarray
    col0: np.ndarray

    def __len__(self) -> int:
        return len(self.bounds) - 1


def plan_chunks(table: PairTable, groups: Groups, layout: FrameLayout, budget: int) -> ChunkPlan:
    """Frame indices and offsets of all ``chunks`` of a non-empty ``table`` (vectorised, so
    that a chunk costs no numpy work of its own)."""
    bounds = np.array([0] + [part.stop for part in chunks(table, layout, budget)], dtype=np.int64)
    count = len(bounds) - 1
    chunk_of = np.repeat(np.arange(count), np.diff(bounds))
    # Rows: the runs of one row group never straddle chunks, and each group has one run.
    new_run = np.r_[True, table.first[1:] != table.first[:-1]]
    run_of = np.cumsum(new_run) - 1
    rows, run_row = block_frames(groups, layout, table.first[new_run])
    row_bounds = np.r_[run_row[run_of[bounds[:-1]]], len(rows)]
    # Columns: the distinct column groups of every chunk, chunk after chunk.
    codes = chunk_of * table.num_groups + table.second
    distinct = sorted_unique(codes)
    cols, group_col = block_frames(groups, layout, distinct % table.num_groups)
    col_bounds = np.r_[group_col[np.searchsorted(distinct // table.num_groups, np.arange(count))], len(cols)]
    row0 = run_row[run_of] - row_bounds[chunk_of]
    col0 = group_col[np.searchsorted(distinct, codes)] - col_bounds[chunk_of]
    return ChunkPlan(bounds, rows, row_bounds, cols, col_bounds, row0, col0)


def token_pairs(
    table: PairTable, plan: ChunkPlan, chunk: int, groups: Groups, layout: FrameLayout
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """First row, first column, rows and columns (in the chunk's matrix) of every token pair of
    chunk ``chunk``, in the order of the flat values."""
    part = slice(plan.bounds[chunk], plan.bounds[chunk + 1])
    first, second = table.first[part], table.second[part]
    row0, col0 = plan.row0[part], plan.col0[part]
    across = groups.sizes[second]
    count = groups.sizes[first] * across
    pair = np.repeat(np.arange(len(first)), count)
    local = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    i = groups.ptr[first][pair] + local // across[pair]
    j = groups.ptr[second][pair] + local % across[pair]
    return row0[pair] + layout.rel[i], col0[pair] + layout.rel[j], layout.length[i], layout.length[j]
