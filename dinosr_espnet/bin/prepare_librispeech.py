"""Prepare LibriSpeech parts as Kaldi data dirs: `data/{train_clean_100,...,test_other}`.

Combined sets (`train_960`, `dev`) are made by `utils/combine_data.sh` in `local/data.sh`.
"""

from __future__ import annotations

import argparse
import logging
import sys

from dinosr_espnet.data.librispeech import LIBRISPEECH_PARTS, prepare_librispeech


def get_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--root", required=True,
                        help="directory holding LibriSpeech/ (the LIBRISPEECH= of db.sh)")
    parser.add_argument("--parts", nargs="+", default=list(LIBRISPEECH_PARTS),
                        choices=LIBRISPEECH_PARTS, help="parts to prepare")
    parser.add_argument("--out", default="data", help="output directory for the data dirs")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the preparation; returns the exit status."""
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        prepare_librispeech(args.root, args.parts, args.out)
    except (OSError, ValueError) as e:
        logging.error("%s", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
