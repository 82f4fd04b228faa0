"""Atomic checkpoint writes for everything a resume depends on, and a checkpoint reader whose
errors name the file.

Checkpoints go through ``data.atomic.atomic_open`` (temporary file in the same directory,
fsync, rename, directory fsync): a kill at any moment leaves either the old complete file or
the new complete file, never a truncated one.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator, Union

import torch

from dinosr_espnet.data.atomic import atomic_open

PathLike = Union[str, os.PathLike]


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


class _AtomicWritePath(type(Path())):
    """A path whose ``open("w")``/``open("wb")`` replaces the whole file atomically, and whose
    link updates (ESPnet's ``p.unlink(); p.symlink_to(target)`` for ``latest.pth`` and the
    ``*.best.pth`` links) swap the link atomically: the unlink of a symbolic link is left to
    the ``symlink_to`` that follows it, which renames a new link over the old one."""

    def open(self, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if mode in ("w", "wb") and not args:
            return atomic_open(self, mode, **kwargs)
        return super().open(mode, *args, **kwargs)

    def unlink(self, missing_ok: bool = False) -> None:
        if not self.is_symlink():
            super().unlink(missing_ok=missing_ok)

    def symlink_to(self, target: Any, target_is_directory: bool = False) -> None:
        atomic_symlink(str(target), self)


@contextlib.contextmanager
def atomic_task_writes() -> Iterator[None]:
    """Within the block, the files ESPnet's task writes with ``Path.open("w")`` (``config.yaml``,
    which it otherwise truncates and fills in place at every start) are written atomically, and
    the trainer's ``latest.pth`` and ``*.best.pth`` links are swapped atomically.

    ESPnet's ``main_worker`` builds its output paths with the ``Path`` of its own module; the
    block gives that module a ``Path`` whose whole-file writes go through ``atomic_open``.
    """
    from espnet2.tasks import abs_task

    original = abs_task.Path
    abs_task.Path = _AtomicWritePath
    try:
        yield
    finally:
        abs_task.Path = original


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
