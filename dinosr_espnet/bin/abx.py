r"""ZeroSpeech 2021 ABX error rates of frame features (evaluation.md; spec §7).

Example::

    python -m dinosr_espnet.bin.abx --item dev-clean.item --features exp/feats/layer5 \
        --frame-rate 50 --distance cosine --slicing corrected --seed 0 --out abx.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch

from dinosr_espnet.bin.cli import HelpFormatter, run_cli
from dinosr_espnet.eval.abx import ABXConfig, compute_abx, load_features
from dinosr_espnet.eval.abx.distances import DISTANCES
from dinosr_espnet.eval.abx.slicing import SLICING_MODES


def _limit(text: str) -> Optional[int]:
    return None if text.lower() == "none" else int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dinosr_espnet.bin.abx",
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--item", required=True, type=Path, help="ZeroSpeech/libri-light .item file")
    parser.add_argument(
        "--features", required=True,
        help="directory of <uttid>.npy (T, D) arrays, or a Kaldi .scp/.ark of matrices",
    )
    parser.add_argument(
        "--frame-rate", type=float, default=50.0, help="feature frames per second (DinoSR: 50)"
    )
    parser.add_argument(
        "--distance", choices=DISTANCES, default="cosine",
        help="framewise distance; kl/symkl/js need per-frame probabilities (not L2-normalised)",
    )
    parser.add_argument(
        "--slicing", choices=SLICING_MODES, default="corrected",
        help="legacy: libri-light (drops each token's last frame); corrected: keeps it",
    )
    parser.add_argument(
        "--conditions", nargs="+", choices=("within", "across"), default=["within", "across"],
        help="speaker conditions to score (both within context)",
    )
    parser.add_argument(
        "--max-size-group", type=_limit, default=10, help="tokens kept per group ('none': all)"
    )
    parser.add_argument(
        "--max-x-across", type=_limit, default=5, help="X speakers per across cell ('none': all)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the subsampling")
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu",
        help="torch device for the frame distances (and the DTW with --dtw torch; cuda when "
        "available)",
    )
    parser.add_argument(
        "--dtw", choices=("numba", "torch"), default="numba",
        help="DTW kernel: numba (parallel CPU; threads from NUMBA_NUM_THREADS) or torch "
        "(batched on --device); both give identical scores",
    )
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="precision of the distances")
    parser.add_argument(
        "--chunk-elements", type=int, default=None,
        help="max tensor elements per DTW batch (default 2**25 on CPU, 2**28 on CUDA; lower it "
        "if the device runs out of memory)",
    )
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    return parser


def run(args: argparse.Namespace) -> None:
    """Score the item file and print (and optionally save) the error rates."""
    config = ABXConfig(
        frame_rate=args.frame_rate, distance=args.distance, slicing=args.slicing,
        max_size_group=args.max_size_group, max_x_across=args.max_x_across, seed=args.seed,
        conditions=tuple(args.conditions), device=args.device, dtype=args.dtype,
        chunk_elements=args.chunk_elements, dtw=args.dtw,
    )
    result = compute_abx(args.item, load_features(args.features), config)
    print(f"ABX ({args.distance}, {args.slicing} slicing, {args.frame_rate:g} Hz, "
          f"{result.num_tokens} tokens, {result.num_skipped_tokens} skipped)")
    for condition in args.conditions:
        score = getattr(result, condition)
        text = "n/a (no cell)" if score is None else f"{100 * score:.3f} %"
        print(f"{condition}-speaker error: {text}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result.to_dict(), indent=2) + "\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; a missing utterance or bad input exits 1 with one line."""
    return run_cli(build_parser, run, argv, user_errors=(KeyError,))


if __name__ == "__main__":
    sys.exit(main())
