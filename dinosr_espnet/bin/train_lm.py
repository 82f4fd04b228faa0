"""Build a word n-gram LM (KenLM) and its letter lexicon for CTC beam search.

From text (one sentence per line; ``--strip_ids`` for Kaldi ``text`` files)::

    python -m dinosr_espnet.bin.train_lm --text lm.txt --order 4 --out exp/lm

writes ``exp/lm/4gram.arpa``, ``exp/lm/4gram.bin`` (KenLM binary) and ``exp/lm/lexicon.txt``
(``WORD W O R D |`` for every LM word). From an existing ARPA file (e.g. the official LibriSpeech
``4-gram.arpa.gz``), only binarise it (``exp/lm_official/4-gram.bin``) and write the lexicon::

    python -m dinosr_espnet.bin.train_lm --arpa 4-gram.arpa.gz --out exp/lm_official

Needs KenLM's ``lmplz``/``build_binary`` (``utils/install_kenlm.sh``).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from dinosr_espnet.bin.cli import HelpFormatter, run_cli
from dinosr_espnet.decode.kenlm_build import binarize, build_ngram
from dinosr_espnet.decode.lexicon import arpa_words, write_lexicon

logger = logging.getLogger("dinosr_espnet.train_lm")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dinosr_espnet.bin.train_lm",
                                     description=__doc__,
                                     formatter_class=HelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", nargs="+", type=Path,
                        help="LM training text file(s), one sentence per line, words separated "
                        "by spaces, in the transcripts' case")
    source.add_argument("--arpa", type=Path,
                        help="use this ARPA LM (plain or .gz) instead of estimating one")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--order", type=int, default=4, help="n-gram order")
    parser.add_argument("--strip_ids", action="store_true",
                        help="the text files are Kaldi `text` files: drop the first field")
    parser.add_argument("--limit_vocab", type=Path, default=None,
                        help="restrict the LM to the words of this file (whitespace separated)")
    parser.add_argument("--memory", default="2G",
                        help="lmplz/build_binary sorting memory, GNU sort syntax ("
                        "e.g. 50%% for the 800M-word LibriSpeech LM corpus)")
    parser.add_argument("--binary_type", choices=["trie", "probing"], default="trie",
                        help="KenLM binary format: trie (small) or probing (fast, large)")
    parser.add_argument("--kenlm_bin", type=Path, default=None,
                        help="directory with lmplz and build_binary (default: $KENLM_BIN, else "
                        "<repo>/tools/bin, else PATH)")
    parser.add_argument("--log_level", default="INFO",
                        choices=["ERROR", "WARNING", "INFO", "DEBUG"], help="logging level")
    return parser


def run(args: argparse.Namespace) -> None:
    """Build (or binarise) the LM and write its lexicon."""
    if args.text is not None:
        lm = build_ngram(args.text, args.out, order=args.order, memory=args.memory,
                         strip_ids=args.strip_ids, limit_vocab=args.limit_vocab,
                         binary_type=args.binary_type, kenlm_bin=args.kenlm_bin)
        arpa, binary = lm.arpa, lm.binary
    else:
        arpa = args.arpa
        name = arpa.name.removesuffix(".gz").removesuffix(".arpa")
        binary = binarize(arpa, args.out / f"{name}.bin", args.binary_type, args.memory,
                          args.kenlm_bin)
    lexicon = args.out / "lexicon.txt"
    num_words = write_lexicon(lexicon, arpa_words(arpa))
    logger.info(f"LM {binary} and lexicon {lexicon} ({num_words} words)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the exit status (1 with one line when KenLM or a file is missing)."""
    return run_cli(build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
