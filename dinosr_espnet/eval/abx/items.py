"""ZeroSpeech / libri-light ``.item`` files: one ABX token per line.

Format (evaluation.md): a header line, then ``#file onset offset #phone prev-phone next-phone
speaker`` with times in seconds; ``#file`` is the feature file basename (the utterance id).
The context of a token is its (prev-phone, next-phone) pair.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Union

_NUM_COLUMNS = 7


@dataclass(frozen=True)
class ItemToken:
    """One line of an item file: a phone token with its context and speaker."""

    file: str
    onset: float
    offset: float
    phone: str
    prev_phone: str
    next_phone: str
    speaker: str

    @property
    def context(self) -> str:
        """Context label used for within-context ABX: ``prev+next``."""
        return f"{self.prev_phone}+{self.next_phone}"


def parse_item_line(line: str, where: str) -> ItemToken:
    """Parse one data line; ``where`` (``file:line``) names the line in errors."""
    fields = line.split()
    if len(fields) != _NUM_COLUMNS:
        raise ValueError(
            f"{where}: expected {_NUM_COLUMNS} columns "
            f"(#file onset offset #phone prev-phone next-phone speaker), got {len(fields)}"
        )
    try:
        onset, offset = float(fields[1]), float(fields[2])
    except ValueError as err:
        raise ValueError(f"{where}: onset/offset are not numbers: {fields[1]!r} {fields[2]!r}") from err
    if not 0.0 <= onset < offset:
        raise ValueError(f"{where}: need 0 <= onset < offset, got onset={onset} offset={offset}")
    return ItemToken(fields[0], onset, offset, fields[3], fields[4], fields[5], fields[6])


def read_item_file(path: Union[str, Path]) -> list[ItemToken]:
    """Read an item file (header line required, blank lines ignored) in file order."""
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    if not lines or not lines[0].startswith("#file"):
        raise ValueError(f"{path}: missing the '#file onset offset #phone ...' header line")
    tokens = [
        parse_item_line(line, f"{path}:{number}")
        for number, line in enumerate(lines[1:], start=2)
        if line.strip()
    ]
    if not tokens:
        raise ValueError(f"{path}: no tokens after the header")
    return tokens
