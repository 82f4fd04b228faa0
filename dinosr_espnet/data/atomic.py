"""Atomic file output: a reader (or a resumed run) sees the old file or the complete new one.

The data goes to a temporary file in the target's directory, is flushed and fsync'ed, then
renamed over the target (``os.replace`` is atomic within one file system); the directory is
fsync'ed so the rename itself survives a crash. A failure removes the temporary file.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO, Iterator


def fsync_dir(path: str | os.PathLike) -> None:
    """Persist the entries of directory ``path`` (the rename of a file in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: str | os.PathLike, path: str | os.PathLike, sync_dir: bool = True) -> None:
    """fsync the finished file ``tmp``, rename it to ``path`` and fsync the directory
    (``sync_dir=False`` leaves that to the caller, e.g. once after many files)."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if sync_dir:
        fsync_dir(Path(path).parent)


@contextlib.contextmanager
def temporary_path(path: str | os.PathLike, sync_dir: bool = True) -> Iterator[str]:
    """A temporary path next to ``path`` (hidden, named after it and this process) for a
    writer that takes a file name (soundfile, kaldiio); published as ``path`` when the block
    ends, removed if it raises."""
    path = Path(path)
    tmp = str(path.with_name(f".{path.name}.{os.getpid()}.tmp"))
    try:
        yield tmp
        publish(tmp, path, sync_dir)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """``open(path, mode)`` whose content replaces ``path`` atomically when the block ends."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'w' or 'wb', not {mode!r}")
    with temporary_path(path) as tmp:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically."""
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
