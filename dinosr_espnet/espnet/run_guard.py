"""One trainer per experiment directory, and no trainer outliving its launcher.

``experiment_lock`` holds an exclusive ``flock`` on ``<output_dir>/.trainer.lock`` for the
whole run (the kernel drops it when the process dies, so a killed run leaves no stale lock).
``LauncherWatch`` ends the trainer when a process that started it is gone: the ancestors that
share its process group (a recipe stage, ``espnet2.bin.launch``, ``run.pl``, the shell of a
job), so that killing any of them does not leave an orphan writing checkpoints.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

from dinosr_espnet.user_errors import one_line

LOCK_NAME = ".trainer.lock"
logger = logging.getLogger(__name__)


class ExperimentLockedError(ValueError):
    """Another trainer holds the experiment directory."""


@contextlib.contextmanager
def experiment_lock(output_dir: Path) -> Iterator[None]:
    """Hold ``output_dir``'s trainer lock, or raise ``ExperimentLockedError`` (one line)."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 200).decode(errors="replace").strip() or "unknown process"
        os.close(fd)
        raise ExperimentLockedError(
            f"{output_dir} is in use by another trainer ({holder}): wait for it to end or "
            "stop it, or give another --output_dir") from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}, started "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def _stat(pid: int) -> Optional[tuple[int, int, int]]:
    """(parent pid, process group, start time) of ``pid`` from /proc, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
    return int(fields[1]), int(fields[2]), int(fields[19])


def launcher_chain(pid: Optional[int] = None) -> list[tuple[int, int]]:
    """(pid, start time) of the ancestors of ``pid`` in its process group, nearest first."""
    own = _stat(os.getpid() if pid is None else pid)
    if own is None:
        return []
    parent, group, _ = own
    chain = []
    while parent > 1:
        info = _stat(parent)
        if info is None or info[1] != group:
            break
        chain.append((parent, info[2]))
        parent = info[0]
    return chain


class LauncherWatch:
    """Terminate this process (and its children) when a launcher in ``launcher_chain`` ends."""

    def __init__(self, interval_s: float = 2.0) -> None:
        self.chain = launcher_chain()
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="launcher-watch", daemon=True)

    def __enter__(self) -> "LauncherWatch":
        if self.chain:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            for pid, start in self.chain:
                info = _stat(pid)
                if info is None or info[2] != start:
                    logger.error("the launcher (pid %d) has ended: stopping this trainer", pid)
                    _terminate_self()
                    return


def _terminate_self() -> None:
    me = os.getpid()
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{me}/task"):
            for child in Path(f"/proc/{me}/task/{tid}/children").read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(child), signal.SIGTERM)
    logging.shutdown()
    os.kill(me, signal.SIGKILL)  # as the launcher was; a save cut short leaves only a .tmp


@contextlib.contextmanager
def guarded_run(output_dir: Path, rank0: bool, exit_with_launcher: bool) -> Iterator[None]:
    """The experiment lock (held by rank 0) and, if asked, the launcher watch, for a run."""
    with contextlib.ExitStack() as stack:
        if rank0:
            stack.enter_context(experiment_lock(output_dir))
        if exit_with_launcher:
            stack.enter_context(LauncherWatch())
        yield


@contextlib.contextmanager
def one_line_errors_in_spawned_worker(rank: Optional[int]) -> Iterator[None]:
    """In a worker spawned by ESPnet's ``--multiprocessing_distributed`` mode, print a user
    error (``ValueError``/``FileNotFoundError``) as one line and exit 1 instead of a traceback
    (the parent then reports which process stopped). Elsewhere errors pass through."""
    import multiprocessing
    import sys

    if multiprocessing.parent_process() is None:
        yield
        return
    try:
        yield
    except (ValueError, FileNotFoundError) as e:
        print(f"error (training process {rank}): {one_line(e)}", file=sys.stderr,
              flush=True)
        sys.exit(1)


@contextlib.contextmanager
def training_run(args) -> Iterator[None]:
    """What every training worker (pretraining and fine-tuning) sets up around ESPnet's:
    the epoch length from ``updates_per_epoch`` and its check against the LR schedule, the
    experiment lock (rank 0), the launcher watch and atomic writes of ESPnet's own files."""
    from dinosr_espnet.espnet import update_schedule
    from dinosr_espnet.espnet.atomic_io import atomic_task_writes

    update_schedule.resolve(args)
    update_schedule.check_against_lr_schedule(args)
    rank0 = not args.distributed or args.dist_rank == 0
    with guarded_run(args.output_dir, rank0, args.exit_with_launcher), atomic_task_writes():
        yield
