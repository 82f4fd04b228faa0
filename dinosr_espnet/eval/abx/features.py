"""Feature sources for ABX: a mapping ``uttid -> (T, D) array``.

Three sources: an in-memory dict, a directory of ``<uttid>.npy`` files (read lazily, one file
at a time) and a Kaldi ``.scp`` / ``.ark`` read with kaldiio (the scp is lazy too).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Union

import kaldiio
import numpy as np


class NpyDirFeatures(Mapping):
    """Lazy mapping over ``<dir>/<uttid>.npy``; each value is loaded on access."""

    def __init__(self, directory: Union[str, Path]) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise FileNotFoundError(f"feature directory not found: {self.directory}")
        self._paths = {p.stem: p for p in sorted(self.directory.glob("*.npy"))}
        if not self._paths:
            raise ValueError(f"{self.directory}: no <uttid>.npy files")

    def __getitem__(self, key: str) -> np.ndarray:
        path = self._paths[key]
        try:
            return np.load(path)
        except (ValueError, OSError, EOFError) as err:
            raise ValueError(f"{path}: not a readable .npy array ({err})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


def load_features(source: Union[str, Path]) -> Mapping[str, np.ndarray]:
    """Open a feature source: a directory of ``.npy`` files, a ``.scp`` or an ``.ark`` file."""
    path = Path(source)
    if path.is_dir():
        return NpyDirFeatures(path)
    if not path.is_file():
        raise FileNotFoundError(f"feature source not found: {path}")
    if path.suffix == ".scp":
        return kaldiio.load_scp(str(path))
    if path.suffix == ".ark":
        return dict(kaldiio.load_ark(str(path)))
    raise ValueError(f"{path}: expected a directory of .npy files, a .scp or an .ark file")


def utterance_matrix(features: Mapping[str, np.ndarray], uttid: str) -> np.ndarray:
    """Fetch one utterance as a 2-D float array, with errors that name the utterance."""
    try:
        value = features[uttid]
    except KeyError:
        raise ValueError(f"no features for utterance {uttid!r} (named in the item file)") from None
    matrix = np.asarray(value)
    if matrix.ndim != 2:
        raise ValueError(f"features of {uttid!r} must be (T, D), got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"features of {uttid!r} contain NaN or inf")
    return matrix
