"""Convert the authors' fairseq DinoSR checkpoint into an ESPnet experiment directory.

    python -m dinosr_espnet.bin.import_fairseq dinosr_base.pt exp/dinosr_base_fairseq

writes ``config.yaml`` (``model_conf`` mapped from the fairseq config), ``model.pth`` (student,
EMA teacher, heads, codebook sums/counts, update counter; keys ``dinosr.*``),
``fairseq_import.yaml`` (provenance) and ``fairseq_cfg.yaml`` (the file's cfg, which
export_fairseq writes back). The file is unpickled with an allowlist: a checkpoint
that would run code is refused; a corrupt or unsupported file stops with a one-line error and
no output directory. See docs/interop.md.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from dinosr_espnet.bin.cli import HelpFormatter, run_cli


def get_parser() -> argparse.ArgumentParser:
    """The command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m dinosr_espnet.bin.import_fairseq",
        description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("checkpoint", help="fairseq DinoSR checkpoint (.pt), e.g. dinosr_base.pt")
    parser.add_argument("out_dir", help="experiment directory to write (created if needed)")
    parser.add_argument("--num_updates", type=int, default=None,
                        help="override the update counter (default: read from the "
                        "checkpoint's optimizer history; 0 if absent). It drives the teacher "
                        "decay schedule when pretraining continues")
    parser.add_argument("--log_level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="logging level")
    return parser


def run(args: argparse.Namespace) -> None:
    """Run the import."""
    from dinosr_espnet.interop.convert import import_fairseq

    import_fairseq(args.checkpoint, args.out_dir, num_updates=args.num_updates)


def main(cmd: Optional[Sequence[str]] = None) -> int:
    """Parse ``cmd`` (default: ``sys.argv``) and run the import; returns the exit status (1 with
    one line for a missing, corrupt or unsafe file, a bad key or an unwritable output)."""
    return run_cli(get_parser, run, cmd, user_errors=(KeyError, OSError))


if __name__ == "__main__":
    sys.exit(main())
