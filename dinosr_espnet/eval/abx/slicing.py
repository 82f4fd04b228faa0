"""Token onset/offset (seconds) to feature frame ranges (evaluation.md, ABX frame slicing).

Frame ``i`` of features at ``r`` frames/s is centred at ``(i + 0.5) / r``. A token keeps the
frames whose centres lie in ``[onset, offset]``::

    start = max(0, ceil(r * onset - 0.5))
    end   = min(T, floor(r * offset - 0.5))

``"legacy"`` (libri-light / ZeroSpeech 2021 tool) treats ``end`` as exclusive and so drops the
last frame; ``"corrected"`` includes it (slice ``[start, min(T, end + 1))``).
"""
from __future__ import annotations

import math

SLICING_MODES = ("legacy", "corrected")


def frame_span(
    onset: float, offset: float, num_frames: int, frame_rate: float, slicing: str
) -> tuple[int, int]:
    """Python slice bounds ``(start, stop)`` of a token; ``stop <= start`` means no frame."""
    if slicing not in SLICING_MODES:
        raise ValueError(f"slicing must be one of {SLICING_MODES}, got {slicing!r}")
    start = max(0, math.ceil(frame_rate * onset - 0.5))
    end = math.floor(frame_rate * offset - 0.5)
    stop = min(num_frames, end if slicing == "legacy" else end + 1)
    return start, stop
