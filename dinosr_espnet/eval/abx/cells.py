"""ABX cells: which token groups are compared (evaluation.md, conditions and subsampling).

A group is the set of tokens sharing context ``c``, speaker ``s`` and phone ``p``. Groups larger
than ``max_size_group`` keep a random subset, drawn once per group with
``numpy.random.default_rng([seed, 0, c, s, p]).choice(n, max_size_group, replace=False)``
(sorted, so tokens stay in item-file order); ``c, s, p`` are the indices of the sorted names.
The legacy tool redraws the subset for every phone pair and is unseeded.

- within-speaker cell ``(c, s, a, b)``, ``a != b``: A = X = group ``(c, s, a)`` (needs >= 2
  tokens, since x = a is excluded), B = group ``(c, s, b)``;
- across-speaker cell ``(c, s, x, a, b)``: A = ``(c, s, a)``, B = ``(c, s, b)``, X = ``(c, x, a)``
  for a speaker ``x != s``. When more than ``max_x_across`` speakers qualify for ``(c, s, a, b)``,
  ``default_rng([seed, 1, c, s, a, b])`` picks ``max_x_across`` of them (sorted).

Groups are numbered in ``(c, s, p)`` order and cells refer to them by number, so that every
later step works on integer arrays. All draws of a kind are made at once by ``seeded_subsets``
(``draws.py``), which gives numpy's subsets without building a ``Generator`` per draw.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from dinosr_espnet.eval.abx.draws import seeded_subsets
from dinosr_espnet.eval.abx.slicing import concat_ranges
from dinosr_espnet.eval.abx.tokens import TokenSet

_GROUP_DRAW = 0
_SPEAKER_DRAW = 1


@dataclass
class Groups:
    """Subsampled token groups: group ``g`` has key ``keys[g] = (c, s, p)`` and the tokens
    ``members[ptr[g]:ptr[g + 1]]`` (item-file order); keys are sorted."""

    keys: np.ndarray  # (G, 3)
    members: np.ndarray  # (sum of group sizes,) token indices
    ptr: np.ndarray  # (G + 1,)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def sizes(self) -> np.ndarray:
        """Number of tokens of every group."""
        return np.diff(self.ptr)


def build_groups(tokens: TokenSet, max_size_group: Optional[int], seed: int) -> Groups:
    """Token indices of every (context, speaker, phone) group, subsampled."""
    order = np.lexsort((tokens.phone, tokens.speaker, tokens.context))
    labels = np.stack([tokens.context[order], tokens.speaker[order], tokens.phone[order]], axis=1)
    starts = np.flatnonzero(np.r_[True, np.any(labels[1:] != labels[:-1], axis=1)])
    keys = labels[starts]
    sizes = np.diff(np.r_[starts, len(order)])
    keep = np.ones(len(order), dtype=bool)
    if max_size_group is not None and (sizes > max_size_group).any():
        big = np.flatnonzero(sizes > max_size_group)
        draw_keys = np.concatenate([np.full((len(big), 1), _GROUP_DRAW), keys[big]], axis=1)
        picks = seeded_subsets(seed, draw_keys, sizes[big], max_size_group)
        keep[concat_ranges(starts[big], sizes[big])] = False
        keep[(starts[big][:, None] + picks).ravel()] = True
        sizes = np.minimum(sizes, max_size_group)
    ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return Groups(keys.astype(np.int64), order[keep].astype(np.int64), ptr)


@dataclass
class Cells:
    """Cells of one condition: cell ``i`` is labelled ``keys[i]`` and compares the groups
    ``x[i], a[i], b[i]`` (indices into ``Groups``).

    Key columns: ``(c, s, a, b)`` within speaker, ``(c, s, x, a, b)`` across speakers.
    """

    keys: np.ndarray
    x: np.ndarray
    a: np.ndarray
    b: np.ndarray
    exclude_self: bool

    def __len__(self) -> int:
        return len(self.x)


def _block_pairs(groups: Groups) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs ``(g, h)``, ``g != h``, of groups with the same context and speaker,
    in ``(c, s, phone of g, phone of h)`` order."""
    keys = groups.keys
    starts = np.flatnonzero(np.r_[True, np.any(keys[1:, :2] != keys[:-1, :2], axis=1)])
    sizes = np.diff(np.r_[starts, len(keys)])
    block_size = np.repeat(sizes, sizes)
    block_start = np.repeat(starts, sizes)
    first = np.repeat(np.arange(len(keys)), block_size)
    local = np.arange(len(first)) - np.repeat(np.cumsum(block_size) - block_size, block_size)
    second = block_start[first] + local
    keep = first != second
    return first[keep], second[keep]


def within_cells(groups: Groups) -> Cells:
    """Within-speaker cells (X and A from the same group, x != a)."""
    first, second = _block_pairs(groups)
    keep = groups.sizes[first] >= 2
    a, b = first[keep], second[keep]
    keys = np.concatenate([groups.keys[a], groups.keys[b, 2:]], axis=1)
    return Cells(keys, a, a, b, exclude_self=True)


def across_cells(groups: Groups, max_x_across: Optional[int], seed: int) -> Cells:
    """Across-speaker cells (X from another speaker than A and B)."""
    keys = groups.keys
    # Families: groups of one (context, phone), ordered by speaker.
    family = np.lexsort((keys[:, 1], keys[:, 2], keys[:, 0]))
    starts = np.flatnonzero(np.r_[True, np.any(np.diff(keys[family][:, [0, 2]], axis=0) != 0, axis=1)])
    sizes = np.diff(np.r_[starts, len(keys)])
    family_start, family_size = np.empty_like(keys[:, 0]), np.empty_like(keys[:, 0])
    family_start[family], family_size[family] = np.repeat(starts, sizes), np.repeat(sizes, sizes)
    a, b = _block_pairs(groups)
    drawn = np.zeros(len(a), dtype=bool) if max_x_across is None else family_size[a] - 1 > max_x_across
    # Every other speaker of the family when there are few enough ...
    full = np.flatnonzero(~drawn)
    size = family_size[a[full]]
    pair = np.repeat(full, size)
    x = family[family_start[a[pair]] + np.arange(len(pair)) - np.repeat(np.cumsum(size) - size, size)]
    keep = x != a[pair]
    pairs, xs = [pair[keep]], [x[keep]]
    # ... else a seeded draw per (c, s, a, b) among the other speakers of the family.
    drawn = np.flatnonzero(drawn)
    if len(drawn):
        ga = a[drawn]
        draw_keys = np.concatenate([np.full((len(drawn), 1), _SPEAKER_DRAW), keys[ga], keys[b[drawn], 2:]], axis=1)
        picks = seeded_subsets(seed, draw_keys, family_size[ga] - 1, max_x_across)
        position = np.empty_like(family)
        position[family] = np.arange(len(family))
        own = (position[ga] - family_start[ga])[:, None]
        xs.append(family[family_start[ga][:, None] + picks + (picks >= own)].ravel())
        pairs.append(np.repeat(drawn, max_x_across))
    pair, x = np.concatenate(pairs), np.concatenate(xs)
    a_keys = keys[a[pair]]
    cell_keys = np.stack([a_keys[:, 0], a_keys[:, 1], keys[x, 1], a_keys[:, 2], keys[b[pair], 2]], axis=1)
    order = np.lexsort((cell_keys[:, 2], cell_keys[:, 4], cell_keys[:, 3], cell_keys[:, 1], cell_keys[:, 0]))
    return Cells(cell_keys[order], x[order], a[pair][order], b[pair][order], exclude_self=False)
