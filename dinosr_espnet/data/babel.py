"""IARPA BABEL conversational releases -> per-language Kaldi data dirs with `segments`.

Layout: `<corpus>/[release-current/]conversational/{training,dev,eval}/{audio/*.sph|*.wav,
transcription/*.txt}`. One recording per audio file (recid = basename, speaker = recid);
utterances are the timestamped spans of its transcription (see `babel_transcription`).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

import yaml

from dinosr_espnet.data.audio import sphere_sample_coding
from dinosr_espnet.data.babel_markup import MarkupPolicy
from dinosr_espnet.data.babel_transcription import (
    TimedText,
    TranscriptionError,
    parse_transcription,
    utterance_id,
)
from dinosr_espnet.data.kaldi_dir import DataDir, Segment
from dinosr_espnet.data.skips import SkipLog

logger = logging.getLogger(__name__)

# BABEL split directory -> Kaldi set suffix; `eval` often ships without transcriptions.
SPLITS = {"training": "train", "dev": "dev", "eval": "eval"}
OPTIONAL_SPLITS = {"eval"}
AUDIO_SUFFIXES = (".sph", ".wav")


def load_languages(path: str | os.PathLike) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Read the id->name table and the named groups (e.g. `pretrain`, `finetune`)."""
    with open(path, encoding="utf-8") as f:
        cfg = yaml.safe_load(f) or {}
    names = {str(k): str(v) for k, v in (cfg.get("languages") or {}).items()}
    groups = {str(k): [str(i) for i in v] for k, v in (cfg.get("groups") or {}).items()}
    for group, ids in groups.items():
        unknown = [i for i in ids if i not in names]
        if unknown:
            raise ValueError(f"{path}: group {group!r} lists unknown language ids {unknown}")
    return names, groups


def find_conversational(
    lang_id: str, corpus_dir: str | os.PathLike | None, babel_root: str | os.PathLike | None
) -> Path:
    """Locate `conversational/` for `lang_id` from its own corpus dir or from `babel_root`.

    Under `babel_root`, the corpus dir is the one subdirectory whose name contains the id
    as a separate number (e.g. `BABEL_OP1_102`, `IARPA-babel102b-v0.5a`).
    """
    if corpus_dir is None:
        if babel_root is None:
            raise FileNotFoundError(
                f"no corpus directory for BABEL language {lang_id}: set BABEL_{lang_id}=... "
                f"or BABEL_ROOT=... in db.sh"
            )
        pattern = re.compile(rf"(?<!\d){re.escape(lang_id)}(?!\d)")
        matches = sorted(
            p for p in Path(babel_root).iterdir() if p.is_dir() and pattern.search(p.name)
        )
        if len(matches) != 1:
            found = ", ".join(p.name for p in matches) or "none"
            raise FileNotFoundError(
                f"BABEL_ROOT={babel_root}: expected one directory named after language "
                f"{lang_id}, found {found}; set BABEL_{lang_id}=... in db.sh"
            )
        corpus_dir = matches[0]
    corpus_dir = Path(corpus_dir)
    candidates = (corpus_dir / "conversational", corpus_dir / "release-current" / "conversational")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"BABEL language {lang_id}: {corpus_dir} has no conversational/ "
        f"(nor release-current/conversational/)"
    )


def wav_scp_entry(audio: Path, sph2pipe: str | None) -> str:
    """wav.scp value for one recording.

    `.sph` goes through `sph2pipe` when available (handles shorten compression and µ-law);
    without it, PCM/µ-law SPHERE is read directly by libsndfile and shorten is an error.
    """
    path = str(audio.absolute())
    if audio.suffix != ".sph":
        return path
    if sph2pipe is not None:
        return f"{sph2pipe} -f wav -p -c 1 {path} |"
    coding = sphere_sample_coding(audio)
    if "shorten" in coding:
        raise RuntimeError(
            f"{audio} is shorten-compressed SPHERE ({coding}), which libsndfile cannot read: "
            f"install sph2pipe (Kaldi tools/ or your distribution) and put it on PATH or pass "
            f"--sph2pipe"
        )
    return path


def read_babel_split(
    split_dir: Path,
    policy: MarkupPolicy,
    skips: SkipLog,
    sph2pipe: str | None,
    strict: bool,
) -> DataDir:
    """Read one split (`training`, `dev` or `eval`) into a DataDir with segments.

    Malformed transcription files (e.g. out-of-order timestamps) are skipped whole and
    counted, or raise TranscriptionError when `strict`.
    """
    audio_dir, trans_dir = split_dir / "audio", split_dir / "transcription"
    audios = {}
    if audio_dir.is_dir():
        audios = {p.stem: p for p in sorted(audio_dir.iterdir()) if p.suffix in AUDIO_SUFFIXES}
    transcriptions = {}
    if trans_dir.is_dir():
        transcriptions = {p.stem: p for p in sorted(trans_dir.glob("*.txt"))}
    data = DataDir(segments={})
    for recid in sorted(set(audios) - set(transcriptions)):
        skips.add(recid, "audio without transcription", str(audios[recid]))
    for recid, trans in transcriptions.items():
        if recid not in audios:
            skips.add(recid, "transcription without audio", str(trans))
            continue
        if any(c.isspace() for c in recid):
            raise ValueError(f"{trans}: recording id {recid!r} contains whitespace")
        try:
            timed = parse_transcription(trans)
        except TranscriptionError as e:
            if strict:
                raise
            skips.add(recid, "bad transcription", str(e))
            continue
        kept = _add_segments(data, recid, timed, policy, skips)
        if kept:
            data.wav_scp[recid] = wav_scp_entry(audios[recid], sph2pipe)
    return data


def _add_segments(
    data: DataDir, recid: str, timed: list[TimedText], policy: MarkupPolicy, skips: SkipLog
) -> int:
    """Add the usable segments of one recording; returns how many were kept."""
    kept = 0
    for seg in timed:
        utt = utterance_id(recid, seg.start, seg.end)
        if seg.end <= seg.start:
            skips.add(utt, "zero-length segment")
            continue
        text = policy.normalise(seg.text)
        if not text:
            skips.add(utt, "empty after normalisation", seg.text or "(no text)")
            continue
        if policy.is_nonspeech_only(text):
            skips.add(utt, "only noise/unk", seg.text)
            continue
        if utt in data.text:
            skips.add(utt, "duplicate utterance id", f"a second segment at {seg.start}-{seg.end}")
            continue
        data.segments[utt] = Segment(recid, float(seg.start), float(seg.end))
        data.text[utt] = text
        data.utt2spk[utt] = recid
        kept += 1
    return kept


def prepare_babel_language(
    lang_id: str,
    name: str,
    conversational: Path,
    policy: MarkupPolicy,
    out_dir: str | os.PathLike,
    sph2pipe: str | None = None,
    strict: bool = False,
) -> dict[str, int]:
    """Write `out_dir/<name>_{train,dev,eval}` for one language; returns utterance counts."""
    sph2pipe = sph2pipe or shutil.which("sph2pipe")
    policy.counts.clear()
    counts = {}
    for split, suffix in SPLITS.items():
        set_name = f"{name}_{suffix}"
        split_dir = conversational / split
        trans_dir = split_dir / "transcription"
        if not trans_dir.is_dir():
            if split in OPTIONAL_SPLITS:
                logger.warning("%s: no %s; %s not prepared", lang_id, trans_dir, set_name)
                continue
            raise FileNotFoundError(f"BABEL language {lang_id}: missing {trans_dir}")
        skips = SkipLog(set_name, logger)
        data = read_babel_split(split_dir, policy, skips, sph2pipe, strict)
        set_dir = Path(out_dir) / set_name
        skips.write(set_dir / "log" / "skipped")
        if not data.utt2spk:
            raise ValueError(f"{set_name}: no usable utterances in {split_dir} ({skips.summary()})")
        data.write(set_dir)
        counts[set_name] = len(data.utt2spk)
        logger.info(
            "%s: %d utterances, %d recordings", set_dir, len(data.utt2spk), len(data.wav_scp)
        )
    logger.info("%s markup: %s", name, policy.summary())
    return counts
