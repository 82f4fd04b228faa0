"""Recording conditions of the generated LibriSpeech: a room and a microphone per chapter.

LibriVox readers record each chapter at home, in a room and through a microphone of their own:
every chapter gets a reverberant room (a synthetic impulse response: a direct path plus an
exponentially decaying noise tail with reverberation time ``rt60`` and direct-to-reverberant
ratio ``drr_db``) and a band-limited channel (2nd-order Butterworth band-pass between
``highpass_hz`` and ``lowpass_hz``), optionally coloured (``eq_db``: three peaking filters at
random frequencies with gains up to ± ``eq_db``, the uneven response of a cheap microphone). Ranges are in ``conf/corpus/synthesis.yaml``; a zero
``rt60`` range means a dry room. The direct path sits at delay 0, so phone alignments are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, fftconvolve, sosfilt

from dinosr_espnet.data.synth.audio import RATE

ROOM_KEYS = ("rt60", "drr_db", "highpass_hz", "lowpass_hz")
OPTIONAL_ROOM_KEYS = ("eq_db",)
_EQ_BANDS = 3
_EARLY_GAP = 0.0025  # s between the direct path and the start of the reverberant tail
_DECAY_60DB = np.log(1000.0)  # amplitude decay exponent reaching -60 dB at t = rt60


@dataclass(frozen=True)
class Room:
    """One chapter's recording conditions."""

    rt60: float
    drr_db: float
    highpass_hz: float
    lowpass_hz: float
    eq: tuple[tuple[float, float, float], ...] = ()  # (centre Hz, gain dB, Q) per peaking filter


def sample_room(rng: np.random.Generator, style: dict) -> Room:
    """Draw a room from the uniform [min, max] ranges of ``style``'s ``room`` section."""
    room = style["room"]
    values = {k: round(float(rng.uniform(*room[k])), 4) for k in ROOM_KEYS}
    eq = ()
    if "eq_db" in room:
        lo, hi = room["eq_db"]
        eq = tuple(
            (round(float(np.exp(rng.uniform(np.log(200), np.log(5000)))), 1),
             round(float(rng.uniform(lo, hi) * rng.choice([-1, 1])), 2), round(float(rng.uniform(0.7, 2.0)), 2))
            for _ in range(_EQ_BANDS)
        )
    return Room(**values, eq=eq)


def _peaking(centre: float, gain_db: float, q: float) -> np.ndarray:
    """Second-order section of a peaking equaliser (RBJ audio-EQ cookbook)."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * centre / RATE
    alpha = np.sin(w0) / (2 * q)
    b = [1 + alpha * a, -2 * np.cos(w0), 1 - alpha * a]
    den = [1 + alpha / a, -2 * np.cos(w0), 1 - alpha / a]
    return np.array([[*(v / den[0] for v in b), 1.0, den[1] / den[0], den[2] / den[0]]])


def impulse_response(room: Room, rng: np.random.Generator) -> np.ndarray:
    """Unit direct path at delay 0 plus a decaying noise tail whose energy is ``drr_db``
    below the direct path's; just the direct path when ``rt60`` is 0."""
    if room.rt60 <= 0:
        return np.ones(1, np.float32)
    start = int(_EARLY_GAP * RATE)
    t = np.arange(int(room.rt60 * RATE)) / RATE
    tail = rng.standard_normal(len(t)) * np.exp(-_DECAY_60DB * t / room.rt60)
    tail *= np.sqrt(10 ** (-room.drr_db / 10) / np.sum(tail**2))
    ir = np.zeros(start + len(t), np.float64)
    ir[0] = 1.0
    ir[start:] = tail
    return ir.astype(np.float32)


def record(audio: np.ndarray, room: Room, ir: np.ndarray) -> np.ndarray:
    """``audio`` played in the room (impulse response ``ir``, tail cut at the original
    length) and through the microphone's band-pass."""
    wet = fftconvolve(audio, ir)[: len(audio)] if len(ir) > 1 else audio
    sos = butter(2, [room.highpass_hz, room.lowpass_hz], btype="bandpass", fs=RATE, output="sos")
    sos = np.concatenate([sos] + [_peaking(*band) for band in room.eq])
    return sosfilt(sos, wet).astype(np.float32)


def position_change(audio: np.ndarray, rng: np.random.Generator, max_db: float) -> np.ndarray:
    """The reader's position towards the microphone for one utterance: a broad peaking
    filter (300 Hz - 4 kHz, gain uniform in ± ``max_db``). No change when ``max_db`` is 0."""
    if max_db <= 0:
        return audio
    band = (float(np.exp(rng.uniform(np.log(300), np.log(4000)))), float(rng.uniform(-max_db, max_db)),
            float(rng.uniform(0.5, 1.5)))
    return sosfilt(_peaking(*band), audio).astype(np.float32)


def check_room(room: dict, where: str) -> None:
    """Validate a ``room`` section; raises ValueError naming the key."""
    if not isinstance(room, dict):
        raise ValueError(f"{where}: expected a mapping with keys {list(ROOM_KEYS)}")
    unknown, missing = set(room) - set(ROOM_KEYS) - set(OPTIONAL_ROOM_KEYS), set(ROOM_KEYS) - set(room)
    if unknown or missing:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
    for key in [k for k in (*ROOM_KEYS, *OPTIONAL_ROOM_KEYS) if k in room]:
        lo, hi = room[key]
        if lo > hi or lo < 0:
            raise ValueError(f"{where}.{key}: need 0 <= min <= max, got [{lo}, {hi}]")
    if room["lowpass_hz"][1] >= RATE / 2 or room["highpass_hz"][0] <= 0:
        raise ValueError(f"{where}: band-pass edges must lie in (0, {RATE // 2}) Hz")
    if room["highpass_hz"][1] >= room["lowpass_hz"][0]:
        raise ValueError(f"{where}: highpass_hz must stay below lowpass_hz")
