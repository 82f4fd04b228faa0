"""One trainer per experiment directory; killing the launcher ends its trainer."""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pretrain_launch import REPO, run_train, train_cmd
from dinosr_espnet.espnet.run_guard import (
    LOCK_NAME,
    ExperimentLockedError,
    experiment_lock,
    launcher_chain,
)


def wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_second_trainer_refused_and_launcher_kill_ends_trainer(tiny_data, tmp_path):
    out = tmp_path / "exp"
    cmd = train_cmd(tiny_data, out, "--max_epoch", "100000", "--num_iters_per_epoch", "1")
    trainer = " ".join(shlex.quote(a) for a in
                       [sys.executable, "-m", "dinosr_espnet.bin.dinosr_train", *cmd])
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    # the launcher: a shell that runs the trainer, as run.pl and the recipe stages do
    launcher = subprocess.Popen(["bash", "-c", f"{trainer}; echo trainer ended"], cwd=REPO,
                                env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (out / "checkpoint.pth").exists(), 240, "the first epoch")
        pid = int(re.match(r"pid (\d+)", (out / LOCK_NAME).read_text()).group(1))
        assert pid != launcher.pid and alive(pid)

        config = (out / "config.yaml").stat().st_mtime_ns
        with pytest.raises(ExperimentLockedError,
                           match=rf"^{out} is in use by another trainer \(pid {pid} on "):
            run_train(cmd)
        assert (out / "config.yaml").stat().st_mtime_ns == config  # refused before writing

        launcher.send_signal(signal.SIGKILL)
        launcher.wait(timeout=10)
        wait_for(lambda: not alive(pid), 30, "the orphaned trainer to stop")
    finally:
        if launcher.poll() is None:
            launcher.kill()
    with experiment_lock(out):  # the lock died with its holder
        pass


def test_trainer_refuses_a_locked_experiment_before_writing(tiny_data, tmp_path):
    out = tmp_path / "exp"
    with experiment_lock(out):
        with pytest.raises(ExperimentLockedError,
                           match=rf"^{out} is in use by another trainer \(pid {os.getpid()} on "):
            run_train(train_cmd(tiny_data, out))
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # no config.yaml, no model


def test_lock_is_exclusive_within_one_process(tmp_path):
    with experiment_lock(tmp_path):
        with pytest.raises(ExperimentLockedError, match=f"pid {os.getpid()}"):
            with experiment_lock(tmp_path):
                pass
    with experiment_lock(tmp_path):
        pass


def test_launcher_chain_stops_at_the_process_group():
    """A shell in a new session runs a child: the child's chain is the shell only."""
    proc = subprocess.Popen(["bash", "-c", "sleep 30; true"], start_new_session=True)
    try:
        def child() -> int:
            text = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            return int(text[0]) if text else 0

        wait_for(lambda: child() > 0, 10, "the child")
        chain = launcher_chain(child())
        assert [pid for pid, _ in chain] == [proc.pid]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


SPAWNED = """
import multiprocessing, sys
from dinosr_espnet.espnet.run_guard import one_line_errors_in_spawned_worker

def worker():
    with one_line_errors_in_spawned_worker(3):
        raise ValueError("exp/x is in use by another trainer")

if __name__ == "__main__":
    p = multiprocessing.get_context("spawn").Process(target=worker)
    p.start(); p.join()
    sys.exit(p.exitcode)
"""


def test_spawned_worker_user_error_is_one_line(tmp_path):
    script = tmp_path / "spawned.py"
    script.write_text(SPAWNED)
    proc = subprocess.run([sys.executable, str(script)], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error (training process 3): exp/x is in use by another trainer"


def test_data_loader_worker_error_keeps_its_last_line():
    from dinosr_espnet.user_errors import one_line

    wrapped = ValueError("Caught ValueError in DataLoader worker process 0.\nOriginal Traceback "
                         "(most recent call last):\n  File \"x.py\", line 1, in f\nValueError: "
                         "utterance 'u1' has 0 samples, fewer than the CNN needs\n")
    assert one_line(wrapped) == "utterance 'u1' has 0 samples, fewer than the CNN needs"
    assert one_line(ValueError("a\nb")) == "a; b"
