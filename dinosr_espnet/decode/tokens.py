"""Letter token vocabulary for CTC: ``<blank>``, ``<unk>``, letters and ``|`` (word boundary).

wav2vec 2.0 / HuBERT / DinoSR fine-tune on letters with ``|`` between words (spec §7). ESPnet's
char tokenizer writes a space as ``<space>`` unless ``space_symbol: "|"`` is set (our fine-tuning
configs set it), so token lists made by ESPnet's default tooling are accepted too:
``read_token_list`` maps ``<space>`` to ``|``.
"""
from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path
from typing import Iterable

logger = logging.getLogger(__name__)

BLANK = "<blank>"
UNK = "<unk>"
WORD_BOUNDARY = "|"
ESPNET_SPACE = "<space>"


def spell(word: str) -> list[str]:
    """Lexicon spelling of one word: its letters followed by the word boundary.

    ``spell("CAT") == ["C", "A", "T", "|"]``.
    """
    if not word or any(c.isspace() for c in word) or WORD_BOUNDARY in word:
        raise ValueError(f"not a word: {word!r} (empty, contains whitespace or {WORD_BOUNDARY!r})")
    return [*word, WORD_BOUNDARY]


def text_to_tokens(text: str) -> list[str]:
    """Letter tokens of a transcript: ``"THE CAT"`` -> ``T H E | C A T`` (no outer boundaries)."""
    tokens: list[str] = []
    for word in text.split():
        tokens.extend(spell(word))
    return tokens[:-1]


def tokens_to_text(tokens: Iterable[str]) -> str:
    """Inverse of ``text_to_tokens``: boundaries (``|`` or ``<space>``) become single spaces."""
    text = "".join(" " if t in (WORD_BOUNDARY, ESPNET_SPACE) else t for t in tokens)
    return " ".join(text.split())


def build_token_list(texts: Iterable[str]) -> list[str]:
    """Token list for CTC fine-tuning from transcripts.

    ``<blank>`` (index 0, the CTC blank), ``<unk>``, then every letter and ``|`` by decreasing
    frequency (ties in code point order), as wav2vec 2.0's letter dictionaries.
    """
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(text_to_tokens(text))
    if not counts:
        raise ValueError("cannot build a token list: the transcripts contain no letters")
    return [BLANK, UNK] + sorted(counts, key=lambda t: (-counts[t], t))


def write_token_list(path: str | os.PathLike, tokens: Iterable[str]) -> None:
    """Write one token per line (ESPnet's ``token_list`` format)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{t}\n" for t in tokens), encoding="utf-8")


def read_token_list(path: str | os.PathLike) -> list[str]:
    """Read a token list; line v is emission column v. ``<space>`` is read as ``|``.

    Raises ValueError naming the file and line for an empty line, a token with whitespace, a
    duplicate, or when line 1 is not ``<blank>``.
    """
    tokens: list[str] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            token = line.rstrip("\n")
            if not token or any(c.isspace() for c in token):
                raise ValueError(f"{path}:{lineno}: bad token {token!r} (empty or has whitespace)")
            tokens.append(token)
    if not tokens or tokens[0] != BLANK:
        raise ValueError(f"{path}: the first token must be {BLANK!r} (the CTC blank)")
    if ESPNET_SPACE in tokens:
        if WORD_BOUNDARY in tokens:
            raise ValueError(f"{path}: has both {ESPNET_SPACE!r} and {WORD_BOUNDARY!r}")
        logger.info(f"{path}: reading ESPnet's {ESPNET_SPACE} as the word boundary {WORD_BOUNDARY}")
        tokens = [WORD_BOUNDARY if t == ESPNET_SPACE else t for t in tokens]
    seen: set[str] = set()
    for lineno, token in enumerate(tokens, start=1):
        if token in seen:
            raise ValueError(f"{path}:{lineno}: duplicated token {token!r}")
        seen.add(token)
    return tokens
