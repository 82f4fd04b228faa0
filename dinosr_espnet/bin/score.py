"""Corpus-level WER or CER of hypotheses, added to an ESPnet-style RESULTS.md.

    python -m dinosr_espnet.bin.score --ref dump/raw/test_other/text \\
        --hyp exp/asr/decode_test_other/hyp.4gram.txt --metric wer --set-name test_other \\
        --results exp/asr/RESULTS.md --title "exp/asr 4-gram"

Both files are Kaldi ``text`` (``utt_id words...``) with the same utterances. WER for
LibriSpeech, CER for BABEL (spaces count as characters). As in ESPnet's scoring, markup tokens
``<...>`` (BABEL's ``<hes>``, ``<noise>``, ``<unk>``, ...) are removed from both sides and case
is ignored (sclite's default); ``--keep-markup`` / ``--case-sensitive`` turn that off. The set's row in the ``### WER`` (or
``### CER``) table is added or replaced: ``|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|``,
Corr/Sub/Del/Ins/Err in % of the reference words (characters), S.Err in % of sentences. The
counts (S, D, I, N) are printed.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from dinosr_espnet.bin.cli import HelpFormatter, run_cli
from dinosr_espnet.data.kaldi_dir import read_kaldi_map
from dinosr_espnet.decode.scoring import METRICS, error_counts, update_results

logger = logging.getLogger("dinosr_espnet.score")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dinosr_espnet.bin.score", description=__doc__,
                                     formatter_class=HelpFormatter)
    parser.add_argument("--ref", required=True, type=Path, help="references (Kaldi text)")
    parser.add_argument("--hyp", required=True, type=Path, help="hypotheses (Kaldi text)")
    parser.add_argument("--metric", choices=METRICS, default="wer", help="wer or cer")
    parser.add_argument("--set-name", "--set_name", dest="set_name", default=None,
                        help="dataset column of the row (default: the ref's directory name)")
    parser.add_argument("--results", type=Path, default=None,
                        help="RESULTS.md to add/update the row in (optional)")
    parser.add_argument("--title", default=None,
                        help="`## TITLE` section of RESULTS.md holding the tables (e.g. the "
                        "experiment and LM); default: the part before any `##` heading")
    parser.add_argument("--keep_markup", "--keep-markup", dest="keep_markup", action="store_true",
                        help="score <...> markup tokens as words (default: removed from ref and hyp)")
    parser.add_argument("--case_sensitive", "--case-sensitive", dest="case_sensitive", action="store_true",
                        help="count case differences as errors (default: ignored, as sclite)")
    parser.add_argument("--log_level", default="INFO",
                        choices=["ERROR", "WARNING", "INFO", "DEBUG"], help="logging level")
    return parser


def run(args: argparse.Namespace) -> None:
    """Score, update RESULTS.md if asked, print ``set: metric% (counts)``."""
    set_name = args.set_name or args.ref.resolve().parent.name
    refs = read_kaldi_map(args.ref, allow_empty_value=True)
    hyps = read_kaldi_map(args.hyp, allow_empty_value=True)
    try:
        counts = error_counts(refs, hyps, args.metric, remove_markup=not args.keep_markup,
                              ignore_case=not args.case_sensitive)
    except ValueError as e:
        raise ValueError(f"{args.hyp} vs {args.ref}: {e}") from None
    if args.results is not None:
        update_results(args.results, set_name, args.metric, counts, args.title)
        logger.info(f"updated {args.results}")
    print(f"{set_name}: {counts.summary(args.metric)}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns 1 with one line on bad input."""
    return run_cli(build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
