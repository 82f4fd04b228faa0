"""Read per-utterance CTC emissions (T, V) float log-probs from a kaldiio ark or scp.

``dinosr_espnet.bin.asr_inference`` writes them (``emissions.scp``); any (T, V) float matrix
whose column v is token v of the token list works.
"""
from __future__ import annotations

import os
from typing import Iterator, Optional

import numpy as np


def iter_emissions(path: str | os.PathLike, num_tokens: int) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(utt_id, emissions)`` in file order, emissions float32 C-contiguous (T, V).

    ``path`` is an ``.scp`` (read lazily, one matrix at a time) or an ``.ark``. Raises ValueError
    naming the file and utterance for a duplicated id, or when a matrix is not 2-D, has a column
    count other than ``num_tokens``, or holds NaN / +inf.
    """
    import kaldiio

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"emissions file {path} does not exist")
    if path.endswith(".scp"):
        scp = kaldiio.load_scp(path)
        items = ((key, scp[key]) for key in scp)
    else:
        items = kaldiio.load_ark(path)
    seen: set[str] = set()
    for key, matrix in items:
        if key in seen:
            raise ValueError(f"{path}: duplicated utterance {key!r}")
        seen.add(key)
        yield key, check_emissions(np.asarray(matrix), num_tokens, f"{path}: utterance {key!r}")


def count_utterances(path: str | os.PathLike) -> Optional[int]:
    """Number of utterances of an ``.scp`` (its non-empty lines); None for an ark."""
    if not os.fspath(path).endswith(".scp") or not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())


def check_emissions(matrix: np.ndarray, num_tokens: int, where: str) -> np.ndarray:
    """Validate one (T, V) matrix (see ``iter_emissions``); ``where`` prefixes the error."""
    if matrix.ndim != 2:
        raise ValueError(f"{where}: emissions must be a (T, V) matrix, got shape {matrix.shape}")
    if matrix.shape[1] != num_tokens:
        raise ValueError(f"{where}: {matrix.shape[1]} emission columns but {num_tokens} tokens "
                         "in the token list (wrong tokens.txt?)")
    if np.isnan(matrix).any() or np.isposinf(matrix).any():
        raise ValueError(f"{where}: emissions contain NaN or +inf")
    return np.ascontiguousarray(matrix, dtype=np.float32)


def load_emissions(path: str | os.PathLike, num_tokens: int) -> dict[str, np.ndarray]:
    """All emissions of ``path`` in memory (for tuning, which decodes the set many times)."""
    result = dict(iter_emissions(path, num_tokens))
    if not result:
        raise ValueError(f"{path}: no utterances")
    return result
