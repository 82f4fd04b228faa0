#!/usr/bin/env python3
"""How hard a generated corpus is for the MFCC baseline: MFCC ABX and MFCC k-means PNMI.

Reads a `make_corpus` output directly (FLAC files, `alignments/librispeech/<set>.phn`,
`abx/<set>.item`): 39-dim MFCCs at 50 Hz (`eval.mfcc_kmeans`, the units report's baseline),
cosine ABX within / across speaker with legacy slicing (the published ZeroSpeech 2021 / Libri-light
numbers use it) and PNMI of k-means units fitted on the train audio. Writes a JSON file and
prints one line per evaluation set, with the real-speech references beside the figures.

    python local/corpus_difficulty.py --corpus corpora/demo --out exp/corpus_difficulty.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import soundfile as sf

from dinosr_espnet.eval.abx import ABXConfig, compute_abx, read_item_file
from dinosr_espnet.eval.mfcc_kmeans import assign_units, fit_kmeans, mfcc_features
from dinosr_espnet.eval.units import joint_counts, quality_from_counts, read_phone_labels

# Real LibriSpeech dev-clean references of the same measures: the ZeroSpeech 2021 MFCC baseline
# (legacy slicing), about 11 % within and 21 % across speaker, and HuBERT's MFCC k-means PNMI at
# k = 100, about 0.26 (forced alignments).
REFERENCE = {"dev_clean": {"abx_within": 11.0, "abx_across": 21.0, "pnmi": 0.26}}
TRAIN_PARTS = ("train-clean-100", "train-clean-360", "train-other-500")


def _flacs(corpus: Path, part: str) -> dict[str, Path]:
    files = sorted((corpus / "LibriSpeech" / part).glob("*/*/*.flac"))
    if not files:
        raise FileNotFoundError(f"{corpus / 'LibriSpeech' / part}: no FLAC files")
    return {f.stem: f for f in files}


def _mfcc(files: dict[str, Path], limit: Optional[int] = None) -> dict[str, np.ndarray]:
    uids = sorted(files)[:limit] if limit else sorted(files)
    out = {}
    for uid in uids:
        wave, rate = sf.read(files[uid], dtype="float32")
        out[uid] = mfcc_features(wave, rate, subsample=2)
    return out


def _percent(error: Optional[float]) -> Optional[float]:
    """An ABX error rate in percent; None (no cell: too few speakers or tokens) stays None."""
    return None if error is None else round(100 * error, 2)


def measure(corpus: Path, sets: Sequence[str], k: int, n_init: int, seed: int,
            max_x_across: Optional[int]) -> dict[str, dict[str, float]]:
    """MFCC ABX (within/across, %) and MFCC k-means PNMI per evaluation set."""
    fit = {}
    for part in TRAIN_PARTS:
        fit.update(_mfcc(_flacs(corpus, part)))
    model = fit_kmeans(fit.values(), k, seed=seed, n_init=n_init)
    results = {}
    for name in sets:
        feats = _mfcc(_flacs(corpus, name.replace("_", "-")))
        labels = read_phone_labels(corpus / "alignments" / "librispeech" / f"{name}.phn")
        quality = quality_from_counts(joint_counts(assign_units(model, feats), labels, repeat=2).counts)
        config = ABXConfig(frame_rate=50.0, distance="cosine", slicing="legacy", seed=seed,
                           max_x_across=max_x_across)
        abx = compute_abx(read_item_file(corpus / "abx" / f"{name}.item"), feats, config)
        results[name] = {"abx_within": _percent(abx.within), "abx_across": _percent(abx.across),
                         "pnmi": round(quality.pnmi, 3), "k": k}
    return results


def format_line(name: str, r: dict) -> str:
    """One summary line with the real-speech reference beside each figure."""
    ref = REFERENCE.get(name, {})

    def show(key: str, fmt: str) -> str:
        real = ref.get(key)
        return ("n/a" if r[key] is None else fmt.format(r[key])) + (f" (real ≈ {fmt.format(real)})" if real is not None else "")

    return (f"{name}: MFCC ABX within {show('abx_within', '{:.1f}%')}, across {show('abx_across', '{:.1f}%')}, "
            f"MFCC k-means PNMI at k={r['k']} {show('pnmi', '{:.3f}')}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, type=Path, help="make_corpus output directory")
    parser.add_argument("--sets", nargs="+", default=["dev_clean", "dev_other"])
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--n_init", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max_x_across", type=lambda s: None if s == "none" else int(s), default=5)
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    results = measure(args.corpus, args.sets, args.k, args.n_init, args.seed, args.max_x_across)
    for name, r in results.items():
        print(format_line(name, r))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
