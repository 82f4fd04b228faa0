"""Multilingual codeword sharing (DinoSR paper Table 7): per codebook layer, the share of
codewords active in n of the L languages.

Example::

    python -m dinosr_espnet.bin.codeword_sharing --model_file exp/dinosr_babel/valid.loss.best.pth \\
        --lang_scp assamese=data/babel_102/dev/wav.scp tagalog=data/babel_106/dev/wav.scp ... \\
        --max_utterances 2000 --out exp/sharing/table.md --ngpu 1

A codeword is active in a language when the teacher assigns it to at least --min_count frames
of that language. Writes the Markdown table (--out) and the raw counts next to it (.json).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from dinosr_espnet.bin.cli import HelpFormatter, run_cli
from dinosr_espnet.bin.extract import add_model_arguments, load_model, make_extractor, make_loader
from dinosr_espnet.eval.extract_io import read_wav_scp
from dinosr_espnet.eval.extraction import codebook_layers
from dinosr_espnet.eval.sharing import codeword_counts, sharing_counts, sharing_markdown

logger = logging.getLogger(__name__)


def _lang_scp(text: str) -> tuple[str, Path]:
    lang, sep, path = text.partition("=")
    if not sep or not lang or not path:
        raise argparse.ArgumentTypeError(f"expected LANG=path/to/wav.scp, got {text!r}")
    return lang, Path(path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dinosr_espnet.bin.codeword_sharing",
                                     description=__doc__,
                                     formatter_class=HelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--lang_scp", required=True, nargs="+", type=_lang_scp,
                        metavar="LANG=WAV_SCP", help="one wav.scp per language")
    parser.add_argument("--out", required=True, type=Path, help="Markdown table to write")
    parser.add_argument("--min_count", type=int, default=1,
                        help="frames a codeword needs in a language to count as active there")
    parser.add_argument("--max_utterances", type=int,
                        help="use at most this many utterances per language (first in wav.scp)")
    return parser


def run(args: argparse.Namespace) -> dict:
    languages = [lang for lang, _ in args.lang_scp]
    if len(set(languages)) != len(languages):
        raise SystemExit(f"--lang_scp: repeated language in {languages}")
    inference = load_model(args)
    cfg = inference.config
    extractor = make_extractor(inference, args, layers=[], codewords=True, head_probs=False)
    load = make_loader(inference, args)
    counts = {}
    for lang, scp in args.lang_scp:
        entries = read_wav_scp(scp, args.max_utterances)
        results = (r for _, r in extractor.iterate(entries, load, desc=lang))
        counts[lang] = codeword_counts(results, cfg.num_codebooks, cfg.codebook_size)
        logger.info("%s: %d utterances, %d frames", lang, len(entries), int(counts[lang][0].sum()))
    table = sharing_counts(counts, args.min_count)
    layers = sorted(codebook_layers(inference))
    active = {lang: (c >= args.min_count).sum(1).tolist() for lang, c in counts.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(sharing_markdown(table, layers, languages, active), encoding="utf-8")
    report = {"languages": languages, "layers": layers, "codebook_size": cfg.codebook_size,
              "min_count": args.min_count, "sharing_counts": table.tolist(),
              "active_per_language": active,
              "frames_per_language": {lang: int(c[0].sum()) for lang, c in counts.items()},
              "codeword_counts": {lang: c.tolist() for lang, c in counts.items()}}
    args.out.with_suffix(".json").write_text(json.dumps(report) + "\n", encoding="utf-8")
    print(args.out.read_text(encoding="utf-8"))
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_cli(build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
