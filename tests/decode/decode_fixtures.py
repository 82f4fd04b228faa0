"""Shared helpers of the decoding tests: a letter token list, hand-built emissions, LMs."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence, Union

import numpy as np

TOKENS = ["<blank>", "<unk>", "|"] + list("ACDEHMNORSTVWY")
# LM corpus: after "THE CA?" only CAT is followed by SAT.
LM_SENTENCES = ["THE CAT SAT ON THE MAT", "THE CAR DROVE AWAY"]
# A hand-written bigram with the same preference (no lmplz needed).
BIGRAM_ARPA = """\\data\\
ngram 1=11
ngram 2=8

\\1-grams:
-1.5\t<unk>\t0
-99\t<s>\t-0.3
-1.0\t</s>\t0
-1.0\tTHE\t-0.3
-1.2\tCAT\t-0.3
-1.2\tCAR\t-0.3
-1.2\tSAT\t-0.3
-1.2\tON\t-0.3
-1.2\tMAT\t-0.3
-1.2\tDROVE\t-0.3
-1.2\tAWAY\t-0.3

\\2-grams:
-0.05\t<s> THE
-0.5\tTHE CAT
-0.5\tTHE CAR
-0.1\tCAT SAT
-0.1\tCAR DROVE
-0.1\tSAT ON
-0.1\tDROVE AWAY
-0.1\tAWAY </s>

\\end\\
"""

Frame = Union[str, Mapping[str, float]]


def emissions(frames: Sequence[Frame], tokens: Sequence[str] = TOKENS) -> np.ndarray:
    """(T, V) log-probs: a frame "X" puts 0.9 on token X, a mapping gives several tokens their
    probabilities; the remaining mass is spread evenly over the other tokens."""
    out = np.empty((len(frames), len(tokens)), dtype=np.float32)
    for t, frame in enumerate(frames):
        given = {frame: 0.9} if isinstance(frame, str) else dict(frame)
        rest = (1.0 - sum(given.values())) / (len(tokens) - len(given))
        probs = np.full(len(tokens), rest)
        for token, p in given.items():
            probs[tokens.index(token)] = p
        out[t] = np.log(probs)
    return out


def cat_or_car(p_t: float = 0.44, p_r: float = 0.54) -> np.ndarray:
    """Emissions of "THE CA? SAT": the 7th frame is T or R (R slightly more likely)."""
    return emissions([*"THE|CA", {"T": p_t, "R": p_r}, *"|SAT"])


def write_arpa(path: Path) -> Path:
    path.write_text(BIGRAM_ARPA, encoding="utf-8")
    return path
