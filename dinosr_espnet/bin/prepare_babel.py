"""Prepare IARPA BABEL languages as Kaldi data dirs: `data/<name>_{train,dev,eval}` (+segments).

Language ids and names come from --languages (a YAML table, ids vary by release); markup is
normalised by the --markup policy. Prints the prepared set names on stdout, one per line, so
that `local/data.sh` can combine them into the multilingual set.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from dinosr_espnet.bin.cli import HelpFormatter, run_cli
from dinosr_espnet.data.babel import find_conversational, load_languages, prepare_babel_language
from dinosr_espnet.data.babel_markup import MarkupPolicy
from dinosr_espnet.package_data import conf_dir

CONF = conf_dir()


def get_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m dinosr_espnet.bin.prepare_babel", description=__doc__,
        formatter_class=HelpFormatter,
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--langs", nargs="+", help="language ids, e.g. 101 102")
    which.add_argument("--group", help="a group of the languages file, e.g. pretrain, finetune")
    parser.add_argument("--languages", default=str(CONF / "babel_languages.yaml"),
                        help="YAML with the id->name table and groups")
    parser.add_argument("--markup", default=str(CONF / "babel_markup.yaml"),
                        help="YAML markup normalisation policy")
    parser.add_argument("--babel_root", help="directory with one sub-directory per language")
    parser.add_argument("--corpus_dir", action="append", default=[], metavar="ID=PATH",
                        help="corpus directory of one language (repeatable); "
                        "wins over --babel_root")
    parser.add_argument("--sph2pipe", help="sph2pipe binary (default: found on PATH, if any)")
    parser.add_argument("--skip_missing", action="store_true",
                        help="leave out (and log) the languages of --group that have no corpus "
                        "directory, e.g. those a generated corpus lacks; --langs never skips")
    parser.add_argument("--strict", action="store_true",
                        help="stop on a malformed transcription instead of skipping the file")
    parser.add_argument("--out", default="data", help="output directory for the data dirs")
    return parser


def locate_languages(
    ids: list[str], names: dict[str, str], corpus_dirs: dict[str, str],
    babel_root: str | None, skip_missing: bool,
) -> dict[str, Path]:
    """`conversational/` of every language, checked before any is prepared; the languages
    without one are all named in one error, or left out with a warning when `skip_missing`."""
    found, missing = {}, []
    for lang_id in ids:
        try:
            found[lang_id] = find_conversational(lang_id, corpus_dirs.get(lang_id), babel_root)
        except FileNotFoundError as e:
            if lang_id in corpus_dirs:  # a BABEL_<id> set by hand is never left out
                raise
            missing.append(f"{lang_id} ({names[lang_id]}): {e}")
    if missing and not (skip_missing and found):
        raise FileNotFoundError("missing BABEL languages: " + "; ".join(missing))
    for message in missing:
        logging.warning("left out BABEL language %s", message)
    return found


def run(args: argparse.Namespace) -> None:
    """Prepare the requested languages and print the prepared set names."""
    names, groups = load_languages(args.languages)
    if args.group is not None and args.group not in groups:
        raise ValueError(f"{args.languages}: no group {args.group!r}; have {sorted(groups)}")
    ids = groups[args.group] if args.group is not None else args.langs
    unknown = [i for i in ids if i not in names]
    if unknown:
        raise ValueError(f"language ids {unknown} are not in {args.languages} "
                         f"(known: {', '.join(sorted(names))})")
    bad = [item for item in args.corpus_dir if "=" not in item]
    if bad:
        raise ValueError(f"--corpus_dir expects ID=PATH, got {bad[0]!r}")
    corpus_dirs = dict(item.split("=", 1) for item in args.corpus_dir)
    policy = MarkupPolicy.from_yaml(args.markup)
    convs = locate_languages(ids, names, corpus_dirs, args.babel_root,
                             args.skip_missing and args.group is not None)
    prepared = []
    for lang_id, conv in convs.items():
        counts = prepare_babel_language(
            lang_id, names[lang_id], conv, policy, args.out, args.sph2pipe, args.strict
        )
        prepared.extend(counts)
    print("\n".join(prepared))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the preparation; returns the exit status (1 with one line on bad input)."""
    return run_cli(get_parser, run, argv, user_errors=(OSError, RuntimeError))


if __name__ == "__main__":
    sys.exit(main())
