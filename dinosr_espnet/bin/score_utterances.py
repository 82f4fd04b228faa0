"""Per-utterance scoring file (sclite ``.pra`` layout, as ESPnet's ``score_wer/result.txt``):
counts and aligned REF/HYP/Eval lines for every utterance, linked from RESULTS.md.

    python -m dinosr_espnet.bin.score_utterances --ref dump/raw/test_other/text \\
        --hyp exp/asr/decode/test_other/viterbi/text --metric wer \\
        --out exp/asr/decode/test_other/viterbi/score_wer/result.txt
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from dinosr_espnet.bin.cli import HelpFormatter, run_cli
from dinosr_espnet.data.kaldi_dir import read_kaldi_map
from dinosr_espnet.decode.scoring import METRICS
from dinosr_espnet.decode.utterance_scores import utterance_report


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m dinosr_espnet.bin.score_utterances", description=__doc__,
        formatter_class=HelpFormatter)
    parser.add_argument("--ref", required=True, type=Path, help="references (Kaldi text)")
    parser.add_argument("--hyp", required=True, type=Path, help="hypotheses (Kaldi text)")
    parser.add_argument("--metric", choices=METRICS, default="wer",
                        help="wer or cer")
    parser.add_argument("--out", required=True, type=Path, help="the scoring file to write")
    return parser


def run(args: argparse.Namespace) -> None:
    """Align every utterance and write the scoring file."""
    refs = read_kaldi_map(args.ref, allow_empty_value=True)
    hyps = read_kaldi_map(args.hyp, allow_empty_value=True)
    try:
        text = utterance_report(refs, hyps, args.metric)
    except ValueError as e:
        raise ValueError(f"{args.hyp} vs {args.ref}: {e}") from None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns 1 with one line on bad input."""
    return run_cli(build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
