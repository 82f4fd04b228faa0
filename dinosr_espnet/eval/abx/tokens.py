"""Cut the ABX tokens of an item file out of utterance features.

Tokens are kept in item-file order; their frames are stored in one ``(F, D)`` tensor (on the
compute device, utterance by utterance) with per-token offsets and lengths. Contexts, speakers and phones are
numbered by the sorted order of their names over the kept tokens (these numbers seed the
subsampling, see ``cells.py``). Tokens with no frame after slicing are skipped, counted and
logged; an utterance named in the item file but absent from the features is an error.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from dinosr_espnet.eval.abx.distances import check_probabilities
from dinosr_espnet.eval.abx.features import utterance_matrix
from dinosr_espnet.eval.abx.items import ItemToken
from dinosr_espnet.eval.abx.slicing import concat_ranges, frame_span

logger = logging.getLogger(__name__)


@dataclass
class TokenSet:
    """Frames and labels of the kept tokens (``n`` tokens, ``F`` frames in all)."""

    frames: torch.Tensor  # (F, D)
    offsets: np.ndarray  # (n,) first frame of each token in ``frames``
    lengths: np.ndarray  # (n,) number of frames of each token (>= 1)
    context: np.ndarray  # (n,) index into context_names
    speaker: np.ndarray  # (n,) index into speaker_names
    phone: np.ndarray  # (n,) index into phone_names
    context_names: list[str]
    speaker_names: list[str]
    phone_names: list[str]
    num_skipped: int

    def __len__(self) -> int:
        return len(self.lengths)


def _numbering(names: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    vocab = sorted(set(names))
    index = {name: i for i, name in enumerate(vocab)}
    return np.array([index[n] for n in names], dtype=np.int64), vocab


def build_tokens(
    items: Sequence[ItemToken],
    features: Mapping[str, np.ndarray],
    frame_rate: float,
    slicing: str,
    probabilities: bool = False,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TokenSet:
    """Slice every item token (evaluation.md slicing); ``probabilities`` checks KL/JS input."""
    by_file: dict[str, list[int]] = {}
    for position, item in enumerate(items):
        by_file.setdefault(item.file, []).append(position)
    onsets = np.array([item.onset for item in items], dtype=np.float64)
    ends = np.array([item.offset for item in items], dtype=np.float64)
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    blocks, block_tokens, block_lengths = [], [], []
    dims: set[int] = set()
    for uttid, positions in tqdm(by_file.items(), desc="ABX: slicing tokens", unit="utt", disable=None):
        matrix = utterance_matrix(features, uttid)
        if probabilities:
            check_probabilities(torch.from_numpy(np.asarray(matrix, dtype=np.float64)), uttid)
        dims.add(matrix.shape[1])
        where = np.array(positions, dtype=np.int64)
        start, stop = frame_span(onsets[where], ends[where], matrix.shape[0], frame_rate, slicing)
        keep = stop > start
        lengths = (stop - start)[keep]
        blocks.append(np.asarray(matrix, dtype=np_dtype)[concat_ranges(start[keep], lengths)])
        block_tokens.append(where[keep])
        block_lengths.append(lengths)
    if len(dims) > 1:
        raise ValueError(f"utterances have different feature dimensions: {sorted(dims)}")
    token_of_block = np.concatenate(block_tokens)
    stored_lengths = np.concatenate(block_lengths)
    stored_offsets = np.cumsum(stored_lengths) - stored_lengths
    order = np.argsort(token_of_block, kind="stable")  # item-file order
    kept = token_of_block[order].tolist()
    num_skipped = len(items) - len(kept)
    if num_skipped:
        dropped = np.setdiff1d(np.arange(len(items)), token_of_block)[:5].tolist()
        examples = [f"{items[p].file}@{items[p].onset:.3f}-{items[p].offset:.3f}" for p in dropped]
        logger.warning(
            "ABX: skipped %d of %d tokens with no frame at %g Hz (%s slicing), e.g. %s",
            num_skipped, len(items), frame_rate, slicing, ", ".join(examples),
        )
    if not kept:
        raise ValueError("ABX: no token has any frame; check --frame-rate and the item file")
    frames = torch.from_numpy(np.concatenate(blocks)).to(device=device, dtype=dtype)
    lengths, offsets = stored_lengths[order], stored_offsets[order]
    context, context_names = _numbering([items[p].context for p in kept])
    speaker, speaker_names = _numbering([items[p].speaker for p in kept])
    phone, phone_names = _numbering([items[p].phone for p in kept])
    return TokenSet(
        frames, offsets, lengths, context, speaker, phone,
        context_names, speaker_names, phone_names, num_skipped,
    )
