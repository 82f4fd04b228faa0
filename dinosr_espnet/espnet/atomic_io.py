"""Atomic file writes for everything a resume depends on, and a checkpoint reader whose
errors name the file.

A file is written to a temporary name in its own directory, flushed and fsynced, then renamed
over the target (``os.replace`` is atomic on POSIX), and the directory is fsynced: a kill at any
moment leaves either the old complete file or the new complete file, never a truncated one.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Union

import torch

PathLike = Union[str, os.PathLike]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "wb") -> Iterator[BinaryIO]:
    """Open a temporary file next to ``path``; on success it replaces ``path`` atomically."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open supports modes 'wb' and 'w', got {mode!r}")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_torch_save(obj: Any, path: PathLike, *args: Any, **kwargs: Any) -> None:
    """``torch.save(obj, path, ...)`` through a temporary file and an atomic rename."""
    with atomic_open(path, "wb") as f:
        _ORIGINAL_TORCH_SAVE(obj, f, *args, **kwargs)


def atomic_symlink(target: str, link: PathLike) -> None:
    """Point ``link`` at ``target`` (relative name) by renaming a new link over it."""
    link = Path(link)
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)


_ORIGINAL_TORCH_SAVE: Callable[..., None] = torch.save


def _save_atomically(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
    if isinstance(f, (str, os.PathLike)):
        atomic_torch_save(obj, f, *args, **kwargs)
    else:
        _ORIGINAL_TORCH_SAVE(obj, f, *args, **kwargs)


@contextlib.contextmanager
def atomic_torch_saves() -> Iterator[None]:
    """Within the block, every ``torch.save`` to a path is atomic.

    ESPnet's trainer writes ``checkpoint.pth``, ``<N>epoch.pth`` and the averaged models with
    ``torch.save(obj, path)`` in place; its loop has no hook to write them otherwise, so the
    trainer routes ``torch.save`` here for the duration of a run.
    """
    if torch.save is _save_atomically:  # nested (e.g. a run inside a run in one process)
        yield
        return
    torch.save = _save_atomically
    try:
        yield
    finally:
        torch.save = _ORIGINAL_TORCH_SAVE


class CorruptCheckpointError(ValueError):
    """A checkpoint that cannot be read (truncated, empty, not a torch file)."""


def load_training_state(path: PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a training checkpoint; an unreadable file raises one line naming it."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise EOFError("the file is empty")
        return torch.load(path, map_location=map_location, weights_only=False)
    except (EOFError, RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile,
            AttributeError, ValueError) as e:
        reason = (str(e).splitlines() or [type(e).__name__])[0].split(". ")[0]
        raise CorruptCheckpointError(
            f"{path}: not a readable checkpoint ({reason}); it was cut short while being "
            "written or copied: move it away and rerun to resume from the other checkpoint "
            "if there is one (or restore a copy), otherwise the run restarts from scratch"
        ) from None
