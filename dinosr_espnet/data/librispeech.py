"""LibriSpeech FLAC trees (`<part>/<spk>/<chapter>/*.flac` + `<spk>-<chapter>.trans.txt`).

The same reader serves LibriSpeech parts and the Libri-light limited-supervision tree, which
uses the identical per-chapter layout. Utterance id `<spk>-<chapter>-<utt4>`, speaker
`<spk>-<chapter>` (layouts: docs/data.md).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from tqdm import tqdm

from dinosr_espnet.data.kaldi_dir import DataDir
from dinosr_espnet.data.skips import SkipLog

logger = logging.getLogger(__name__)

LIBRISPEECH_PARTS = (
    "train-clean-100",
    "train-clean-360",
    "train-other-500",
    "dev-clean",
    "dev-other",
    "test-clean",
    "test-other",
)


def kaldi_set_name(part: str) -> str:
    """ESPnet's data dir name for a LibriSpeech part: `dev-clean` -> `dev_clean`."""
    return part.replace("-", "_")


def find_librispeech_part(root: str | os.PathLike, part: str) -> Path:
    """Locate `<root>/LibriSpeech/<part>` (or `<root>/<part>` when root is the LibriSpeech dir)."""
    root = Path(root)
    for candidate in (root / "LibriSpeech" / part, root / part):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"LibriSpeech part {part!r} not found: looked for {root / 'LibriSpeech' / part} "
        f"and {root / part}"
    )


def _sorted_subdirs(path: Path) -> list[Path]:
    return sorted((Path(e.path) for e in os.scandir(path) if e.is_dir()), key=lambda p: p.name)


def _read_trans(trans: Path, prefix: str) -> list[tuple[str, str]]:
    """Parse `<uttid> WORDS` lines; the uttid must start with `<spk>-<chapter>-`."""
    entries = []
    with open(trans, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as e:
                raise ValueError(f"{trans}:{lineno}: not valid UTF-8 ({e.reason})") from None
            if not line:
                continue
            parts = line.split(maxsplit=1)
            if not parts[0].startswith(prefix):
                raise ValueError(
                    f"{trans}:{lineno}: utterance {parts[0]!r} does not start with {prefix!r}"
                )
            entries.append((parts[0], parts[1] if len(parts) > 1 else ""))
    return entries


def read_flac_tree(dirs: list[Path], skips: SkipLog) -> DataDir:
    """Read every chapter under `dirs` into one DataDir.

    Skips (counted in `skips`): transcript lines without a FLAC, FLACs without a transcript
    line, empty transcripts. Errors: non-UTF-8 transcripts, malformed ids, an utterance id
    found in two places.
    """
    data = DataDir()
    origin: dict[str, Path] = {}
    for top in dirs:
        for spk_dir in tqdm(_sorted_subdirs(top), desc=f"read {top.name}", unit="spk", disable=None):
            for chapter_dir in _sorted_subdirs(spk_dir):
                speaker = f"{spk_dir.name}-{chapter_dir.name}"
                _read_chapter(chapter_dir, speaker, data, origin, skips)
    return data


def _read_chapter(
    chapter_dir: Path, speaker: str, data: DataDir, origin: dict[str, Path], skips: SkipLog
) -> None:
    names = set(os.listdir(chapter_dir))
    flacs = {n[: -len(".flac")] for n in names if n.endswith(".flac")}
    trans_name = f"{speaker}.trans.txt"
    lines = _read_trans(chapter_dir / trans_name, f"{speaker}-") if trans_name in names else []
    transcribed = set()
    for utt, words in lines:
        transcribed.add(utt)
        if utt in origin:
            raise ValueError(
                f"utterance {utt!r} appears twice: {origin[utt]} and {chapter_dir / trans_name}"
            )
        if utt not in flacs:
            skips.add(utt, "no audio", f"{chapter_dir / (utt + '.flac')} is missing")
            continue
        if not words.strip():
            skips.add(utt, "empty transcript", str(chapter_dir / trans_name))
            continue
        origin[utt] = chapter_dir / trans_name
        data.wav_scp[utt] = str((chapter_dir / f"{utt}.flac").absolute())
        data.text[utt] = " ".join(words.split())
        data.utt2spk[utt] = speaker
    for utt in sorted(flacs - transcribed):
        flac = chapter_dir / f"{utt}.flac"
        skips.add(utt, "no transcript", f"{flac} has no line in {trans_name}")


def prepare_librispeech(
    root: str | os.PathLike, parts: list[str], out_dir: str | os.PathLike
) -> dict[str, int]:
    """Write `out_dir/<part_with_underscores>` for each part; return utterance counts."""
    counts = {}
    for part in parts:
        if part not in LIBRISPEECH_PARTS:
            raise ValueError(f"unknown LibriSpeech part {part!r}; choose from {LIBRISPEECH_PARTS}")
        part_dir = find_librispeech_part(root, part)
        set_dir = Path(out_dir) / kaldi_set_name(part)
        skips = SkipLog(kaldi_set_name(part), logger)
        data = read_flac_tree([part_dir], skips)
        skips.write(set_dir / "log" / "skipped")
        data.write(set_dir)
        counts[kaldi_set_name(part)] = len(data.utt2spk)
        logger.info("%s: %d utterances from %s", set_dir, len(data.utt2spk), part_dir)
    return counts
