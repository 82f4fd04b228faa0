"""Export a DinoSR experiment (ours, trained or imported) to the authors' fairseq layout.

    python -m dinosr_espnet.bin.export_fairseq exp/dinosr_base_fairseq dinosr_base_export.pt

``SRC`` is an experiment directory (``model.pth``, else ``valid.loss.best.pth``, else the
latest ``<N>epoch.pth``) or a ``.pth`` with ``config.yaml`` beside it (or ``--config``). The
output holds ``cfg`` (plain dict), ``model`` (student fp16 as released, teacher ``_ema`` fp32,
``_codebook{k}`` sums and ``_codebook_cnts{k}`` counts fp32) and
``optimizer_history[-1]["num_updates"]``; no optimizer state. See docs/interop.md.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from dinosr_espnet.bin.cli import HelpFormatter, run_cli


def get_parser() -> argparse.ArgumentParser:
    """The command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m dinosr_espnet.bin.export_fairseq",
        description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("src", help="experiment directory or model .pth")
    parser.add_argument("checkpoint", help="fairseq checkpoint (.pt) to write")
    parser.add_argument("--config", default=None,
                        help="config.yaml (default: the one next to the model file)")
    parser.add_argument("--log_level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="logging level")
    return parser


def run(args: argparse.Namespace) -> None:
    """Run the export."""
    from dinosr_espnet.interop.convert import export_fairseq

    export_fairseq(args.src, args.checkpoint, config=args.config)


def main(cmd: Optional[Sequence[str]] = None) -> int:
    """Parse ``cmd`` (default: ``sys.argv``) and run the export; returns the exit status (1 with
    one line for a missing file, bad key or unsafe checkpoint)."""
    from dinosr_espnet.interop.safe_load import UnsafeCheckpointError

    return run_cli(get_parser, run, cmd, user_errors=(KeyError, UnsafeCheckpointError))


if __name__ == "__main__":
    sys.exit(main())
