"""Prepare the Libri-light limited-supervision splits: `data/{train_10min,train_1h,train_10h}`.

10 min = `1h/0`, 1 h = all of `1h`, 10 h = `1h` + `9h` (clean and other each).
"""

from __future__ import annotations

import argparse
import logging
import sys

from dinosr_espnet.data.librilight import LIBRILIGHT_SETS, prepare_librilight


def get_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--root", required=True,
                        help="directory holding librispeech_finetuning/ (LIBRILIGHT_LIMITED=)")
    parser.add_argument("--sets", nargs="+", default=list(LIBRILIGHT_SETS),
                        choices=list(LIBRILIGHT_SETS), help="splits to prepare")
    parser.add_argument("--out", default="data", help="output directory for the data dirs")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the preparation; returns the exit status."""
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        prepare_librilight(args.root, args.sets, args.out)
    except (OSError, ValueError) as e:
        logging.error("%s", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
