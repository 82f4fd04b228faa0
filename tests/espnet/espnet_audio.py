"""Synthetic 16 kHz audio and ESPnet data directories for the pretraining tests."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile

FS = 16000


def synth_utterance(rng: np.random.Generator, seconds: float, fs: int = FS) -> np.ndarray:
    """Piecewise harmonic tones (random f0, 3 harmonics) separated by short noise bursts."""
    out = []
    remaining = int(seconds * fs)
    while remaining > 0:
        n = min(remaining, int(rng.uniform(0.08, 0.25) * fs))
        if rng.random() < 0.2:
            seg = rng.normal(0, 0.1, n)
        else:
            t = np.arange(n) / fs
            f0 = rng.choice([110.0, 160.0, 220.0, 300.0])
            seg = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in (1, 2, 3)) * 0.2
        out.append(seg)
        remaining -= n
    wav = np.concatenate(out) + rng.normal(0, 0.005, int(seconds * fs))
    return wav.astype(np.float32)


def write_data_dir(root: Path, durations: Sequence[float], seed: int, prefix: str,
                   fs: int = FS) -> Path:
    """Write wav files, ``wav.scp`` and ``speech_shape`` (uid num_samples) under ``root``."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    scp, shape = [], []
    for i, dur in enumerate(durations):
        uid = f"{prefix}{i:03d}"
        wav = synth_utterance(rng, dur, fs)
        path = root / f"{uid}.wav"
        soundfile.write(path, wav, fs, subtype="PCM_16")
        scp.append(f"{uid} {path}\n")
        shape.append(f"{uid} {len(wav)}\n")
    (root / "wav.scp").write_text("".join(scp))
    (root / "speech_shape").write_text("".join(shape))
    return root
