"""Kaldi data directories: read and write `key value` files, C-locale sorted.

A Kaldi data dir is the contract between every recipe stage (see `docs/data.md`):
`wav.scp`, `text`, `utt2spk`, `spk2utt`, optional `segments` and `utt2num_samples`, each sorted
by key in C (byte) order with every utterance id present in every utterance-keyed file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dinosr_espnet.data.atomic import atomic_open


def c_sort_key(key: str) -> bytes:
    """Sort key equal to `LC_ALL=C sort`: compare the UTF-8 bytes."""
    return key.encode("utf-8")


def read_kaldi_map(path: str | os.PathLike, allow_empty_value: bool = False) -> dict[str, str]:
    """Read a `key value...` file into an ordered dict.

    Raises ValueError naming the file and line for non-UTF-8 bytes, a missing value or a
    duplicated key.
    """
    result: dict[str, str] = {}
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\n")
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not valid UTF-8 ({e.reason})") from None
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            key = parts[0]
            value = parts[1].strip() if len(parts) > 1 else ""
            if not value and not allow_empty_value:
                raise ValueError(f"{path}:{lineno}: key {key!r} has no value")
            if key in result:
                raise ValueError(f"{path}:{lineno}: duplicated key {key!r}")
            result[key] = value
    return result


def write_kaldi_map(path: str | os.PathLike, mapping: Mapping[str, str]) -> None:
    """Write `key value` lines sorted in C order, atomically (temp file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as f:
        for key in sorted(mapping, key=c_sort_key):
            f.write(f"{key} {mapping[key]}\n")


def spk2utt_from_utt2spk(utt2spk: Mapping[str, str]) -> dict[str, str]:
    """Invert utt2spk into `spk utt1 utt2 ...` with utterances in C order."""
    groups: dict[str, list[str]] = {}
    for utt in sorted(utt2spk, key=c_sort_key):
        groups.setdefault(utt2spk[utt], []).append(utt)
    return {spk: " ".join(utts) for spk, utts in groups.items()}


@dataclass
class Segment:
    """One `segments` line: utterance `recording` from `start` to `end` seconds."""

    recording: str
    start: float
    end: float


@dataclass
class DataDir:
    """In-memory Kaldi data dir; `write` checks consistency and writes every file sorted."""

    wav_scp: dict[str, str] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    utt2spk: dict[str, str] = field(default_factory=dict)
    segments: dict[str, Segment] | None = None

    def check(self, name: str) -> None:
        """Raise ValueError (naming `name` and one offending id) if files disagree."""
        utts = set(self.utt2spk)
        audio_keys = set(self.segments) if self.segments is not None else set(self.wav_scp)
        for label, keys in (("text", set(self.text)), ("wav.scp/segments", audio_keys)):
            if keys != utts:
                bad = sorted(keys ^ utts, key=c_sort_key)[0]
                raise ValueError(f"{name}: utterance {bad!r} is in only one of utt2spk and {label}")
        if self.segments is not None:
            missing = {s.recording for s in self.segments.values()} - set(self.wav_scp)
            if missing:
                raise ValueError(f"{name}: recording {sorted(missing)[0]!r} not in wav.scp")
        for utt in utts:
            if not self.text[utt].strip():
                raise ValueError(f"{name}: utterance {utt!r} has an empty transcript")

    def write(self, out_dir: str | os.PathLike) -> None:
        """Write wav.scp, text, utt2spk, spk2utt (and segments) into `out_dir`."""
        out = Path(out_dir)
        if not self.utt2spk:
            raise ValueError(f"{out}: no utterances to write")
        self.check(str(out))
        out.mkdir(parents=True, exist_ok=True)
        write_kaldi_map(out / "wav.scp", self.wav_scp)
        write_kaldi_map(out / "text", self.text)
        write_kaldi_map(out / "utt2spk", self.utt2spk)
        write_kaldi_map(out / "spk2utt", spk2utt_from_utt2spk(self.utt2spk))
        if self.segments is not None:
            write_kaldi_map(
                out / "segments",
                {u: f"{s.recording} {s.start:.3f} {s.end:.3f}" for u, s in self.segments.items()},
            )
        elif (out / "segments").exists():
            (out / "segments").unlink()


def read_segments(path: str | os.PathLike) -> dict[str, Segment]:
    """Read a `segments` file (`utt rec start end`); end <= 0 means the end of the recording."""
    result: dict[str, Segment] = {}
    for utt, value in read_kaldi_map(path).items():
        fields = value.split()
        try:
            if len(fields) != 3:
                raise ValueError
            rec, start, end = fields[0], float(fields[1]), float(fields[2])
        except ValueError:
            raise ValueError(
                f"{path}: bad line for {utt!r}: expected 'utt rec start end'"
            ) from None
        if start < 0 or (end > 0 and end <= start):
            raise ValueError(f"{path}: {utt!r} has start {start} and end {end}")
        result[utt] = Segment(rec, start, end)
    return result

