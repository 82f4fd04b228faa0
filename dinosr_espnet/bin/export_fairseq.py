"""Export a DinoSR experiment (ours, trained or imported) to the authors' fairseq layout.

    python -m dinosr_espnet.bin.export_fairseq exp/dinosr_base_fairseq dinosr_base_export.pt

``SRC`` is an experiment directory (``model.pth``, else ``valid.loss.best.pth``, else the
latest ``<N>epoch.pth``) or a ``.pth`` with ``config.yaml`` beside it (or ``--config``). The
output holds ``cfg`` (plain dict with every field of the released cfg: the one kept at
import, else the release's, with the values that describe the model filled in), ``model``
(student fp16 as released, teacher ``_ema`` fp32, ``_codebook{k}`` sums and
``_codebook_cnts{k}`` counts fp32) and ``optimizer_history[-1]["num_updates"]``; no optimizer
state. See docs/interop.md.
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
    parser.add_argument("--fairseq_cfg", default=None,
                        help="the fairseq cfg kept by import_fairseq (default: fairseq_cfg.yaml "
                        "next to the model file, if any): written back, updated from the model. "
                        "Without one, the released BASE cfg is the template")
    parser.add_argument("--log_level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="logging level")
    return parser


def run(args: argparse.Namespace) -> None:
    """Run the export."""
    from dinosr_espnet.interop.convert import export_fairseq

    export_fairseq(args.src, args.checkpoint, config=args.config, fairseq_cfg=args.fairseq_cfg)


def main(cmd: Optional[Sequence[str]] = None) -> int:
    """Parse ``cmd`` (default: ``sys.argv``) and run the export; returns the exit status (1 with
    one line for a missing, corrupt or unsafe file, a bad key or an unwritable output)."""
    return run_cli(get_parser, run, cmd, user_errors=(KeyError, OSError))


if __name__ == "__main__":
    sys.exit(main())
