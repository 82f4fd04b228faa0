"""Read the audio a `wav.scp` entry points to, and convert it to 16-bit mono at a target rate.

Entries are a file path (anything libsndfile reads: FLAC, WAV, NIST SPHERE PCM/µ-law), a
command pipe (`cmd args |`, e.g. `sph2pipe -f wav -p -c 1 x.sph |` for shorten-compressed
SPHERE), or a Kaldi ark offset (`x.ark:123`, read with kaldiio).
"""

from __future__ import annotations

import io
import os
import re
import subprocess

import numpy as np
import soundfile

_ARK_OFFSET = re.compile(r"^\S+\.ark:\d+$")


class AudioError(Exception):
    """Audio that cannot be used; `reason` is a short category used in skip counts."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    def __reduce__(self):
        return (AudioError, (self.reason, self.detail))


class ChannelError(ValueError):
    """Multi-channel input while the channel policy asks for an error."""


def _decode(data: io.BytesIO | str, source: str) -> tuple[np.ndarray, int]:
    """Decode with libsndfile; a corrupt or truncated FLAC raises (decoder loses sync)."""
    try:
        samples, rate = soundfile.read(data, dtype="float64", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as e:
        raise AudioError("unreadable", f"{source}: {e}") from None
    return samples, int(rate)


def _run_pipe(command: str) -> bytes:
    proc = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}"], capture_output=True, check=False
    )
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip()[-300:]
        raise AudioError("command failed", f"`{command}` exited {proc.returncode}: {tail}")
    if not proc.stdout:
        raise AudioError("empty file", f"`{command}` wrote nothing")
    return proc.stdout


def read_audio(entry: str) -> tuple[np.ndarray, int]:
    """Read one wav.scp value; returns `(samples (frames, channels) float64 in [-1, 1), rate)`.

    Raises AudioError with reason `missing file`, `empty file`, `unreadable` or
    `command failed`.
    """
    entry = entry.strip()
    if entry.endswith("|"):
        command = entry[:-1].strip()
        return _decode(io.BytesIO(_run_pipe(command)), f"`{command}`")
    if _ARK_OFFSET.match(entry):
        return _read_ark(entry)
    if not os.path.exists(entry):
        raise AudioError("missing file", entry)
    if os.path.getsize(entry) == 0:
        raise AudioError("empty file", f"{entry} has 0 bytes")
    return _decode(entry, entry)


def _read_ark(entry: str) -> tuple[np.ndarray, int]:
    import kaldiio

    try:
        rate, array = kaldiio.load_mat(entry)
    except (OSError, ValueError, RuntimeError) as e:
        raise AudioError("unreadable", f"{entry}: {e}") from None
    array = np.asarray(array)
    if array.dtype.kind == "i":
        array = array.astype(np.float64) / 32768.0
    return array.reshape(len(array), -1).astype(np.float64), int(rate)


def to_mono(samples: np.ndarray, mix_channels: bool, source: str) -> np.ndarray:
    """(frames, channels) -> (frames,): one channel passes, several are averaged or rejected."""
    if samples.shape[1] == 1:
        return samples[:, 0]
    if not mix_channels:
        raise ChannelError(
            f"{source} has {samples.shape[1]} channels; pass --mix_channels to average them"
        )
    return samples.mean(axis=1)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Band-limited resampling with soxr (deterministic, high quality)."""
    if rate == target:
        return samples
    import soxr

    return soxr.resample(samples, rate, target, quality="HQ")


def nonfinite_counts(samples: np.ndarray) -> dict[str, int]:
    """Numbers of NaN, +inf and -inf samples (only the non-zero ones; empty when all finite)."""
    if np.isfinite(samples).all():
        return {}
    counts = {"NaN": int(np.isnan(samples).sum()), "+inf": int(np.isposinf(samples).sum()),
              "-inf": int(np.isneginf(samples).sum())}
    return {k: n for k, n in counts.items() if n}


def check_finite(samples: np.ndarray, where: str) -> None:
    """Raise AudioError `non-finite samples` (counts and ``where``) unless all are finite.

    Float WAV/FLAC can hold NaN and inf; quantising them would silently write 0 (NaN) or
    full scale (inf), and resampling spreads one NaN over the whole output.
    """
    counts = nonfinite_counts(samples)
    if counts:
        parts = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        raise AudioError("non-finite samples", f"{parts} {where}")


def to_int16(samples: np.ndarray) -> tuple[np.ndarray, int]:
    """Quantise [-1, 1) floats to int16; returns the array and the number of clipped samples.

    Exact for 16-bit sources: x = k / 32768 maps back to k.
    """
    scaled = np.round(samples * 32768.0)
    clipped = int(np.count_nonzero((scaled > 32767) | (scaled < -32768)))
    return np.clip(scaled, -32768, 32767).astype(np.int16), clipped


def sphere_sample_coding(path: str | os.PathLike) -> str:
    """The `sample_coding` field of a NIST SPHERE header (`pcm` when absent)."""
    with open(path, "rb") as f:
        head = f.read(1024)
        if not head.startswith(b"NIST_1A"):
            raise AudioError("unreadable", f"{path} is not a NIST SPHERE file")
        size_line = head.split(b"\n")[1].strip()
        if size_line.isdigit() and int(size_line) > len(head):
            head += f.read(int(size_line) - len(head))
    for line in head.split(b"\n")[2:]:
        if line.startswith(b"end_head"):
            break
        fields = line.split(None, 2)
        if len(fields) == 3 and fields[0] == b"sample_coding":
            return fields[2].decode("ascii", "replace").strip()
    return "pcm"
