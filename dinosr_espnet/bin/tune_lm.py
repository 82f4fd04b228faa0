"""Tune the LM weight and word score of the lexicon beam search on a dev set (grid search).

wav2vec 2.0 protocol: lm_weight ∈ [0, 8], word_score ∈ [−5, 5], on dev only; decode test sets
with the result (``ctc_decode --decode_config best.yaml``)::

    python -m dinosr_espnet.bin.tune_lm --emissions exp/asr/decode_dev_other/emissions.scp \\
        --tokens exp/asr/decode_dev_other/tokens.txt --ref dump/raw/dev_other/text \\
        --lm exp/lm/4gram.bin --lexicon exp/lm/lexicon.txt --metric wer \\
        --lm_weight_range 0 8 1 --word_score_range -5 5 1 --beam 500 --nj 8 \\
        --out exp/asr/decode_dev_other/best.yaml

The grid has (8/1 + 1) × (10/1 + 1) = 99 points by default, each a full decoding of the dev set;
``--nj`` decodes points in parallel, a smaller ``--beam`` (e.g. 100) for the search and the full
beam for the final decoding saves time. Ties go to the smallest lm_weight, then word_score.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

import yaml

from dinosr_espnet.bin.cli import HelpFormatter, run_cli
from dinosr_espnet.bin.ctc_decode import add_beam_search_options
from dinosr_espnet.data.kaldi_dir import read_kaldi_map
from dinosr_espnet.decode.beam_search import BeamSearchConfig
from dinosr_espnet.decode.emissions import load_emissions
from dinosr_espnet.decode.scoring import METRICS
from dinosr_espnet.decode.tokens import read_token_list
from dinosr_espnet.decode.tuning import beam_search_evaluator, best_trial, grid_search, value_range

logger = logging.getLogger("dinosr_espnet.tune_lm")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dinosr_espnet.bin.tune_lm",
                                     description=__doc__,
                                     formatter_class=HelpFormatter)
    parser.add_argument("--emissions", required=True, type=Path,
                        help="dev set emissions: kaldiio .scp/.ark of (T, V) log-probs")
    parser.add_argument("--tokens", required=True, type=Path, help="token list of the emissions")
    parser.add_argument("--ref", required=True, type=Path, help="dev references (Kaldi text)")
    parser.add_argument("--metric", choices=METRICS, default="wer",
                        help="error to minimise (wer: LibriSpeech; cer: BABEL)")
    parser.add_argument("--lm_weight_range", nargs=3, type=float, default=[0.0, 8.0, 1.0],
                        metavar=("START", "STOP", "STEP"), help="lm_weight grid (stop included)")
    parser.add_argument("--word_score_range", nargs=3, type=float, default=[-5.0, 5.0, 1.0],
                        metavar=("START", "STOP", "STEP"), help="word_score grid (stop included)")
    add_beam_search_options(parser)
    parser.add_argument("--out", required=True, type=Path,
                        help="YAML with the best options (beam_search:), the dev errors and "
                        "every grid point")
    parser.add_argument("--log_level", default="INFO",
                        choices=["ERROR", "WARNING", "INFO", "DEBUG"], help="logging level")
    return parser


def run(args: argparse.Namespace) -> dict:
    """Search the grid and write ``args.out``; returns what was written."""
    if args.lm is None or args.lexicon is None:
        raise ValueError("tune_lm needs --lm and --lexicon")
    tokens = read_token_list(args.tokens)
    emissions = load_emissions(args.emissions, len(tokens))
    refs = read_kaldi_map(args.ref, allow_empty_value=True)
    base = BeamSearchConfig(sil_score=args.sil_score, beam=args.beam,
                            beam_size_token=args.beam_size_token,
                            beam_threshold=args.beam_threshold)
    evaluate = beam_search_evaluator(emissions, refs, tokens, args.lexicon, args.lm, base,
                                     args.metric)
    trials = grid_search(evaluate, value_range(*args.lm_weight_range),
                         value_range(*args.word_score_range), nj=args.nj)
    best = best_trial(trials)
    options = base.to_dict() | {"lm_weight": best.lm_weight, "word_score": best.word_score}
    c = best.counts
    result = {
        "beam_search": options,
        "dev": {"emissions": str(args.emissions), "ref": str(args.ref), "lm": str(args.lm),
                "metric": args.metric, "error_rate": c.error_rate, "num_ref": c.num_ref,
                "substitutions": c.substitutions, "deletions": c.deletions,
                "insertions": c.insertions, "num_sentences": c.num_sentences},
        "trials": [{"lm_weight": t.lm_weight, "word_score": t.word_score,
                    "error_rate": t.counts.error_rate} for t in trials],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        yaml.safe_dump(result, f, sort_keys=False)
    logger.info(f"best: lm_weight {best.lm_weight:g}, word_score {best.word_score:g}, dev "
                f"{c.summary(args.metric)}; wrote {args.out}")
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns 1 with one line on bad input."""
    return run_cli(build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
