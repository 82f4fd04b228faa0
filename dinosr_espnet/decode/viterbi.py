"""Viterbi (best-path, greedy) CTC decoding: the LM-free number of the wav2vec 2.0 protocol."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from dinosr_espnet.decode.tokens import BLANK, tokens_to_text


def viterbi_path(emissions: np.ndarray, blank: int = 0) -> list[int]:
    """Token ids of the best CTC path of (T, V) emissions: frame argmax, repeats merged, blanks
    dropped (a blank between two equal tokens keeps both)."""
    if emissions.ndim != 2:
        raise ValueError(f"emissions must be (T, V), got shape {emissions.shape}")
    best = emissions.argmax(axis=1)
    keep = np.ones(len(best), dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    return [int(i) for i in best[keep] if i != blank]


def viterbi_decode(emissions: np.ndarray, tokens: Sequence[str]) -> str:
    """Best-path transcript of (T, V) log-probs; column v is ``tokens[v]``, ``tokens[0]`` the blank,
    ``|`` becomes a space."""
    if emissions.shape[-1] != len(tokens):
        raise ValueError(f"emissions have {emissions.shape[-1]} columns, the token list "
                         f"{len(tokens)} tokens")
    if tokens[0] != BLANK:
        raise ValueError(f"token 0 must be {BLANK!r}, got {tokens[0]!r}")
    return tokens_to_text(tokens[i] for i in viterbi_path(emissions))
