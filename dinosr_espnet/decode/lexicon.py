"""Letter lexicon for lexicon-constrained CTC beam search.

Format (flashlight / wav2vec 2.0), one word per line, the word then its spelling::

    CAT C A T |
    DON'T D O N ' T |

The beam search can only output lexicon words; the lexicon is built from the LM vocabulary
(the unigrams of the ARPA file), so every word it can output is known to the LM.
"""
from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path
from typing import Iterable, TextIO

from dinosr_espnet.decode.tokens import spell

logger = logging.getLogger(__name__)

LM_SYMBOLS = frozenset({"<s>", "</s>", "<unk>"})


def _open_text(path: str | os.PathLike) -> TextIO:
    """Open a text file, gunzipping ``*.gz``."""
    if os.fspath(path).endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def arpa_words(arpa: str | os.PathLike) -> list[str]:
    """Words of an ARPA LM (its 1-gram section, plain or ``.gz``) without ``<s> </s> <unk>``."""
    words: list[str] = []
    in_unigrams = False
    with _open_text(arpa) as f:
        for line in f:
            line = line.strip()
            if line == "\\1-grams:":
                in_unigrams = True
            elif in_unigrams and (line.startswith("\\") or not line):
                break
            elif in_unigrams:
                fields = line.split()
                if len(fields) < 2:
                    raise ValueError(f"{arpa}: bad 1-gram line {line!r}")
                if fields[1] not in LM_SYMBOLS:
                    words.append(fields[1])
    if not words:
        raise ValueError(f"{arpa}: no 1-grams found (not an ARPA file?)")
    return words


def write_lexicon(path: str | os.PathLike, words: Iterable[str]) -> int:
    """Write ``WORD W O R D |`` lines (unique words, in the given order); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    with open(path, "w", encoding="utf-8") as f:
        for word in words:
            if word not in seen:
                seen.add(word)
                f.write(f"{word} {' '.join(spell(word))}\n")
    return len(seen)


def read_lexicon(path: str | os.PathLike) -> list[tuple[str, list[str]]]:
    """``(word, spelling)`` pairs of a lexicon file; ValueError names a line without spelling."""
    entries: list[tuple[str, list[str]]] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 2:
                raise ValueError(f"{path}:{lineno}: word {fields[0]!r} has no spelling")
            entries.append((fields[0], fields[1:]))
    if not entries:
        raise ValueError(f"{path}: empty lexicon")
    return entries


def restrict_lexicon(lexicon: str | os.PathLike, tokens: Iterable[str],
                     out: str | os.PathLike) -> Path:
    """The lexicon entries whose spelling uses only ``tokens``.

    Returns ``lexicon`` itself when nothing is dropped, else writes the kept entries to ``out``
    and logs how many words (with an example) were skipped; errors when none remain.
    """
    known = set(tokens)
    entries = read_lexicon(lexicon)
    kept = [(w, s) for w, s in entries if known.issuperset(s)]
    if len(kept) == len(entries):
        return Path(lexicon)
    if not kept:
        raise ValueError(f"{lexicon}: no word is spelled with the token list's tokens "
                         f"(e.g. {entries[0][0]!r}: {' '.join(entries[0][1])}); wrong case?")
    dropped = next(w for w, s in entries if not known.issuperset(s))
    logger.warning(f"{lexicon}: skipping {len(entries) - len(kept)} of {len(entries)} words "
                   f"spelled with tokens outside the token list (e.g. {dropped!r})")
    with open(out, "w", encoding="utf-8") as f:
        f.writelines(f"{w} {' '.join(s)}\n" for w, s in kept)
    return Path(out)
