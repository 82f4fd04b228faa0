"""Audio with its phone spans: resampling, padding, concatenation, noise and 100 Hz labels.

All corpus audio is built at 16 kHz on a 10 ms grid (`HOP` = 160 samples), so every piece
boundary and BABEL segment time is a whole number of label frames: the frame-level labels of
an utterance have exactly `num_samples / HOP` entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from math import ceil, gcd

import numpy as np
import soxr

from dinosr_espnet.data.synth.espeak import SILENCE, Synthesis

RATE = 16000
HOP = 160  # samples per 10 ms label frame at 16 kHz
NOISE_LABEL = "nsn"
HESITATION_LABEL = "hes"


@lru_cache(maxsize=8)
def _tap_matrix(src: int, dst: int, zeros: int, beta: float) -> tuple[int, int, int, np.ndarray]:
    """(up, down, half, matrix): Kaiser-windowed sinc taps of every output phase, placed in a
    (window x up) matrix so that one block of `up` outputs is one input window times it."""
    g = gcd(src, dst)
    up, down = dst // g, src // g
    cutoff = min(1.0, dst / src)
    half = ceil(zeros / cutoff)
    offsets = np.arange(-half + 1, half + 1)
    phase = np.arange(up)
    dist = offsets[None, :] - (phase * down % up)[:, None] / up
    window = np.i0(beta * np.sqrt(np.clip(1 - (dist / half) ** 2, 0, None))) / np.i0(beta)
    taps = cutoff * np.sinc(cutoff * dist) * window
    taps /= taps.sum(axis=1, keepdims=True)
    matrix = np.zeros(((up - 1) * down // up + 2 * half, up), np.float32)
    for p in range(up):
        start = p * down // up
        matrix[start : start + 2 * half, p] = taps[p]
    return up, down, half, matrix


def _resample(
    x: np.ndarray, src: int, dst: int, zeros: int = 16, beta: float = 8.0, rows: int = 4096
) -> np.ndarray:
    """Band-limited resampling by a rational factor up/down (Kaiser-windowed sinc).

    Output sample q*up + p sits at input position q*down + (p*down)/up; it is the dot product
    of the input around that position with phase p's taps (normalised to unit DC gain), so
    the signal is a matrix product of overlapping input windows (stride `down`) with the tap
    matrix. The low-pass cut-off is the lower of the two Nyquist frequencies.
    """
    up, down, half, matrix = _tap_matrix(src, dst, zeros, beta)
    width = matrix.shape[0]
    n_out = -(-len(x) * up // down)
    blocks = -(-n_out // up)
    padded = np.zeros((blocks - 1) * down + width, np.float32)
    padded[half - 1 : half - 1 + len(x)] = x[: len(padded) - half + 1]
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)[::down]
    out = np.concatenate([windows[i : i + rows] @ matrix for i in range(0, blocks, rows)])
    return out.reshape(-1)[:n_out]


def _scaled_spans(spans: list[tuple[str, int, int]], ratio: float, num_samples: int
                  ) -> list[tuple[str, int, int]]:
    """Span bounds times `ratio` (rounded, clipped to `num_samples`), empty spans dropped, the
    last one stretched to the end: spans of a resampled signal."""
    out = []
    for label, start, end in spans:
        s, e = min(round(start * ratio), num_samples), min(round(end * ratio), num_samples)
        if e > s:
            out.append((label, s, e))
    if out:
        out[-1] = (out[-1][0], out[-1][1], num_samples)
    return out


@dataclass
class Track:
    """Float audio at `RATE` with contiguous (label, start, end) phone spans covering it."""

    audio: np.ndarray
    spans: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def num_samples(self) -> int:
        return len(self.audio)

    @classmethod
    def silence(cls, num_samples: int) -> Track:
        return cls(np.zeros(num_samples, np.float32), [(SILENCE, 0, num_samples)] if num_samples else [])

    @classmethod
    def from_synthesis(cls, syn: Synthesis) -> Track:
        """Synthesiser output (int16 at `syn.rate`, e.g. espeak's 22.05 kHz) resampled to
        16 kHz, spans scaled to match."""
        audio = np.frombuffer(syn.pcm, dtype=np.int16).astype(np.float32) / 32768.0
        if syn.rate == RATE:
            return cls(audio, list(syn.phones))
        audio = _resample(audio, syn.rate, RATE)
        return cls(audio, _scaled_spans(syn.phones, RATE / syn.rate, len(audio)))

    @classmethod
    def labelled(cls, audio: np.ndarray, label: str) -> Track:
        """A non-speech sound (noise burst, filler) carrying one label."""
        return cls(audio.astype(np.float32), [(label, 0, len(audio))] if len(audio) else [])

    def __add__(self, other: Track) -> Track:
        shift = self.num_samples
        spans = list(self.spans)
        for label, start, end in other.spans:
            if spans and spans[-1][0] == label == SILENCE and spans[-1][2] == start + shift:
                spans[-1] = (SILENCE, spans[-1][1], end + shift)
            else:
                spans.append((label, start + shift, end + shift))
        return Track(np.concatenate([self.audio, other.audio]), spans)

    def formant_scaled(self, scale: float) -> Track:
        """Played `scale` times faster (soxr resampling): formants and pitch move up by
        `scale`, durations shrink by it, spans follow. A vocal-tract length change."""
        if scale == 1.0 or not self.num_samples:
            return self
        audio = soxr.resample(self.audio, RATE, RATE / scale).astype(np.float32)
        return Track(audio, _scaled_spans(self.spans, len(audio) / self.num_samples, len(audio)))

    def warped(self, rng: np.random.Generator, depth: float, rate_hz: float = 1.5) -> Track:
        """Played at a slowly varying speed 1 + `depth` * w(t) (w: smooth random, |w| <= 1,
        changing about `rate_hz` times a second): formants, pitch and durations drift within
        the utterance, so repeated phones differ. Spans follow the time map exactly."""
        if depth <= 0 or self.num_samples < 2:
            return self
        knots = max(2, int(self.num_samples / RATE * rate_hz) + 2)
        grid = np.linspace(0, self.num_samples, knots)
        wobble = np.interp(np.arange(self.num_samples), grid, rng.uniform(-1, 1, knots))
        position = np.concatenate([[0.0], np.cumsum(1.0 + depth * wobble)])  # input sample of each output
        n_out = int(np.searchsorted(position, self.num_samples - 1, side="right"))
        fine = soxr.resample(self.audio, RATE, 2 * RATE)  # interpolate on a 2x grid: little loss
        audio = np.interp(2 * position[:n_out], np.arange(len(fine)), fine).astype(np.float32)
        spans = []
        for label, start, end in self.spans:
            s, e = (int(np.searchsorted(position[:n_out], v)) for v in (start, end))
            if e > s:
                spans.append((label, s, e))
        spans[-1] = (spans[-1][0], spans[-1][1], n_out)
        return Track(audio, spans)

    def padded(self, lead: int, trail: int) -> Track:
        """Add `lead`/`trail` samples of silence, then more trailing silence up to a HOP multiple."""
        trail += -(lead + self.num_samples + trail) % HOP
        return Track.silence(lead) + self + Track.silence(trail)

    def speech_rms(self) -> float:
        """RMS over the non-silence spans (the reference level for SNR)."""
        parts = [self.audio[s:e] for label, s, e in self.spans if label != SILENCE]
        x = np.concatenate(parts) if parts else self.audio
        return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0

    def labels(self) -> list[str]:
        """One label per 10 ms frame (see `frame_labels`)."""
        return frame_labels(self.spans, self.num_samples)


def frame_labels(spans: list[tuple[str, int, int]], num_samples: int) -> list[str]:
    """One label per 10 ms frame: the span containing the frame's centre sample.

    `spans` must be contiguous and cover [0, num_samples); there are num_samples // HOP frames.
    """
    centres = np.arange(num_samples // HOP) * HOP + HOP // 2
    ends = np.array([end for _, _, end in spans])
    idx = np.searchsorted(ends, centres, side="right")
    return [spans[i][0] for i in idx]


def noise(rng: np.random.Generator, num_samples: int, colour: float = 0.0) -> np.ndarray:
    """Unit-RMS Gaussian noise; `colour` in [0, 1) low-passes it with a one-pole filter
    (applied in the frequency domain, circularly; 0 = white)."""
    if colour > 0 and num_samples:
        n_fft = 1 << (num_samples - 1).bit_length()  # a fast FFT length; the tail is cut off
        omega = np.linspace(0, np.pi, n_fft // 2 + 1)
        response = (1 - colour) / (1 - colour * np.exp(-1j * omega))
        x = np.fft.irfft(np.fft.rfft(rng.standard_normal(n_fft)) * response, n_fft)[:num_samples]
    else:
        x = rng.standard_normal(num_samples)
    rms = np.sqrt(np.mean(x**2)) if num_samples else 1.0
    return (x / max(rms, 1e-12)).astype(np.float32)


def add_noise(
    audio: np.ndarray, speech_rms: float, snr_db: float, rng: np.random.Generator, colour: float
) -> np.ndarray:
    """Mix in noise at `snr_db` below the speech RMS."""
    level = speech_rms * 10 ** (-snr_db / 20)
    return audio + level * noise(rng, len(audio), colour)


def babble(rng: np.random.Generator, num_samples: int, talkers: int) -> np.ndarray:
    """Unit-RMS babble-like noise: `talkers` voices in the distance, each a low-passed noise
    (random colour) under a syllable-rate envelope (3-7 Hz on/off), summed."""
    out = np.zeros(num_samples, np.float64)
    t = np.arange(num_samples) / RATE
    for _ in range(talkers):
        rate_hz = rng.uniform(3.0, 7.0)
        phase = 2 * np.pi * rate_hz * t + rng.uniform(0, 2 * np.pi)
        wobble = 0.5 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * t + rng.uniform(0, 2 * np.pi))
        envelope = np.clip(np.sin(phase + wobble), 0, None) ** 2
        out += envelope * noise(rng, num_samples, rng.uniform(0.5, 0.95)) * rng.uniform(0.5, 1.0)
    rms = np.sqrt(np.mean(out**2)) if num_samples else 1.0
    return (out / max(rms, 1e-12)).astype(np.float32)


def add_babble(
    audio: np.ndarray, speech_rms: float, snr_db: float, rng: np.random.Generator, talkers: int
) -> np.ndarray:
    """Mix in `talkers`-voice babble at `snr_db` below the speech RMS."""
    level = speech_rms * 10 ** (-snr_db / 20)
    return audio + level * babble(rng, len(audio), talkers)


def hesitation(rng: np.random.Generator, seconds: float, f0: float, level: float) -> np.ndarray:
    """A filler `uh`: a harmonic buzz at `f0` with a raised-cosine envelope."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    f = f0 * (1 - 0.1 * t / max(seconds, 1e-3))  # falling pitch
    phase = 2 * np.pi * np.cumsum(f) / RATE
    buzz = sum(np.sin(k * phase) * np.exp(-(((k * f0 - 550) / 400) ** 2)) for k in range(1, 20))
    env = np.sin(np.pi * np.arange(n) / max(n, 1)) ** 0.5
    x = buzz * env
    return (level * x / max(np.sqrt(np.mean(x**2)), 1e-12)).astype(np.float32) + 0.01 * level * noise(rng, n)


def burst(rng: np.random.Generator, seconds: float, level: float, colour: float) -> np.ndarray:
    """A non-speech noise burst (breath, static, cough, click) with a smooth envelope."""
    n = int(seconds * RATE)
    env = np.sin(np.pi * np.arange(n) / max(n, 1))
    return (level * env * noise(rng, n, colour)).astype(np.float32)


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Quantise to 16-bit PCM with clipping."""
    return np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)


def downsample(audio: np.ndarray, rate: int) -> np.ndarray:
    """Resample 16 kHz float audio to `rate` (e.g. 8 kHz for BABEL)."""
    return audio if rate == RATE else _resample(audio, RATE, rate)
