"""Named, independent random streams, so that each part of the corpus is reproducible alone.

Every random choice is drawn from `stream(seed, name, *keys)`: adding a language, a split or
an utterance never changes the draws of another one.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, name: str, *keys: int | str) -> np.random.Generator:
    """The random generator for (seed, name, keys); string keys are hashed with CRC-32."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    parts = [seed, zlib.crc32(name.encode())]
    parts += [k if isinstance(k, int) else zlib.crc32(str(k).encode()) for k in keys]
    return np.random.default_rng(parts)
