"""Shared helpers of the fine-tuning tests: config paths, tokens, a synthetic ASR data dir."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

REPO = Path(__file__).resolve().parents[2]
PRETRAIN_TINY = REPO / "conf" / "pretrain_tiny.yaml"
FINETUNE_TINY = REPO / "conf" / "finetune_tiny.yaml"
TOKENS = ["<blank>", "<unk>", "|", "A", "B", "C", "D", "E"]
FS = 16000


def write_asr_data(root: Path, num_utts: int = 6, seed: int = 0) -> dict[str, Path]:
    """A Kaldi-style ASR data dir of tone/noise "utterances" (0.4–1.0 s) with letter text,
    plus ESPnet shape files and a token list. Returns the paths by name."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    scp, text, n_samples, text_shape = [], [], [], []
    for i in range(num_utts):
        uid = f"utt{i:02d}"
        n = int(rng.integers(6400, 16000))
        t = np.arange(n) / FS
        wav = 0.3 * np.sin(2 * np.pi * rng.choice([150.0, 220.0, 300.0]) * t)
        wav = (wav + rng.normal(0, 0.02, n)).astype(np.float32)
        soundfile.write(root / f"{uid}.wav", wav, FS, subtype="PCM_16")
        words = ["".join(rng.choice(list("ABCDE"), size=rng.integers(1, 4)))
                 for _ in range(rng.integers(1, 3))]
        sentence = " ".join(words)
        scp.append(f"{uid} {root / (uid + '.wav')}\n")
        text.append(f"{uid} {sentence}\n")
        n_samples.append(f"{uid} {n}\n")
        text_shape.append(f"{uid} {len(sentence)}\n")
    files = {"wav.scp": scp, "text": text, "utt2num_samples": n_samples,
             "speech_shape": n_samples, "text_shape.char": text_shape,
             "tokens.txt": [t + "\n" for t in TOKENS]}
    for name, lines in files.items():
        (root / name).write_text("".join(lines))
    return {name: root / name for name in files}
