"""Prepare the Libri-light limited-supervision splits: `data/{train_10min,train_1h,train_10h}`.

10 min = `1h/0`, 1 h = all of `1h`, 10 h = `1h` + `9h` (clean and other each).
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from dinosr_espnet.bin.cli import HelpFormatter, run_cli
from dinosr_espnet.data.librilight import LIBRILIGHT_SETS, prepare_librilight


def get_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m dinosr_espnet.bin.prepare_librilight", description=__doc__,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--root", required=True,
                        help="directory holding librispeech_finetuning/ (LIBRILIGHT_LIMITED=)")
    parser.add_argument("--sets", nargs="+", default=list(LIBRILIGHT_SETS),
                        choices=list(LIBRILIGHT_SETS), help="splits to prepare")
    parser.add_argument("--out", default="data", help="output directory for the data dirs")
    return parser


def run(args: argparse.Namespace) -> None:
    """Write the data dirs."""
    prepare_librilight(args.root, args.sets, args.out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the preparation; returns the exit status (1 with one line on bad input)."""
    return run_cli(get_parser, run, argv, user_errors=(OSError,))


if __name__ == "__main__":
    sys.exit(main())
