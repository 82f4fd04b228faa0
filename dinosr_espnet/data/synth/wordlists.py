"""BABEL language table and per-language vocabularies that espeak can pronounce.

The table (`conf/corpus/babel_languages.yaml`) maps BABEL id -> name -> espeak voice and says
where each word list comes from: `wordfreq` for the languages it covers, pseudo-words built from
the language's spelling otherwise. Every word is kept only if espeak pronounces it in that
language (its phones contain no `(xx)` language switch) and only its pronunciation goes to the
lexicon.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import numpy as np
import wordfreq
import yaml

from dinosr_espnet.data.synth.espeak import Espeak
from dinosr_espnet.data.synth.rng import stream

ROLES = ("pretrain", "finetune")
_LANG_KEYS = {"id", "name", "espeak", "role", "words"}


@dataclass(frozen=True)
class Language:
    """One row of the BABEL language table."""

    id: int
    name: str
    espeak: str
    role: str
    words: dict = field(hash=False, compare=False)

    @property
    def dirname(self) -> str:
        """Corpus directory name, `<id>_<Name>`."""
        return f"{self.id}_{self.name}"


@dataclass
class Vocabulary:
    """Words in frequency order, their sampling weights and espeak IPA pronunciations."""

    words: list[str]
    weights: np.ndarray
    prons: dict[str, list[str]]

    def sample(self, rng: np.random.Generator, n: int) -> list[str]:
        idx = rng.choice(len(self.words), size=n, p=self.weights)
        return [self.words[i] for i in idx]


def load_languages(path: str | os.PathLike) -> list[Language]:
    """Read and validate the language table; errors name the file and the bad row."""
    with open(path, encoding="utf-8") as f:
        rows = (yaml.safe_load(f) or {}).get("languages")
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{path}: needs a non-empty `languages:` list")
    langs, seen = [], set()
    for i, row in enumerate(rows):
        where = f"{path}: languages[{i}]"
        if not isinstance(row, dict) or set(row) != _LANG_KEYS:
            raise ValueError(f"{where}: needs exactly the keys {sorted(_LANG_KEYS)}, got {row!r}")
        if row["role"] not in ROLES:
            raise ValueError(f"{where}: role must be one of {ROLES}, got {row['role']!r}")
        source = row["words"]
        if not isinstance(source, dict) or len(set(source) & {"wordfreq", "pseudo"}) != 1:
            raise ValueError(f"{where}: words needs exactly one of `wordfreq` or `pseudo`")
        lang = Language(int(row["id"]), str(row["name"]), str(row["espeak"]), row["role"], source)
        if lang.id in seen:
            raise ValueError(f"{where}: duplicate BABEL id {lang.id}")
        seen.add(lang.id)
        langs.append(lang)
    return langs


def select_languages(table: list[Language], wanted: list[str | int]) -> list[Language]:
    """Pick languages by BABEL id or (case-insensitive) name, keeping the requested order."""
    by_key = {str(lang.id): lang for lang in table} | {lang.name.lower(): lang for lang in table}
    out = []
    for key in wanted:
        lang = by_key.get(str(key).strip().lower())
        if lang is None:
            known = ", ".join(f"{lang.id}={lang.name}" for lang in table)
            raise ValueError(f"unknown BABEL language {key!r}; the table has: {known}")
        if lang not in out:
            out.append(lang)
    return out


def _wordfreq_candidates(lang: Language, size: int):
    source = lang.words
    letters = re.compile(f"[{source['letters']}]+")
    freq = wordfreq.get_frequency_dict(source["wordfreq"])
    top = wordfreq.top_n_list(source["wordfreq"], max(50 * size, 5000))
    return [(word, freq[word]) for word in top if letters.fullmatch(word) and word in freq]


def _pseudo_candidates(lang: Language, size: int):
    spec = lang.words["pseudo"]
    try:
        onsets, vowels, codas = list(spec["onsets"]), list(spec["vowels"]), list(spec["codas"])
        lo, hi = (int(v) for v in spec["syllables"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"language {lang.dirname}: pseudo needs onsets, vowels, codas, syllables: [min, max]"
        ) from None
    bad = [v for v in onsets + vowels + codas if not isinstance(v, str)]
    if bad:
        raise ValueError(
            f"language {lang.dirname}: pseudo spellings must be quoted strings, got {bad} "
            "(YAML reads on/no/yes as booleans)"
        )
    rng = stream(0, "pseudo-words", lang.id)
    out: dict[str, float] = {}
    for _ in range(40 * size):
        n = int(rng.integers(lo, hi + 1))
        word = "".join(
            onsets[rng.integers(len(onsets))]
            + vowels[rng.integers(len(vowels))]
            + codas[rng.integers(len(codas))]
            for _ in range(n)
        )
        out.setdefault(word, 1.0 / (len(out) + 10))
        if len(out) >= 4 * size:
            break
    return list(out.items())


def build_vocabulary(lang: Language, size: int, engine: Espeak | None = None) -> Vocabulary:
    """The `size` most frequent candidate words that espeak pronounces in `lang`."""
    engine = engine or Espeak.get()
    candidates = (
        _wordfreq_candidates(lang, size) if "wordfreq" in lang.words else _pseudo_candidates(lang, size)
    )
    words, weights, prons = [], [], {}
    for word, weight in candidates:
        phones = engine.phonemize(word, lang.espeak)
        if phones and not any("(" in p or ")" in p for p in phones):
            words.append(word)
            weights.append(weight)
            prons[word] = phones
            if len(words) == size:
                break
    if len(words) < min(size, 20):
        raise ValueError(
            f"language {lang.dirname}: only {len(words)} words that espeak voice {lang.espeak!r} pronounces"
        )
    w = np.asarray(weights, dtype=np.float64)
    return Vocabulary(words=words, weights=w / w.sum(), prons=prons)
