"""Synthetic data and ``python -m dinosr_espnet.bin.dinosr_train`` command lines for the
data-parallel equivalence test (one process vs two gloo ranks on CPU)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile
import yaml

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / "conf" / "pretrain_tiny.yaml"
FS = 16000


def write_data_dir(root: Path, num_utts: int, seconds: float, seed: int) -> Path:
    """``num_utts`` equal-length noisy-tone utterances: ``wav.scp`` and ``speech_shape``.

    Equal lengths mean the collate never crops, so a rank's shard holds exactly the samples
    that the one-process batch holds for the same utterances.
    """
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    n = int(seconds * FS)
    t = np.arange(n) / FS
    scp, shape = [], []
    for i in range(num_utts):
        uid = f"utt{seed}_{i:02d}"
        f0 = rng.uniform(100, 300)
        wav = 0.3 * np.sin(2 * np.pi * f0 * t) + rng.normal(0, 0.05, n)
        soundfile.write(root / f"{uid}.wav", wav.astype(np.float32), FS, subtype="PCM_16")
        scp.append(f"{uid} {root / f'{uid}.wav'}\n")
        shape.append(f"{uid} {n}\n")
    (root / "wav.scp").write_text("".join(scp))
    (root / "speech_shape").write_text("".join(shape))
    return root


def write_config(path: Path, epochs: int, mask_seed: int = 1234) -> Path:
    """The tiny recipe config, one update per epoch (so the reporter keeps each update's
    loss), seeded per-utterance masks."""
    cfg = yaml.safe_load(TINY_CONFIG.read_text())
    cfg["model_conf"]["mask_seed"] = mask_seed
    cfg.update(max_epoch=epochs, num_iters_per_epoch=1, keep_nbest_models=1)
    path.write_text(yaml.safe_dump(cfg))
    return path


def train_args(config: Path, train: Path, dev: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "dinosr_espnet.bin.dinosr_train", "--config", str(config),
        "--ngpu", "0", "--output_dir", str(out),
        "--train_data_path_and_name_and_type", f"{train}/wav.scp,speech,sound",
        "--valid_data_path_and_name_and_type", f"{dev}/wav.scp,speech,sound",
        "--train_shape_file", str(train / "speech_shape"),
        "--valid_shape_file", str(dev / "speech_shape"),
    ]


def ddp_args(init_file: Path, world_size: int, rank: int) -> list[str]:
    """ESPnet's external-launcher mode on CPU: one process per rank, gloo, shared-file init."""
    return ["--multiprocessing_distributed", "false", "--dist_backend", "gloo",
            "--dist_init_method", f"file://{init_file}", "--dist_world_size", str(world_size),
            "--dist_rank", str(rank)]


def start(cmd: Sequence[str], log: Path) -> subprocess.Popen:
    """Start ``cmd`` with one torch thread, output to ``log``."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    with open(log, "w") as f:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(list(cmd), cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT)
