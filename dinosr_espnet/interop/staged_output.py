"""Outputs that appear whole or not at all: write to a hidden sibling, then rename.

A conversion that fails half-way (bad input found late, disk full, Ctrl-C) must not leave a
directory or file that looks like a finished result, so both converters write under a
temporary name next to the target and rename it into place only once everything is written.
"""
from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def _sibling(target: Path, tag: str) -> Path:
    return target.with_name(f".{target.name}.{tag}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


@contextmanager
def staged_directory(target: Path, replace: bool = False) -> Iterator[Path]:
    """Yield a new empty directory that becomes ``target`` when the block succeeds.

    An existing ``target`` is replaced only if it is empty or ``replace`` is true; otherwise
    ``ValueError``. On failure the staging directory is removed and ``target`` is untouched.
    """
    target = Path(target)
    if target.exists():
        if not target.is_dir():
            raise ValueError(f"{target} exists and is not a directory")
        if not replace and any(target.iterdir()):
            raise ValueError(f"{target} exists and is not empty: choose a new directory or "
                             f"remove it")
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = _sibling(target, "partial")
    stage.mkdir()
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = _sibling(target, "old")
        os.rename(target, old)
    os.rename(stage, target)
    if old is not None:
        shutil.rmtree(old)


@contextmanager
def staged_file(target: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; it replaces ``target`` when the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = _sibling(target, "partial")
    try:
        yield stage
    except BaseException:
        stage.unlink(missing_ok=True)
        raise
    os.replace(stage, target)
