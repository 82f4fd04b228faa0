"""Decode CTC emissions to text: Viterbi, or lexicon beam search with a KenLM word LM.

Viterbi (best path, no LM) when neither ``--lm`` nor ``--lexicon`` is given::

    python -m dinosr_espnet.bin.ctc_decode --emissions exp/asr/decode_dev/emissions.scp \\
        --tokens exp/asr/decode_dev/tokens.txt --out exp/asr/decode_dev/hyp.viterbi.txt

4-gram lexicon beam search (options of the wav2vec 2.0 protocol; ``--decode_config best.yaml``
from ``tune_lm`` sets lm_weight/word_score, explicit flags override it)::

    python -m dinosr_espnet.bin.ctc_decode --emissions .../emissions.scp --tokens .../tokens.txt \\
        --lm exp/lm/4gram.bin --lexicon exp/lm/lexicon.txt --lm_weight 2 --word_score -1 \\
        --beam 500 --beam_threshold 100 --nj 8 --out .../hyp.4gram.txt

Emissions: a kaldiio ``.scp``/``.ark`` of (T, V) float log-probs per utterance, column v =
line v of the token list (``<blank>`` first, ``|`` word boundary). Output: Kaldi ``text``
(``utt_id words...``).
"""
from __future__ import annotations

import argparse
import functools
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

import yaml

from dinosr_espnet.bin.cli import HelpFormatter, run_cli
from dinosr_espnet.data.kaldi_dir import write_kaldi_map
from dinosr_espnet.decode.beam_search import BeamSearchConfig, LexiconBeamSearch, decode_all
from dinosr_espnet.decode.emissions import count_utterances, iter_emissions
from dinosr_espnet.decode.tokens import read_token_list
from dinosr_espnet.decode.viterbi import viterbi_decode

logger = logging.getLogger("dinosr_espnet.ctc_decode")


def add_beam_search_options(parser: argparse.ArgumentParser) -> None:
    """Beam search flags shared with ``tune_lm`` (defaults: BeamSearchConfig)."""
    d = BeamSearchConfig()
    group = parser.add_argument_group("lexicon beam search")
    group.add_argument("--lm", type=Path, default=None,
                       help="KenLM binary (or ARPA) word LM; without it, --lexicon decodes with a "
                       "zero LM")
    group.add_argument("--lexicon", type=Path, default=None,
                       help="lexicon `WORD W O R D |` (train_lm writes lexicon.txt)")
    group.add_argument("--sil_score", type=float, default=d.sil_score,
                       help="score added per silence (word boundary) token")
    group.add_argument("--beam", type=int, default=d.beam, help="hypotheses kept per frame")
    group.add_argument("--beam_size_token", type=int, default=d.beam_size_token,
                       help="tokens expanded per frame (default: all)")
    group.add_argument("--beam_threshold", type=float, default=d.beam_threshold,
                       help="drop hypotheses this far below the best")
    group.add_argument("--nj", type=int, default=1, help="parallel decoding processes")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dinosr_espnet.bin.ctc_decode",
                                     description=__doc__,
                                     formatter_class=HelpFormatter)
    parser.add_argument("--emissions", required=True, type=Path,
                        help="kaldiio .scp or .ark of (T, V) log-probs")
    parser.add_argument("--tokens", required=True, type=Path,
                        help="token list, one per line (line v = emission column v)")
    parser.add_argument("--out", required=True, type=Path, help="hypotheses (Kaldi text)")
    parser.add_argument("--decode_config", type=Path, default=None,
                        help="YAML with beam search options (tune_lm's best.yaml)")
    d = BeamSearchConfig()
    parser.add_argument("--lm_weight", type=float, default=d.lm_weight,
                        help="weight of the LM log10-probability")
    parser.add_argument("--word_score", type=float, default=d.word_score,
                        help="score added per word (insertion bonus)")
    add_beam_search_options(parser)
    parser.add_argument("--log_level", default="INFO",
                        choices=["ERROR", "WARNING", "INFO", "DEBUG"], help="logging level")
    return parser


def config_defaults(path: Path) -> dict[str, object]:
    """Beam search options of a decode config (its ``beam_search`` mapping, or the whole file)."""
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    options = data.get("beam_search", data) if isinstance(data, dict) else None
    if not isinstance(options, dict):
        raise ValueError(f"{path}: expected a mapping of beam search options")
    try:
        return BeamSearchConfig.from_dict(options).to_dict()
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from None


def beam_config(args: argparse.Namespace) -> BeamSearchConfig:
    """BeamSearchConfig from the parsed flags."""
    return BeamSearchConfig(lm_weight=args.lm_weight, word_score=args.word_score,
                            sil_score=args.sil_score, beam=args.beam,
                            beam_size_token=args.beam_size_token,
                            beam_threshold=args.beam_threshold)


def parse_args(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``; the values of ``--decode_config`` become defaults under explicit flags."""
    args = parser.parse_args(argv)
    if args.decode_config is not None:
        parser.set_defaults(**config_defaults(args.decode_config))
        args = parser.parse_args(argv)
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns 1 with a logged message on bad input."""
    return run_cli(build_parser, run, argv, parse=parse_args)


def run(args: argparse.Namespace) -> None:
    """Decode every utterance of ``args.emissions`` and write ``args.out``."""
    tokens = read_token_list(args.tokens)
    items = iter_emissions(args.emissions, len(tokens))
    if args.lm is not None and args.lexicon is None:
        raise ValueError("--lm needs --lexicon (the words the beam search may output)")
    if args.lexicon is None:
        logger.info("no --lm/--lexicon: Viterbi decoding")
        def make_decoder():
            return functools.partial(viterbi_decode, tokens=tokens)
        nj = 1
    else:
        config = beam_config(args)
        logger.info(f"lexicon beam search, LM {args.lm}, {config}")
        make_decoder = functools.partial(LexiconBeamSearch, tokens, args.lexicon, args.lm, config)
        nj = args.nj
    hyps = decode_all(items, make_decoder, nj=nj, total=count_utterances(args.emissions))
    if not hyps:
        raise ValueError(f"{args.emissions}: no utterances")
    write_kaldi_map(args.out, hyps)
    logger.info(f"wrote {len(hyps)} hypotheses to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
