"""MFCC k-means units: the unit-quality baseline of HuBERT / DinoSR (spec §8: PNMI ~0.28).

Features: Kaldi MFCC (``torchaudio.compliance.kaldi.mfcc``: 13 cepstra, 25 ms window, 10 ms
shift, no energy, no dither) plus deltas and delta-deltas (39 dims) at 100 Hz.

Frame rate, for a fair comparison with 50 Hz DinoSR units: by default every second frame is kept
(frames 0, 2, 4, ...). With ``snip_edges`` the 100 Hz frame ``2j`` is centred at
``12.5 + 20 j`` ms, exactly the centre of frame ``j`` of the wav2vec-style CNN (receptive field
400 samples, stride 320 at 16 kHz), so both unit streams share frame timing and are scored with
``repeat=2`` against 100 Hz labels (ABX at ``--frame-rate 50``). ``subsample=1`` keeps 100 Hz
(HuBERT's setting; score with ``repeat=1`` and ABX at 100 Hz). Deltas are computed at 100 Hz
before subsampling.

K-means: scikit-learn ``MiniBatchKMeans`` (k-means++, seeded), HuBERT's settings by default.
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
import torchaudio
from sklearn.cluster import MiniBatchKMeans
from tqdm import tqdm

from dinosr_espnet.data.audio import AudioError, read_audio, to_mono
from dinosr_espnet.data.kaldi_dir import read_kaldi_map
from dinosr_espnet.eval.units import write_units

logger = logging.getLogger(__name__)

MFCC_RATE = 100.0


def mfcc_features(waveform: np.ndarray, sample_rate: int, subsample: int = 2) -> np.ndarray:
    """(T, 39) MFCC + deltas + delta-deltas of a mono waveform, every ``subsample``-th frame."""
    wave = torch.as_tensor(np.asarray(waveform, dtype=np.float32)).reshape(1, -1)
    mfcc = torchaudio.compliance.kaldi.mfcc(wave, sample_frequency=float(sample_rate), use_energy=False)
    ceps = mfcc.transpose(0, 1)  # (13, T): compute_deltas works along the last axis
    deltas = torchaudio.functional.compute_deltas(ceps)
    deltas2 = torchaudio.functional.compute_deltas(deltas)
    stacked = torch.cat([ceps, deltas, deltas2]).transpose(0, 1)
    return stacked[::subsample].numpy()


def extract_mfcc(wav_scp: Path, subsample: int = 2) -> dict[str, np.ndarray]:
    """MFCC features of every utterance of a ``wav.scp`` (files, ``cmd |`` pipes, ark offsets)."""
    entries = read_kaldi_map(wav_scp)
    if not entries:
        raise ValueError(f"{wav_scp}: empty wav.scp")
    features = {}
    for uid, entry in tqdm(entries.items(), desc="MFCC", unit="utt", disable=None):
        try:
            samples, rate = read_audio(entry)
        except AudioError as err:
            raise ValueError(f"{wav_scp}: utterance {uid!r}: {err}") from err
        features[uid] = mfcc_features(to_mono(samples, mix_channels=False, source=uid), rate, subsample)
    return features


def fit_kmeans(
    features: Iterable[np.ndarray],
    k: int,
    seed: int = 0,
    max_frames: Optional[int] = None,
    batch_size: int = 10000,
    n_init: int = 20,
    max_iter: int = 100,
) -> MiniBatchKMeans:
    """Seeded MiniBatchKMeans on all frames (or ``max_frames`` of them drawn with ``seed``)."""
    frames = np.concatenate(list(features)).astype(np.float32)
    if max_frames is not None and len(frames) > max_frames:
        keep = np.random.default_rng(seed).choice(len(frames), size=max_frames, replace=False)
        frames = frames[np.sort(keep)]
    if len(frames) < k:
        raise ValueError(f"k-means with k={k} needs at least {k} frames, got {len(frames)}")
    model = MiniBatchKMeans(
        n_clusters=k, init="k-means++", random_state=seed, batch_size=batch_size, n_init=n_init,
        max_iter=max_iter, tol=0.0, max_no_improvement=100, reassignment_ratio=0.0, compute_labels=False,
    )
    return model.fit(frames)


def assign_units(model: MiniBatchKMeans, features: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Nearest-centroid unit of every frame, per utterance."""
    return {
        uid: model.predict(np.asarray(f, dtype=np.float32)).astype(np.int64)
        for uid, f in features.items()
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dinosr_espnet.eval.mfcc_kmeans",
        description="MFCC k-means units (unit-quality / ABX baseline). Writes "
        "OUT/units_k{K}.txt (uid<TAB>u1 u2 ...), OUT/centroids_k{K}.npy and, with "
        "--save-features, OUT/features/<uid>.npy for the ABX.",
    )
    parser.add_argument("--wav-scp", required=True, type=Path, help="utterances to label")
    parser.add_argument("--fit-wav-scp", type=Path, help="utterances to fit k-means on (default: --wav-scp)")
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--k", type=int, nargs="+", default=[100, 256], help="numbers of clusters")
    parser.add_argument("--rate", type=int, choices=(50, 100), default=50, help="unit frame rate (Hz)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-frames", type=int, help="fit on at most this many random frames")
    parser.add_argument("--n-init", type=int, default=20, help="k-means++ restarts")
    parser.add_argument("--save-features", action="store_true", help="also write the MFCC features")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    subsample = int(MFCC_RATE) // args.rate
    features = extract_mfcc(args.wav_scp, subsample)
    fit_features = extract_mfcc(args.fit_wav_scp, subsample) if args.fit_wav_scp else features
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.save_features:
        (args.out_dir / "features").mkdir(exist_ok=True)
        for uid, matrix in features.items():
            np.save(args.out_dir / "features" / f"{uid}.npy", matrix)
    for k in args.k:
        model = fit_kmeans(
            fit_features.values(), k, seed=args.seed, max_frames=args.max_frames, n_init=args.n_init
        )
        write_units(args.out_dir / f"units_k{k}.txt", assign_units(model, features))
        np.save(args.out_dir / f"centroids_k{k}.npy", model.cluster_centers_)
        logger.info("k=%d: wrote %s", k, args.out_dir / f"units_k{k}.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
