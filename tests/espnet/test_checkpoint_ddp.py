"""Two gloo ranks on CPU: rank 0 is SIGKILLed while writing the epoch-end checkpoint; both
ranks resume from the mid-epoch checkpoint (every rank's RNG states restored) and end
bit-identical to an uninterrupted two-rank run. Ranks are started as ESPnet's external
launcher does (``--multiprocessing_distributed false --dist_rank R``)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pretrain_launch import REPO, assert_same_states, train_cmd
from dinosr_espnet.inference import load_checkpoint

HERE = Path(__file__).resolve().parent
COMMON = ("--max_epoch", "2", "--num_iters_per_epoch", "4", "--save_every_updates", "1",
          "--multiprocessing_distributed", "false", "--dist_backend", "gloo",
          "--dist_world_size", "2")


def start_ranks(data: dict, out: Path, init: Path, *extra: str, stall_marker: Path = None
                ) -> list[subprocess.Popen]:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{HERE}", OMP_NUM_THREADS="1")
    procs = []
    for rank in (0, 1):
        cmd = train_cmd(data, out, *COMMON, "--dist_init_method", f"file://{init}",
                        "--dist_rank", str(rank), *extra)
        if rank == 0 and stall_marker is not None:
            head = [str(HERE / "stalled_save_train.py"), "checkpoint.pth", "2",
                    str(stall_marker), "--"]
        else:
            head = ["-m", "dinosr_espnet.bin.dinosr_train"]
        log = open(out.parent / f"{out.name}_{init.name}_rank{rank}.log", "w")
        procs.append(subprocess.Popen([sys.executable, *head, *cmd], cwd=REPO, env=env,
                                      stdout=log, stderr=subprocess.STDOUT))
    return procs


def wait_all(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        rc = p.wait(timeout=600)
        # ESPnet never destroys gloo's process group: rank 1 may abort at interpreter exit
        assert rc == 0 or (p is procs[1] and rc == -signal.SIGABRT), rc


@pytest.mark.slow
def test_two_ranks_killed_while_saving_resume_bit_identical(tiny_data, tmp_path):
    full, out = tmp_path / "full", tmp_path / "exp"
    wait_all(start_ranks(tiny_data, full, tmp_path / "init_full"))

    marker = tmp_path / "stalled"
    procs = start_ranks(tiny_data, out, tmp_path / "init_1", stall_marker=marker)
    deadline = time.monotonic() + 600
    while not marker.exists():
        assert procs[0].poll() is None, "rank 0 ended before the stalled save"
        assert time.monotonic() < deadline
        time.sleep(0.5)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
    assert load_checkpoint(out / "checkpoint.pth")["reporter"]["epoch"] == 1
    assert (out / "checkpoint_mid_epoch.pth").exists()

    wait_all(start_ranks(tiny_data, out, tmp_path / "init_2", "--resume", "true"))
    resumed, reference = load_checkpoint(out / "checkpoint.pth"), load_checkpoint(
        full / "checkpoint.pth")
    assert int(resumed["model"]["dinosr.num_updates"]) == 8
    for key in ("model", "optimizers", "schedulers"):
        assert_same_states(resumed[key], reference[key], key)
