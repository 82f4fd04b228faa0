"""Files in and out of the extraction tools.

In: ``wav.scp`` entries (audio file paths, ``cmd |`` pipes, ``x.ark:offset``; read by
``dinosr_espnet.data.audio``), checked against the model's sample rate: a wrong rate is an
error naming the utterance and the file unless resampling (soxr) was asked for.

Out: per-utterance matrices as a directory of ``<uid>.npy`` or a Kaldi ``feats.ark`` +
``feats.scp`` pair (both readable by ``eval.abx.load_features``), and discrete units in the
``uid<TAB>u1 u2 ...`` text format of ``eval.units``, written as utterances arrive.
"""
from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Optional, TextIO, Union

import numpy as np

from dinosr_espnet.data.audio import AudioError, read_audio, resample, to_mono
from dinosr_espnet.data.kaldi_dir import read_kaldi_map

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]
FORMATS = ("npy", "ark")


def read_wav_scp(path: PathLike, max_utterances: Optional[int] = None) -> dict[str, str]:
    """``uid -> entry`` of a ``wav.scp`` in file order (at most ``max_utterances``)."""
    entries = read_kaldi_map(path)
    if not entries:
        raise ValueError(f"{path}: empty wav.scp")
    if max_utterances is not None:
        entries = dict(list(entries.items())[:max_utterances])
    return entries


class AudioLoader:
    """Reads one ``wav.scp`` entry as a mono float32 waveform at the model's rate ``fs``.

    Args:
        fs: the model's sample rate.
        allow_resample: convert other rates with soxr instead of refusing them.
        mix_channels: average multi-channel audio instead of refusing it.
    """

    def __init__(self, fs: int, allow_resample: bool = False, mix_channels: bool = False) -> None:
        self.fs = fs
        self.allow_resample = allow_resample
        self.mix_channels = mix_channels

    def __call__(self, uid: str, entry: str) -> np.ndarray:
        try:
            samples, rate = read_audio(entry)
        except AudioError as e:
            raise ValueError(f"utterance {uid!r}: {e}") from None
        mono = to_mono(samples, self.mix_channels, f"utterance {uid!r} ({entry})")
        if rate != self.fs:
            if not self.allow_resample:
                raise ValueError(f"utterance {uid!r}: {entry} is sampled at {rate} Hz but the "
                                 f"model expects {self.fs} Hz (pass --resample to convert)")
            mono = resample(mono, rate, self.fs)
        return mono.astype(np.float32)


class MatrixWriter:
    """Writes ``uid -> (T, D)`` matrices to ``out`` as ``<uid>.npy`` files or ``feats.ark/.scp``.

    ``dtype`` float16 halves the disk use of the ``npy`` format; Kaldi arks hold float32.
    """

    def __init__(self, out: PathLike, fmt: str = "npy", dtype: str = "float32") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
        if dtype not in ("float32", "float16"):
            raise ValueError(f"dtype must be float32 or float16, got {dtype!r}")
        if fmt == "ark" and dtype != "float32":
            raise ValueError("Kaldi ark matrices are float32: use --format npy for float16")
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.fmt = fmt
        self.dtype = np.dtype(dtype)
        self._ark = None
        if fmt == "ark":
            import kaldiio

            spec = f"ark,scp:{self.out / 'feats.ark'},{self.out / 'feats.scp'}"
            self._ark = kaldiio.WriteHelper(spec)

    @property
    def source(self) -> Path:
        """What ``eval.abx.load_features`` opens to read the matrices back."""
        return self.out / "feats.scp" if self.fmt == "ark" else self.out

    def write(self, uid: str, matrix: np.ndarray) -> None:
        if "/" in uid or any(c.isspace() for c in uid):
            raise ValueError(f"utterance id {uid!r} cannot name a file (contains '/' or space)")
        matrix = np.ascontiguousarray(matrix, dtype=self.dtype)
        if self._ark is not None:
            self._ark(uid, matrix)
        else:
            np.save(self.out / f"{uid}.npy", matrix)

    def close(self) -> None:
        if self._ark is not None:
            self._ark.close()
            self._ark = None

    def __enter__(self) -> "MatrixWriter":
        return self

    def __exit__(self, exc_type: Optional[type], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()


class UnitsWriter:
    """Streams units as ``uid<TAB>u1 u2 ...`` lines (the ``eval.units`` text format)."""

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: Optional[TextIO] = self.path.open("w", encoding="utf-8")

    def write(self, uid: str, units: np.ndarray) -> None:
        if self._handle is None:
            raise ValueError(f"{self.path}: writer is closed")
        self._handle.write(uid + "\t" + " ".join(map(str, np.asarray(units, dtype=np.int64)))
                           + "\n")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> "UnitsWriter":
        return self

    def __exit__(self, exc_type: Optional[type], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()
