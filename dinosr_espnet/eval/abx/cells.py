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
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from dinosr_espnet.eval.abx.tokens import TokenSet

_GROUP_DRAW = 0
_SPEAKER_DRAW = 1

GroupKey = tuple[int, int, int]


def subsample(members: np.ndarray, limit: Optional[int], seed: int, key: tuple[int, ...]) -> np.ndarray:
    """At most ``limit`` of ``members`` (order kept), drawn with ``default_rng([seed, *key])``."""
    if limit is None or len(members) <= limit:
        return members
    rng = np.random.default_rng([seed, *key])
    return members[np.sort(rng.choice(len(members), size=limit, replace=False))]


def build_groups(tokens: TokenSet, max_size_group: Optional[int], seed: int) -> dict[GroupKey, np.ndarray]:
    """Token indices of every (context, speaker, phone) group, subsampled."""
    order = np.lexsort((tokens.phone, tokens.speaker, tokens.context))
    keys = np.stack([tokens.context[order], tokens.speaker[order], tokens.phone[order]], axis=1)
    starts = np.flatnonzero(np.r_[True, np.any(keys[1:] != keys[:-1], axis=1)])
    groups = {}
    for members in np.split(order, starts[1:]):
        first = members[0]
        key = (int(tokens.context[first]), int(tokens.speaker[first]), int(tokens.phone[first]))
        groups[key] = subsample(members, max_size_group, seed, (_GROUP_DRAW, *key))
    return groups


@dataclass
class Cells:
    """Cells of one condition: ``keys[i]`` labels cell ``i`` whose sets are ``x[i], a[i], b[i]``.

    Key columns: ``(c, s, a, b)`` within speaker, ``(c, s, x, a, b)`` across speakers.
    """

    keys: np.ndarray
    x: list[np.ndarray] = field(default_factory=list)
    a: list[np.ndarray] = field(default_factory=list)
    b: list[np.ndarray] = field(default_factory=list)
    exclude_self: bool = False

    def __len__(self) -> int:
        return len(self.x)


def _by_context_speaker(groups: dict[GroupKey, np.ndarray]) -> dict[tuple[int, int], dict[int, np.ndarray]]:
    nested: dict[tuple[int, int], dict[int, np.ndarray]] = {}
    for (c, s, p), members in sorted(groups.items()):
        nested.setdefault((c, s), {})[p] = members
    return nested


def within_cells(groups: dict[GroupKey, np.ndarray]) -> Cells:
    """Within-speaker cells (X and A from the same group, x != a)."""
    keys, x, a, b = [], [], [], []
    for (c, s), phones in _by_context_speaker(groups).items():
        for phone_a, group_a in phones.items():
            if len(group_a) < 2:
                continue
            for phone_b, group_b in phones.items():
                if phone_b != phone_a:
                    keys.append((c, s, phone_a, phone_b))
                    x.append(group_a)
                    a.append(group_a)
                    b.append(group_b)
    return Cells(np.array(keys, dtype=np.int64).reshape(-1, 4), x, a, b, exclude_self=True)


def across_cells(groups: dict[GroupKey, np.ndarray], max_x_across: Optional[int], seed: int) -> Cells:
    """Across-speaker cells (X from another speaker than A and B)."""
    speakers_of: dict[tuple[int, int], list[int]] = {}
    for c, s, p in sorted(groups):
        speakers_of.setdefault((c, p), []).append(s)
    keys, x, a, b = [], [], [], []
    for (c, s), phones in _by_context_speaker(groups).items():
        for phone_a, group_a in phones.items():
            others = np.array([o for o in speakers_of[(c, phone_a)] if o != s], dtype=np.int64)
            if len(others) == 0:
                continue
            for phone_b, group_b in phones.items():
                if phone_b == phone_a:
                    continue
                chosen = subsample(others, max_x_across, seed, (_SPEAKER_DRAW, c, s, phone_a, phone_b))
                for speaker_x in chosen:
                    keys.append((c, s, int(speaker_x), phone_a, phone_b))
                    x.append(groups[(c, int(speaker_x), phone_a)])
                    a.append(group_a)
                    b.append(group_b)
    return Cells(np.array(keys, dtype=np.int64).reshape(-1, 5), x, a, b, exclude_self=False)
