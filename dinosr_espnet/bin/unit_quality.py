r"""Unit quality of discrete units against frame phone labels (HuBERT's measure; spec §7–§8).

Units: ``uid<TAB>u1 u2 ...`` text file (50 Hz) or a directory of ``<uid>.npy`` integer arrays.
Phones: ``uid<TAB>ph1,ph2,...`` at 100 Hz. Example::

    python -m dinosr_espnet.bin.unit_quality --units exp/units/layer5.txt \
        --phones data/dev_clean/phones.txt --codebook-size 256 --out layer5.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

from dinosr_espnet.bin.cli import HelpFormatter, run_cli
from dinosr_espnet.eval.units import joint_counts, quality_from_counts, read_phone_labels, read_units


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dinosr_espnet.bin.unit_quality",
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--units", required=True, type=Path, help="units text file or directory of .npy")
    parser.add_argument("--phones", required=True, type=Path, help="frame phone labels, uid<TAB>ph1,ph2,...")
    parser.add_argument(
        "--repeat", type=int, default=None,
        help="label frames per unit (100 Hz labels / 50 Hz units = 2; 1 for 100 Hz units); default: "
        "inferred from the lengths; a value the lengths contradict is refused",
    )
    parser.add_argument(
        "--max-mismatch", type=int, default=None,
        help="skip (and count) utterances whose lengths differ by more label frames than this",
    )
    parser.add_argument("--strip-stress", action="store_true", help="AH0/AH1 -> AH before counting")
    parser.add_argument("--codebook-size", type=int, help="V, to report active codewords as a share of V")
    parser.add_argument("--out", type=Path, help="write the report as JSON here")
    parser.add_argument("--joint", type=Path, help="save the joint counts (.npz) for the plots")
    return parser


def run(args: argparse.Namespace) -> None:
    """Count, print and optionally save the unit-quality report."""
    joint = joint_counts(
        read_units(args.units), read_phone_labels(args.phones, strip_stress=args.strip_stress),
        repeat=args.repeat, max_mismatch=args.max_mismatch,
    )
    quality = quality_from_counts(joint.counts)
    active = f"{quality.active_codewords}" + (f"/{args.codebook_size}" if args.codebook_size else "")
    print(f"utterances {joint.num_utterances}, frames {quality.num_frames}, repeat {joint.repeat}, "
          f"length mismatch {joint.mismatch_frames} frames (max {joint.max_mismatch} per utterance)")
    print(f"active codewords {active}  perplexity {quality.perplexity:.1f}  "
          f"cluster purity {quality.cluster_purity:.3f}  phone purity {quality.phone_purity:.3f}  "
          f"PNMI {quality.pnmi:.3f}")
    report = {
        **quality.to_dict(),
        "codebook_size": args.codebook_size,
        "num_utterances": joint.num_utterances,
        "mismatch_frames": joint.mismatch_frames,
        "max_mismatch": joint.max_mismatch,
        "skipped_utterances": joint.skipped,
        "repeat": joint.repeat,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.joint:
        args.joint.parent.mkdir(parents=True, exist_ok=True)
        joint.save(args.joint)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns 1 with one line on bad input."""
    return run_cli(build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
