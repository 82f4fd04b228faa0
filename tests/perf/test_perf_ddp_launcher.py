"""Two CPU ranks (gloo) through the real launcher reproduce one process on the same global
batch: per-update losses, codebooks and weights within 1e-4.

ESPnet cannot spawn CPU ranks itself (``--multiprocessing_distributed true`` with ``--ngpu 0``
falls back to one process), so each rank is started as ESPnet's "external launcher" mode does:
``--multiprocessing_distributed false --dist_world_size 2 --dist_rank R`` with a shared-file
init method. The global batch (4 utterances) is sharded ``batch[rank::2]``; the utterances all
have the same length (no crop), and ``mask_seed`` makes every utterance's mask a function of
the utterance and the update count, with equalisation to the global minimum over ranks.
"""
from __future__ import annotations

import re
import signal
import subprocess

import pytest
import torch

from dinosr_espnet.inference import load_checkpoint
from perf_launch import ddp_args, start, train_args, write_config, write_data_dir

UPDATES = 3
# ESPnet never destroys the process group; now and then (~1 run in 5 here) gloo's threads make
# the non-zero rank abort at interpreter exit, after training, with this message.
EXIT_ABORT = "terminate called without an active exception"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    train = write_data_dir(root / "train", 8, 1.0, seed=0)
    dev = write_data_dir(root / "dev", 2, 1.0, seed=1)
    config = write_config(root / "config.yaml", epochs=UPDATES)
    jobs = {"single": start(train_args(config, train, dev, root / "single"), root / "single.log")}
    for rank in (0, 1):
        cmd = train_args(config, train, dev, root / "ddp") + ddp_args(root / "init", 2, rank)
        jobs[f"rank{rank}"] = start(cmd, root / f"rank{rank}.log")
    for name, job in jobs.items():
        try:
            rc = job.wait(timeout=300)
        except subprocess.TimeoutExpired:
            job.kill()
            rc = "timeout"
        log = (root / f"{name}.log").read_text()
        if name == "rank1" and rc == -signal.SIGABRT and log.rstrip().endswith(EXIT_ABORT):
            continue  # after the last collective: rank 0's success below proves rank 1 took part
        assert rc == 0, f"{name} failed ({rc}):\n{log[-3000:]}"
    return ({k: load_checkpoint(root / k / "checkpoint.pth") for k in ("single", "ddp")},
            (root / "rank0.log").read_text())


def test_two_ranks_match_one_process(runs):
    ckpt, rank0_log = runs
    assert re.search(r"^\[\S+:0/2\]", rank0_log, re.M), "rank 0 did not log as rank 0 of 2"
    single, ddp = ckpt["single"], ckpt["ddp"]
    for run in (single, ddp):
        assert int(run["model"]["dinosr.num_updates"]) == UPDATES
    losses = []
    for epoch in range(1, UPDATES + 1):  # one update per epoch: the reporter keeps each loss
        a = single["reporter"]["stats"][epoch]["train"]["loss"]
        b = ddp["reporter"]["stats"][epoch]["train"]["loss"]
        assert abs(a - b) < 1e-4, f"update {epoch}: loss {a} (1 process) vs {b} (2 ranks)"
        losses.append(a)
    assert len(set(round(x, 4) for x in losses)) == UPDATES  # the runs really trained
    keys = [k for k, v in single["model"].items() if v.is_floating_point()]
    assert "dinosr.codebooks.sums" in keys and "dinosr.teacher.encoder.layers.0.fc1.weight" in keys
    for key in keys:  # student, teacher, codebooks, heads
        a, b = single["model"][key], ddp["model"][key]
        assert torch.allclose(a, b, atol=1e-4, rtol=0), f"{key}: max diff {(a - b).abs().max()}"
    init = torch.ones_like(single["model"]["dinosr.codebooks.counts"])
    assert not torch.allclose(single["model"]["dinosr.codebooks.counts"], init)  # they moved
