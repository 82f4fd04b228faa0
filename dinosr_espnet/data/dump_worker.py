"""One dumping task: read recordings, cut segments, make 16-bit mono at `fs`, write audio.

Runs in worker processes; returns everything the parent needs to write the Kaldi files, so
the output depends only on the task's inputs (byte-identical reruns, any `--nj`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
import soundfile

from dinosr_espnet.data.atomic import temporary_path
from dinosr_espnet.data.audio import (
    AudioError,
    check_finite,
    nonfinite_counts,
    read_audio,
    resample,
    to_int16,
    to_mono,
)

# A segment may end this far past the end of its recording (rounding in the timestamps);
# further is an error for that utterance.
END_TOLERANCE_S = 0.1


@dataclass(frozen=True)
class DumpOptions:
    """Output format and filters shared by all tasks."""

    fs: int = 16000
    audio_format: str = "flac"
    min_dur: float = 0.0
    max_dur: float = math.inf
    mix_channels: bool = False
    on_error: str = "skip"


@dataclass
class Recording:
    """A wav.scp entry and the utterances cut from it: `(utt, start_s, end_s)`, end <= 0 = EOF."""

    key: str
    entry: str
    utts: list[tuple[str, float, float]]


@dataclass
class TaskResult:
    """Per-utterance outputs and counters of one task."""

    wav_scp: dict[str, str] = field(default_factory=dict)
    num_samples: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    source_rates: dict[int, int] = field(default_factory=dict)
    mixed: int = 0
    clipped: int = 0
    nonfinite: dict[str, int] = field(default_factory=dict)


def _cut(samples: np.ndarray, rate: int, start: float, end: float) -> np.ndarray:
    first = int(round(start * rate))
    last = len(samples) if end <= 0 else int(round(end * rate))
    if first >= min(last, len(samples)) or last - len(samples) > END_TOLERANCE_S * rate:
        raise AudioError(
            "segment outside audio",
            f"{start:.3f}-{end:.3f} s but the recording has {len(samples) / rate:.3f} s",
        )
    return samples[first : min(last, len(samples))]


def _write(path: str, audio: np.ndarray, opts: DumpOptions) -> None:
    with temporary_path(path, sync_dir=False) as tmp:  # dump_data_dir syncs data/ once
        soundfile.write(tmp, audio, opts.fs, format=opts.audio_format.upper(), subtype="PCM_16")


def _convert(piece: np.ndarray, rate: int, opts: DumpOptions, where: str
             ) -> tuple[np.ndarray, int]:
    """Finite check (before and after resampling), resampling, int16 quantisation."""
    check_finite(piece, where)
    resampled = resample(piece, rate, opts.fs)
    check_finite(resampled, f"after resampling {where} from {rate} Hz")
    return to_int16(resampled)


def run_task(
    index: int, recordings: list[Recording], out_dir: str, opts: DumpOptions
) -> TaskResult:
    """Dump one task's recordings into `out_dir/data/` (flac/wav files or one ark)."""
    import kaldiio

    result = TaskResult()
    ark = os.path.join(out_dir, "data", f"data.{index:06d}.ark")
    ark_entries: dict[str, tuple[int, np.ndarray]] = {}
    for rec in recordings:
        try:
            samples, rate = read_audio(rec.entry)
            if len(samples) == 0:
                raise AudioError("empty audio", f"{rec.entry} has no samples")
        except AudioError as e:
            if opts.on_error == "fail":
                raise AudioError(e.reason, f"recording {rec.key}: {e.detail}") from None
            result.skipped.extend((utt, e.reason, e.detail) for utt, _, _ in rec.utts)
            continue
        multi_channel = samples.shape[1] > 1
        mono = to_mono(samples, opts.mix_channels, f"recording {rec.key} ({rec.entry})")
        for utt, start, end in rec.utts:
            try:
                piece = _cut(mono, rate, start, end)
                audio, clipped = _convert(piece, rate, opts, f"in {rec.entry}")
            except AudioError as e:
                if opts.on_error == "fail":
                    raise AudioError(e.reason, f"utterance {utt}: {e.detail}") from None
                result.skipped.append((utt, e.reason, e.detail))
                if e.reason == "non-finite samples":
                    for kind, n in nonfinite_counts(piece).items():
                        result.nonfinite[kind] = result.nonfinite.get(kind, 0) + n
                continue
            seconds = len(audio) / opts.fs
            if len(audio) == 0:
                result.skipped.append((utt, "empty audio", f"{start:.3f}-{end:.3f} s of {rec.key}"))
                continue
            if seconds < opts.min_dur or seconds > opts.max_dur:
                reason = "too short" if seconds < opts.min_dur else "too long"
                result.skipped.append((utt, reason, f"{seconds:.3f} s"))
                continue
            result.source_rates[rate] = result.source_rates.get(rate, 0) + 1
            result.clipped += clipped
            result.mixed += multi_channel
            result.num_samples[utt] = len(audio)
            if opts.audio_format == "ark":
                ark_entries[utt] = (opts.fs, audio)
            else:
                path = os.path.join(out_dir, "data", f"{utt}.{opts.audio_format}")
                _write(path, audio, opts)
                result.wav_scp[utt] = path
    if ark_entries:
        scp = f"{ark}.scp"
        with temporary_path(ark) as tmp:
            kaldiio.save_ark(tmp, ark_entries, scp=scp)
        with open(scp, encoding="utf-8") as f:
            entries = (line.rstrip("\n").split(" ", 1) for line in f)
            result.wav_scp.update((utt, value.replace(tmp, ark, 1)) for utt, value in entries)
        os.remove(scp)
    return result
