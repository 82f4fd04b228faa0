"""Prepare LibriSpeech parts as Kaldi data dirs: `data/{train_clean_100,...,test_other}`.

Combined sets (`train_960`, `dev`) are made by `utils/combine_data.sh` in `local/data.sh`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from dinosr_espnet.bin.cli import HelpFormatter, run_cli
from dinosr_espnet.data.librispeech import LIBRISPEECH_PARTS, prepare_librispeech


def get_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m dinosr_espnet.bin.prepare_librispeech", description=__doc__,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--root", required=True,
                        help="directory holding LibriSpeech/ (the LIBRISPEECH= of db.sh)")
    parser.add_argument("--parts", nargs="+", default=list(LIBRISPEECH_PARTS),
                        choices=LIBRISPEECH_PARTS, help="parts to prepare")
    parser.add_argument("--out", default="data", help="output directory for the data dirs")
    return parser


def run(args: argparse.Namespace) -> None:
    """Write the data dirs."""
    prepare_librispeech(args.root, args.parts, args.out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the preparation; returns the exit status (1 with one line on bad input)."""
    return run_cli(get_parser, run, argv, user_errors=(OSError,))


if __name__ == "__main__":
    sys.exit(main())
