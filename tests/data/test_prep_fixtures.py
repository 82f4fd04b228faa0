"""Tiny corpora in the real on-disk layouts (LibriSpeech, Libri-light limited, BABEL).

Builders shared by the data-prep and dump tests; the tests at the bottom pin the layouts to
the real trees (docs/data.md, "Real corpora on disk") so that a change here cannot silently drift from the real trees.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile

SPEAKERS_TXT = ";ID  |SEX| SUBSET           |MINUTES| NAME\n"


def tone(seconds: float, rate: int, seed: int, channels: int = 1) -> np.ndarray:
    """Deterministic noisy tone, well inside [-1, 1)."""
    n = int(round(seconds * rate))
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    x = 0.3 * np.sin(2 * np.pi * (200 + 50 * (seed % 7)) * t) + 0.05 * rng.standard_normal(n)
    return np.stack([x * (1 - 0.3 * c) for c in range(channels)], axis=1) if channels > 1 else x


def write_audio(path: Path, seconds: float, rate: int = 16000, seed: int = 0, channels: int = 1,
                **kwargs) -> np.ndarray:
    """Write a tone as 16-bit audio (format from the suffix unless given); returns the int16 data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    x = tone(seconds, rate, seed, channels)
    soundfile.write(path, x, rate, subtype=kwargs.pop("subtype", "PCM_16"), **kwargs)
    data, _ = soundfile.read(path, dtype="int16")
    return data


def make_flac_tree(top: Path, chapters: dict[tuple[str, str], int], seconds: float = 0.3,
                   seed: int = 0) -> dict[str, str]:
    """`top/<spk>/<chapter>/<spk>-<chapter>-<i:04d>.flac` + trans; returns uttid -> text."""
    texts = {}
    for k, ((spk, chapter), n) in enumerate(sorted(chapters.items())):
        chapter_dir = top / spk / chapter
        lines = []
        for i in range(n):
            utt = f"{spk}-{chapter}-{i:04d}"
            write_audio(chapter_dir / f"{utt}.flac", seconds + 0.01 * i, seed=seed + 100 * k + i)
            texts[utt] = f"HELLO {spk} WORLD {i}"
            lines.append(f"{utt} {texts[utt]}\n")
        (chapter_dir / f"{spk}-{chapter}.trans.txt").write_text("".join(lines))
    return texts


# Speakers per LibriSpeech part: disjoint between train, dev and test (as in the real corpus).
LIBRISPEECH_LAYOUT = {
    "train-clean-100": {("19", "198"): 2, ("103", "1240"): 2},
    "train-clean-360": {("100", "121669"): 2},
    "train-other-500": {("1006", "135212"): 2},
    "dev-clean": {("84", "121123"): 2, ("1272", "128104"): 1},
    "dev-other": {("116", "288045"): 2},
    "test-clean": {("61", "70968"): 2},
    "test-other": {("1688", "142285"): 2},
}


def make_librispeech(root: Path, layout=None) -> dict[str, dict[str, str]]:
    """`root/LibriSpeech/<part>/...`; returns part -> (uttid -> text)."""
    layout = LIBRISPEECH_LAYOUT if layout is None else layout
    base = root / "LibriSpeech"
    base.mkdir(parents=True, exist_ok=True)
    (base / "SPEAKERS.TXT").write_text(SPEAKERS_TXT)
    (base / "LICENSE.TXT").write_text("CC BY 4.0\n")
    return {part: make_flac_tree(base / part, chapters, seed=10 * i)
            for i, (part, chapters) in enumerate(layout.items())}


def make_librilight(root: Path) -> dict[str, dict[str, str]]:
    """`root/librispeech_finetuning/{1h/{0..5},9h}/{clean,other}/...`; returns subdir -> texts."""
    base = root / "librispeech_finetuning"
    result = {}
    speaker = 2000
    for sub in [f"1h/{i}/{kind}" for i in range(6) for kind in ("clean", "other")] + ["9h/clean", "9h/other"]:
        speaker += 1
        result[sub] = make_flac_tree(base / sub, {(str(speaker), "5000"): 1}, seed=speaker)
    return result


def babel_recid(lang: str, n: int) -> str:
    """A BABEL-style recording id."""
    return f"BABEL_OP1_{lang}_{10000 + n}_20120101_000000_inLine"


def make_babel_language(root: Path, lang: str, recordings: dict[str, list[list[str]]],
                        seconds: float = 4.0) -> Path:
    """`root/BABEL_OP1_<lang>/conversational/<split>/{audio/*.sph,transcription/*.txt}`.

    `recordings` maps split -> list of transcription files, each a list of lines (timestamps
    and text); audio is 8 kHz µ-law NIST SPHERE, `seconds` long.
    """
    corpus = root / f"BABEL_OP1_{lang}"
    n = 0
    for split, files in recordings.items():
        for lines in files:
            n += 1
            recid = babel_recid(lang, n)
            conv = corpus / "conversational" / split
            write_audio(conv / "audio" / f"{recid}.sph", seconds, rate=8000, seed=n,
                        format="NIST", subtype="ULAW")
            (conv / "transcription").mkdir(parents=True, exist_ok=True)
            (conv / "transcription" / f"{recid}.txt").write_text("\n".join(lines) + "\n")
    return corpus


BABEL_TRANSCRIPT = ["[0.000]", "<no-speech>", "[0.500]", "hello <breath> world", "[1.250]",
                    "(())", "[1.900]", "*good* ~ morning <hes>", "[2.755]"]


REPO = Path(__file__).resolve().parents[2]
UTILS = REPO / "utils"
PYTHON = sys.executable


def run(cmd: list[str], cwd: Path | None = None, env: dict | None = None, check: bool = True):
    """Run a command with PYTHON set to this interpreter; returns the CompletedProcess."""
    full_env = {**os.environ, "PYTHON": PYTHON, **(env or {})}
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=full_env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def check_data_dir(path: Path, files=("wav.scp", "text", "utt2spk", "spk2utt")) -> list[str]:
    """Assert C-sorted unique keys, identical utterance sets and a passing validate_data_dir.sh.

    Returns the utterance ids.
    """
    for name in files + tuple(f for f in ("segments", "utt2num_samples") if (path / f).exists()):
        keys = [line.split(" ", 1)[0] for line in (path / name).read_text().splitlines()]
        assert keys == sorted(keys, key=lambda k: k.encode()), f"{path / name} not C-sorted"
        assert len(set(keys)) == len(keys), f"{path / name} has duplicate keys"
    utts = [line.split()[0] for line in (path / "utt2spk").read_text().splitlines()]
    audio = "segments" if (path / "segments").exists() else "wav.scp"
    for name in ("text", audio) + (("utt2num_samples",) if (path / "utt2num_samples").exists() else ()):
        assert [line.split()[0] for line in (path / name).read_text().splitlines()] == utts, name
    run(["bash", UTILS / "validate_data_dir.sh", path])
    return utts


def speakers(path: Path) -> set[str]:
    """Speaker ids of a data dir."""
    return {line.split()[1] for line in (path / "utt2spk").read_text().splitlines()}


def snapshot(top: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Relative path -> bytes of every file under `top` (for byte-identical rerun checks)."""
    return {str(p.relative_to(top)): p.read_bytes() for p in sorted(top.rglob("*"))
            if p.is_file() and not any(part in skip for part in p.relative_to(top).parts)}


def test_librispeech_layout(tmp_path):
    texts = make_librispeech(tmp_path, {"dev-clean": {("84", "121123"): 2}})
    chapter = tmp_path / "LibriSpeech" / "dev-clean" / "84" / "121123"
    assert sorted(p.name for p in chapter.iterdir()) == [
        "84-121123-0000.flac", "84-121123-0001.flac", "84-121123.trans.txt"]
    assert (chapter / "84-121123.trans.txt").read_text().splitlines()[1] == (
        "84-121123-0001 " + texts["dev-clean"]["84-121123-0001"])
    info = soundfile.info(chapter / "84-121123-0000.flac")
    assert (info.samplerate, info.channels, info.frames) == (16000, 1, 4800)


def test_babel_layout(tmp_path):
    make_babel_language(tmp_path, "101", {"training": [BABEL_TRANSCRIPT]})
    conv = tmp_path / "BABEL_OP1_101" / "conversational" / "training"
    recid = babel_recid("101", 1)
    info = soundfile.info(conv / "audio" / f"{recid}.sph")
    assert (info.format, info.subtype, info.samplerate, info.frames) == ("NIST", "ULAW", 8000, 32000)
    assert (conv / "transcription" / f"{recid}.txt").read_text().startswith("[0.000]\n<no-speech>\n")
