"""Seeded subsets ``np.random.default_rng([seed, *key]).choice(n, k, replace=False)``, many at once.

The ABX subsampling (``cells.py``) draws one subset per group and per across-speaker cell, each
from its own ``default_rng([seed, *key])``: tens of thousands of draws on a real item file, where
building a numpy ``Generator`` costs far more than the draw. ``seeded_subsets`` gives the same
subsets (as sorted indices) from one compiled loop: numpy's ``SeedSequence`` pool mixing and
``generate_state``, the ``PCG64`` (XSL-RR 128/64) generator it seeds, its 32-bit output
buffering, Lemire's bounded integers and the Floyd sampling ``Generator.choice`` uses for
populations up to 10,000 (the shuffle that follows only reorders the subset). Tests compare it
with numpy draw by draw; keys or seeds beyond 32 bits, or larger populations, go to numpy.
"""
from __future__ import annotations

import numba
import numpy as np

_FLOYD_MAX_POPULATION = 10_000
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_PCG_MULT_HIGH, _PCG_MULT_LOW = 2549297995355413924, 4865540595714422341


@numba.njit(cache=True, inline="always")
def _u32(value):
    return value & np.uint64(0xFFFFFFFF)


@numba.njit(cache=True)
def _hashmix(value, const):
    """SeedSequence's hashmix; ``const`` is the running hash constant (1-element array)."""
    value = _u32(value ^ const[0])
    const[0] = _u32(const[0] * np.uint64(_MULT_A))
    value = _u32(value * const[0])
    return value ^ (value >> np.uint64(16))


@numba.njit(cache=True)
def _mix(x, y):
    result = _u32(np.uint64(_MIX_L) * x - np.uint64(_MIX_R) * y)  # uint64 wraps: exact mod 2**32
    return result ^ (result >> np.uint64(16))


@numba.njit(cache=True)
def _mul64(a, b):
    """Full 128-bit product of two uint64 as (high, low)."""
    a_lo, a_hi = a & np.uint64(0xFFFFFFFF), a >> np.uint64(32)
    b_lo, b_hi = b & np.uint64(0xFFFFFFFF), b >> np.uint64(32)
    lo_lo, hi_lo, lo_hi, hi_hi = a_lo * b_lo, a_hi * b_lo, a_lo * b_hi, a_hi * b_hi
    cross = (lo_lo >> np.uint64(32)) + (hi_lo & np.uint64(0xFFFFFFFF)) + lo_hi
    high = hi_hi + (hi_lo >> np.uint64(32)) + (cross >> np.uint64(32))
    return high, (cross << np.uint64(32)) | (lo_lo & np.uint64(0xFFFFFFFF))


@numba.njit(cache=True)
def _step(state):
    """PCG64 state <- state * MULT + inc (128-bit, as [high, low, inc_high, inc_low])."""
    high, low = _mul64(state[1], np.uint64(_PCG_MULT_LOW))
    high += state[0] * np.uint64(_PCG_MULT_LOW) + state[1] * np.uint64(_PCG_MULT_HIGH)
    low2 = low + state[3]
    carry = np.uint64(1) if low2 < low else np.uint64(0)
    state[0] = high + state[2] + carry
    state[1] = low2


@numba.njit(cache=True)
def _next64(state):
    """PCG64 XSL-RR output of the next state."""
    _step(state)
    rot = state[0] >> np.uint64(58)
    value = state[0] ^ state[1]
    return (value >> rot) | (value << ((np.uint64(64) - rot) & np.uint64(63)))


@numba.njit(cache=True)
def _next32(state, buffer):
    """numpy's 32-bit draw: the low half of a 64-bit output, the high half kept for the next."""
    if buffer[0] == 1:
        buffer[0] = 0
        return buffer[1]
    value = _next64(state)
    buffer[0], buffer[1] = 1, value >> np.uint64(32)
    return value & np.uint64(0xFFFFFFFF)


@numba.njit(cache=True)
def _bounded(state, buffer, top):
    """Uniform integer in [0, top] (top < 2**32 - 1), Lemire's rejection as numpy."""
    if top == 0:
        return np.uint64(0)
    span = top + np.uint64(1)
    m = _next32(state, buffer) * span
    leftover = m & np.uint64(0xFFFFFFFF)
    if leftover < span:
        threshold = ((np.uint64(1) << np.uint64(32)) - span) % span
        while leftover < threshold:
            m = _next32(state, buffer) * span
            leftover = m & np.uint64(0xFFFFFFFF)
    return m >> np.uint64(32)


@numba.njit(cache=True)
def _seed(words, state):
    """PCG64 state of ``default_rng(words)`` (SeedSequence with a 4-word pool)."""
    pool = np.zeros(4, dtype=np.uint64)
    const = np.array([_INIT_A], dtype=np.uint64)
    for i in range(4):
        pool[i] = _hashmix(words[i] if i < len(words) else np.uint64(0), const)
    for i_src in range(4):
        for i_dst in range(4):
            if i_src != i_dst:
                pool[i_dst] = _mix(pool[i_dst], _hashmix(pool[i_src], const))
    for i_src in range(4, len(words)):
        for i_dst in range(4):
            pool[i_dst] = _mix(pool[i_dst], _hashmix(words[i_src], const))
    out = np.zeros(8, dtype=np.uint64)
    hash_const = np.uint64(_INIT_B)
    for i in range(8):
        value = _u32(pool[i % 4] ^ hash_const)
        hash_const = _u32(hash_const * np.uint64(_MULT_B))
        value = _u32(value * hash_const)
        out[i] = value ^ (value >> np.uint64(16))
    seed_high, seed_low = out[0] | (out[1] << np.uint64(32)), out[2] | (out[3] << np.uint64(32))
    inc_high, inc_low = out[4] | (out[5] << np.uint64(32)), out[6] | (out[7] << np.uint64(32))
    state[0], state[1] = np.uint64(0), np.uint64(0)
    state[2] = (inc_high << np.uint64(1)) | (inc_low >> np.uint64(63))
    state[3] = (inc_low << np.uint64(1)) | np.uint64(1)
    _step(state)
    low = state[1] + seed_low
    state[0] = state[0] + seed_high + (np.uint64(1) if low < state[1] else np.uint64(0))
    state[1] = low
    _step(state)


@numba.njit(cache=True)
def _subsets(words, sizes, limit, out):
    """Row r of ``out``: the sorted Floyd subset of ``limit`` of ``range(sizes[r])`` drawn by
    ``default_rng(words[r])``."""
    state = np.zeros(4, dtype=np.uint64)
    buffer = np.zeros(2, dtype=np.uint64)
    taken = np.zeros(_FLOYD_MAX_POPULATION, dtype=np.bool_)
    for r in range(len(sizes)):
        _seed(words[r], state)
        buffer[0] = 0
        n = sizes[r]
        for j in range(n - limit, n):
            value = np.int64(_bounded(state, buffer, np.uint64(j)))
            chosen = j if taken[value] else value
            taken[chosen] = True
            out[r, j - n + limit] = chosen
        out[r].sort()
        for i in range(limit):
            taken[out[r, i]] = False


def seeded_subsets(seed: int, keys: np.ndarray, sizes: np.ndarray, limit: int) -> np.ndarray:
    """``(R, limit)`` sorted indices: row ``r`` is
    ``sorted(default_rng([seed, *keys[r]]).choice(sizes[r], limit, replace=False))``.

    ``keys`` is ``(R, L)`` non-negative integers, every ``sizes[r] > limit``.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    out = np.empty((len(sizes), limit), dtype=np.int64)
    if len(sizes) == 0:
        return out
    keys = np.asarray(keys, dtype=np.int64).reshape(len(sizes), -1)
    words = np.concatenate([np.full((len(sizes), 1), seed, dtype=np.int64), keys], axis=1)
    if words.min() < 0 or words.max() > 0xFFFFFFFF or sizes.max() > _FLOYD_MAX_POPULATION:
        for r, (row, size) in enumerate(zip(words.tolist(), sizes.tolist())):
            out[r] = np.sort(np.random.default_rng(row).choice(size, limit, replace=False))
        return out
    _subsets(words.astype(np.uint64), sizes, limit, out)
    return out
