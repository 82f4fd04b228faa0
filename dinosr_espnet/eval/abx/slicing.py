"""Token onset/offset (seconds) to feature frame ranges (evaluation.md, ABX frame slicing).

Frame ``i`` of features at ``r`` frames/s is centred at ``(i + 0.5) / r``. A token keeps the
frames whose centres lie in ``[onset, offset]``::

    start = max(0, ceil(r * onset - 0.5))
    end   = min(T, floor(r * offset - 0.5))

``"legacy"`` (libri-light / ZeroSpeech 2021 tool) treats ``end`` as exclusive and so drops the
last frame; ``"corrected"`` includes it (slice ``[start, min(T, end + 1))``).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

SLICING_MODES = ("legacy", "corrected")


def frame_span(
    onset: ArrayLike, offset: ArrayLike, num_frames: int, frame_rate: float, slicing: str
) -> tuple[np.ndarray, np.ndarray]:
    """Python slice bounds ``(start, stop)`` of tokens (floats or arrays of them; numpy integers
    out); ``stop <= start`` means no frame."""
    if slicing not in SLICING_MODES:
        raise ValueError(f"slicing must be one of {SLICING_MODES}, got {slicing!r}")
    start = np.maximum(0, np.ceil(frame_rate * np.asarray(onset, dtype=np.float64) - 0.5)).astype(np.int64)
    end = np.floor(frame_rate * np.asarray(offset, dtype=np.float64) - 0.5).astype(np.int64)
    stop = np.minimum(num_frames, end if slicing == "legacy" else end + 1)
    return start, stop


def concat_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` for every ``(s, n)``: the rows of many spans."""
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return np.arange(int(lengths.sum()), dtype=np.int64) + shift
