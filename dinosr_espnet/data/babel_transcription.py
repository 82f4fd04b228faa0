"""BABEL transcription files: alternating `[seconds]` timestamp lines and text lines.

The utterances are the spans between consecutive timestamps (Kaldi babel s5d convention);
the utterance id is `<recid>_<start_cs:07d>_<end_cs:07d>` with times in centiseconds.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

_TIMESTAMP = re.compile(r"^\[\s*(\d+(?:\.\d*)?)\s*\]$")


class TranscriptionError(ValueError):
    """A malformed transcription file; the message names the file and line."""


@dataclass(frozen=True)
class TimedText:
    """Text spoken between `start` and `end` (seconds, exact decimals from the file)."""

    start: Decimal
    end: Decimal
    text: str


def centiseconds(t: Decimal) -> int:
    """Seconds -> centiseconds, rounding halves up (so 1.235 s -> 124)."""
    return int((t * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def utterance_id(recording: str, start: Decimal, end: Decimal) -> str:
    """`<recid>_<start_cs:07d>_<end_cs:07d>`, the id shared with the corpus generator."""
    return f"{recording}_{centiseconds(start):07d}_{centiseconds(end):07d}"


def parse_transcription(path: str | os.PathLike) -> list[TimedText]:
    """Read one transcription file into timed segments.

    Raises TranscriptionError (naming file and line) for non-UTF-8 bytes, text before the
    first timestamp, text after the last one, or a timestamp earlier than the previous one.
    Segments of zero length are returned; the caller decides what to do with them.
    """
    with open(path, "rb") as f:
        raw = f.read()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        lineno = raw[: e.start].count(b"\n") + 1
        raise TranscriptionError(f"{path}:{lineno}: not valid UTF-8 ({e.reason})") from None
    segments: list[TimedText] = []
    previous: tuple[Decimal, int] | None = None
    pending: list[str] = []
    for lineno, line in enumerate(content.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        match = _TIMESTAMP.match(line)
        if match is None:
            if previous is None:
                raise TranscriptionError(f"{path}:{lineno}: text before the first timestamp")
            pending.append(line)
            continue
        time = Decimal(match.group(1))
        if previous is not None:
            if time < previous[0]:
                raise TranscriptionError(
                    f"{path}:{lineno}: timestamp [{time}] is earlier than [{previous[0]}] "
                    f"on line {previous[1]}"
                )
            segments.append(TimedText(previous[0], time, " ".join(pending)))
        previous, pending = (time, lineno), []
    if pending:
        raise TranscriptionError(f"{path}: text after the last timestamp has no end time")
    return segments
