"""Input checks for DinoSR pretraining data: sample rate and minimum length.

Two layers: ``check_speech_lengths`` runs once at start-up on ``utt2num_samples`` / ESPnet shape
files (or, for an undumped data dir, the audio headers) and fails before any training with the
first too-short or unreadable utterance; ``DinoSRPreprocessor``
(ESPnet's per-utterance ``preprocess_fn``) checks each loaded utterance's sample rate and
length, naming the utterance, so nothing reaches the model that it cannot turn into frames.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
import soundfile

logger = logging.getLogger(__name__)


def read_lengths(path: Path) -> Iterable[tuple[str, int, int]]:
    """Yield ``(uid, num_samples, line_no)`` from ``uid N`` lines (``N`` or ``N,C`` shapes)."""
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                yield parts[0], int(parts[1].split(",")[0]), line_no
            except (IndexError, ValueError):
                raise ValueError(f"{path}:{line_no}: expected 'utt_id num_samples', "
                                 f"got {line.rstrip()!r}") from None


def check_min_lengths(length_files: Sequence[Path], receptive_field: int) -> None:
    """Fail if any utterance listed in ``length_files`` is shorter than the CNN's receptive
    field, naming the first such utterance and how many there are."""
    for path in length_files:
        _check_short(path, read_lengths(path), receptive_field)


def _check_short(path: Path, lengths: Iterable[tuple[str, int, int]],
                 receptive_field: int) -> None:
    first, num_short = None, 0
    for uid, n, line_no in lengths:
        if n < receptive_field:
            num_short += 1
            if first is None:
                first = (uid, n, line_no)
    if first is not None:
        uid, n, line_no = first
        raise ValueError(
            f"utterance '{uid}' ({path}:{line_no}) has {n} samples, fewer than the CNN "
            f"receptive field ({receptive_field}); {num_short} utterance(s) in {path} are "
            f"too short: remove them from the data directory (the release drops < 2 s)"
        )
    logger.info(f"Length check passed: {path} (receptive field {receptive_field} samples)")


def scp_header_lengths(scp: Path) -> Iterable[tuple[str, int, int]]:
    """Yield ``(uid, num_samples, line_no)`` from the audio headers of a ``sound`` scp.

    For data dirs without ``utt2num_samples`` (not dumped): a missing or unreadable file is a
    ``ValueError`` naming the utterance; pipe (``cmd |``) and ark entries are left to the
    per-utterance check, as their length is only known after decoding.
    """
    with open(scp, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            parts = line.split(maxsplit=1)
            if len(parts) != 2:
                continue
            uid, path = parts[0], parts[1].strip()
            if path.endswith("|") or ".ark:" in path:
                continue
            try:
                frames = soundfile.info(path).frames
            except (soundfile.LibsndfileError, RuntimeError, OSError) as e:
                raise ValueError(f"utterance '{uid}' ({scp}:{line_no}): cannot read {path}: "
                                 f"{e}") from None
            yield uid, frames, line_no


def check_speech_lengths(data_path_and_name_and_type: Sequence[Sequence[str]],
                         shape_files: Sequence[str], receptive_field: int) -> None:
    """``check_min_lengths`` on the known lengths: ``utt2num_samples`` next to each speech
    scp and the ``speech_shape`` files; when neither exists (an undumped data dir, e.g. the
    stats stage), the audio headers of the scp."""
    files = speech_length_files(data_path_and_name_and_type, shape_files)
    check_min_lengths(files, receptive_field)
    if any(p.name.startswith("speech_shape") for p in files):
        return
    for path, name, kind in data_path_and_name_and_type:
        if name != "speech" or kind != "sound" or (Path(path).parent / "utt2num_samples").is_file():
            continue
        logger.info(f"No utt2num_samples next to {path}: reading the audio headers")
        _check_short(Path(path), scp_header_lengths(Path(path)), receptive_field)


def speech_length_files(data_path_and_name_and_type: Sequence[Sequence[str]],
                        shape_files: Sequence[str]) -> list[Path]:
    """``utt2num_samples`` next to each speech scp, plus the ``speech_shape`` files given."""
    files = []
    for path, name, _ in data_path_and_name_and_type:
        candidate = Path(path).parent / "utt2num_samples"
        if name == "speech" and candidate.is_file():
            files.append(candidate)
    files += [Path(p) for p in shape_files if Path(p).name.startswith("speech_shape")]
    return files


class DinoSRPreprocessor:
    """ESPnet ``preprocess_fn``: mono, ``fs`` Hz, at least ``receptive_field`` samples.

    Args:
        fs: required sample rate (Hz).
        receptive_field: minimum samples (one CNN frame).
        wav_scps: ``sound``-type scp files holding the ``speech`` entries; their headers give
            each utterance's sample rate. Without any, the rate cannot be checked (logged once).
    """

    def __init__(self, fs: int, receptive_field: int, wav_scps: Sequence[str] = ()) -> None:
        self.fs = fs
        self.receptive_field = receptive_field
        self.wav_scps = list(wav_scps)
        self._paths: Optional[dict[str, str]] = None
        if not self.wav_scps:
            logger.warning("No 'sound'-type speech scp given: sample rates are not checked")

    def _path(self, uid: str) -> Optional[str]:
        if self._paths is None:
            self._paths = {}
            for scp in self.wav_scps:
                with open(scp, encoding="utf-8") as f:
                    for line in f:
                        parts = line.split(maxsplit=1)
                        if len(parts) == 2:
                            self._paths[parts[0]] = parts[1].strip()
        return self._paths.get(uid)

    def __call__(self, uid: str, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        speech = data["speech"]
        if speech.ndim == 2 and speech.shape[1] == 1:
            speech = data["speech"] = speech[:, 0]
        if speech.ndim != 1:
            raise ValueError(f"utterance '{uid}': expected mono audio, got shape {speech.shape}")
        if self.wav_scps:
            path = self._path(uid)
            if path is None:
                raise KeyError(f"utterance '{uid}' is not in the speech scp(s) {self.wav_scps}")
            rate = soundfile.info(path).samplerate
            if rate != self.fs:
                raise ValueError(f"utterance '{uid}' ({path}) is sampled at {rate} Hz, "
                                 f"expected {self.fs} Hz (--fs): resample the corpus")
        if len(speech) < self.receptive_field:
            raise ValueError(f"utterance '{uid}' has {len(speech)} samples, fewer than the CNN "
                             f"receptive field ({self.receptive_field}): remove it from the data")
        return data
