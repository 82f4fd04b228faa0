"""Builders for the unit-discovery tests: a random tiny DinoSR experiment and a tone corpus."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import torch
import yaml

from dinosr_espnet.model.config import DinoSRConfig
from dinosr_espnet.model.dinosr import DinoSR

FS = 16000
TINY_320 = dict(
    conv_layers=[(16, 10, 5)] + [(16, 3, 2)] * 4 + [(16, 2, 2)] * 2,
    embed_dim=32, ffn_dim=64, num_heads=4, num_layers=3,
    pos_conv_depth=2, pos_conv_kernel=5, pos_conv_groups=4,
    num_codebooks=2, codebook_size=8, mask_length=3,
)
PHONES = {"a": 300.0, "b": 700.0, "c": 1300.0, "d": 2200.0}


def make_experiment(out_dir: Path, seed: int = 0) -> Path:
    """Write ``config.yaml`` (``fs`` + ``model_conf``) and ``model.pth`` (``dinosr.*`` keys)."""
    torch.manual_seed(seed)
    cfg = DinoSRConfig.from_dict(TINY_320)
    model = DinoSR(cfg)
    (out_dir / "config.yaml").write_text(yaml.safe_dump({"fs": FS, "model_conf": cfg.to_dict()}))
    path = out_dir / "model.pth"
    torch.save({"dinosr." + k: v for k, v in model.state_dict().items()}, path)
    return path


def tone_utterance(phones: list[str], frames: list[int], shift: float, rng) -> np.ndarray:
    """Concatenated tones (10 ms label frames each); ``sil`` is low noise."""
    pieces = []
    for phone, n in zip(phones, frames):
        t = np.arange(n * FS // 100) / FS
        if phone == "sil":
            pieces.append(0.01 * rng.standard_normal(len(t)))
        else:
            f = PHONES[phone] * shift
            pieces.append(0.5 * np.sin(2 * np.pi * f * t) + 0.02 * rng.standard_normal(len(t)))
    return np.concatenate(pieces).astype(np.float32)


def make_corpus(out_dir: Path, num_utterances: int = 8, seed: int = 0,
                phones_per_utt: int = 10) -> dict[str, Path]:
    """Tone utterances of 2 speakers: ``wav.scp``, ``.phn`` (100 Hz) and triphone ``.item``."""
    rng = np.random.default_rng(seed)
    (out_dir / "wav").mkdir(parents=True, exist_ok=True)
    scp, phn, items = [], [], []
    for u in range(num_utterances):
        speaker = f"spk{u % 2}"
        uid = f"{speaker}-utt{u:02d}"
        seq = ["sil"] + list(rng.choice(list(PHONES), phones_per_utt)) + ["sil"]
        frames = [int(n) for n in rng.integers(6, 12, len(seq))]
        wav = tone_utterance(seq, frames, 1.0 + 0.05 * (u % 2), rng)
        path = out_dir / "wav" / f"{uid}.wav"
        soundfile.write(path, wav, FS, subtype="PCM_16")
        scp.append(f"{uid} {path}\n")
        phn.append(uid + "\t" + ",".join(p for p, n in zip(seq, frames) for _ in range(n)) + "\n")
        starts = np.cumsum([0] + frames)
        for i in range(2, len(seq) - 2):
            items.append(f"{uid} {starts[i - 1] / 100:.2f} {starts[i + 2] / 100:.2f} "
                         f"{seq[i]} {seq[i - 1]} {seq[i + 1]} {speaker}\n")
    files = {"wav_scp": out_dir / "wav.scp", "phn": out_dir / "dev.phn", "item": out_dir / "dev.item"}
    files["wav_scp"].write_text("".join(scp))
    files["phn"].write_text("".join(phn))
    files["item"].write_text("#file onset offset #phone prev-phone next-phone speaker\n" + "".join(items))
    return files
