"""Generate small speech corpora in the real LibriSpeech / Libri-light / BABEL layouts.

    python -m dinosr_espnet.bin.make_corpus --size ci --out corpora/ci
    python -m dinosr_espnet.bin.make_corpus --size demo --out corpora/demo --nj 4

Audio comes from eSpeak NG (espeakng-loader), with exact 100 Hz phone alignments and
ZeroSpeech triphone .item files; see docs/corpora_generated.md.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

from dinosr_espnet.bin.cli import HelpFormatter, run_cli
from dinosr_espnet.data.synth.config import CONF_DIR, CORPORA, resolve_request
from dinosr_espnet.data.synth.generate import generate_corpus


def _list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m dinosr_espnet.bin.make_corpus",
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    p.add_argument("--out", required=True, help="output directory (created; never committed to git)")
    p.add_argument(
        "--size",
        default="ci",
        help="size preset: `ci` (seconds), `demo` (minutes), or a path to a preset YAML "
        f"(presets live in {CONF_DIR})",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (>= 0)")
    p.add_argument("--nj", type=int, default=2, help="worker processes")
    p.add_argument(
        "--corpora",
        type=_list,
        default=",".join(CORPORA),
        help="comma-separated subset of " + ",".join(CORPORA),
    )
    p.add_argument(
        "--speakers", type=int, help="speakers per LibriSpeech part and recordings per BABEL split"
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--utts-per-speaker",
        type=int,
        help="utterances per LibriSpeech speaker and segments per BABEL recording",
    )
    size.add_argument(
        "--hours-per-split",
        type=float,
        help="target hours per LibriSpeech part / BABEL split (sets the utterances per speaker "
        "from an estimated utterance duration)",
    )
    p.add_argument(
        "--languages", type=_list, help="comma-separated BABEL ids or names (default: the preset's)"
    )
    p.add_argument(
        "--conf-dir", default=str(CONF_DIR), help="directory of the corpus YAML files"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace a corpus generated in --out with another request"
    )
    return p


def run(args: argparse.Namespace) -> None:
    """Resolve the request, generate the corpus and log one summary line per corpus."""
    request = resolve_request(
        args.size,
        seed=args.seed,
        corpora=args.corpora,
        speakers=args.speakers,
        utts_per_speaker=args.utts_per_speaker,
        hours_per_split=args.hours_per_split,
        languages=args.languages,
        conf_dir=args.conf_dir,
    )
    manifest = generate_corpus(
        args.out, request, nj=args.nj, overwrite=args.overwrite, conf_dir=args.conf_dir
    )
    for line in summary(manifest["counts"]):
        logging.getLogger("make_corpus").info("%s", line)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns 1 with one line on a bad request."""
    return run_cli(build_parser, run, argv)


def summary(counts: dict) -> list[str]:
    """One line per generated corpus: sets, utterances (segments) and hours."""
    lines = []
    for name, key in (("LibriSpeech", "librispeech"), ("librispeech_finetuning", "librilight")):
        sets = counts.get(key) or {}
        if sets:
            utts = sum(c["utterances"] for c in sets.values())
            hours = sum(c["hours"] for c in sets.values())
            lines.append(f"{name}: {len(sets)} sets, {utts} utterances, {hours:.2f} h")
    babel = counts.get("babel") or {}
    if babel:
        splits = [c for lang in babel.values() for c in lang.values()]
        lines.append(
            f"BABEL: {len(babel)} languages, {sum(c['recordings'] for c in splits)} recordings, "
            f"{sum(c['segments'] for c in splits)} speech segments, {sum(c['hours'] for c in splits):.2f} h"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
