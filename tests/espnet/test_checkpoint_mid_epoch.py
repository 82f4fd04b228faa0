"""Mid-epoch checkpoints: written every --save_every_updates updates, and --resume from one
ends bit-identical to an uninterrupted run (model, teacher, codebooks, optimizer, LR)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pretrain_launch import assert_same_states, run_train, train_cmd
from dinosr_espnet.espnet import trainer as trainer_module
from dinosr_espnet.espnet.trainer import MID_EPOCH_CHECKPOINT
from dinosr_espnet.inference import load_checkpoint, load_state_dict

# accum_grad 2 × 3 updates = 6 batches per epoch; a mid-epoch save after updates 1 and 2
COMMON = ("--max_epoch", "2", "--num_iters_per_epoch", "none", "--updates_per_epoch", "3",
          "--accum_grad", "2", "--save_every_updates", "1", "--keep_nbest_models", "10")


class Killed(Exception):
    """Stands for a kill right after a mid-epoch checkpoint was written."""


@pytest.fixture(scope="module")
def uninterrupted(tiny_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("full") / "exp"
    run_train(train_cmd(tiny_data, out, *COMMON))
    return out


def kill_after_mid_epoch_save(out: Path, cmd: list[str], monkeypatch,
                              at: tuple[int, int] = (2, 4)) -> list:
    """Run ``cmd`` until just after the mid-epoch save ``at`` (epoch, batches done)."""
    saves = []
    original = trainer_module._save_mid_epoch

    def save_then_die(output_dir, done, model, optimizers, schedulers, scaler, reporter,
                      distributed_option):
        original(output_dir, done, model, optimizers, schedulers, scaler, reporter,
                 distributed_option)
        saves.append((reporter.get_epoch(), done))
        if (reporter.get_epoch(), done) == at:
            raise Killed

    monkeypatch.setattr(trainer_module, "_save_mid_epoch", save_then_die)
    with pytest.raises(Killed):
        run_train(cmd)
    monkeypatch.undo()
    return saves


def assert_same_final_states(out: Path, reference: Path) -> None:
    resumed, full = load_checkpoint(out / "checkpoint.pth"), load_checkpoint(
        reference / "checkpoint.pth")
    assert int(resumed["model"]["dinosr.num_updates"]) == 6
    for key in ("model", "optimizers", "schedulers"):
        assert_same_states(resumed[key], full[key], key)
    assert_same_states(load_state_dict(out / "2epoch.pth"),
                       load_state_dict(reference / "2epoch.pth"))
    # the epoch's train statistics include the 4 batches done before the kill
    r, f = resumed["reporter"]["stats"][2]["train"], full["reporter"]["stats"][2]["train"]
    assert r["total_count"] == f["total_count"] == 12
    assert r["loss"] == pytest.approx(f["loss"], rel=1e-12)
    assert not (out / MID_EPOCH_CHECKPOINT).exists()  # removed once the run has ended


def test_resume_from_mid_epoch_is_bit_identical(uninterrupted, tiny_data, tmp_path,
                                                monkeypatch):
    out = tmp_path / "exp"
    cmd = train_cmd(tiny_data, out, *COMMON)
    saves = kill_after_mid_epoch_save(out, cmd, monkeypatch)
    assert saves == [(1, 2), (1, 4), (2, 2), (2, 4)]  # never at an epoch end
    mid = torch.load(out / MID_EPOCH_CHECKPOINT, weights_only=False)  # holds RNG states
    assert mid["mid_epoch"]["epoch"] == 2 and mid["mid_epoch"]["batches_done"] == 4
    assert int(mid["model"]["dinosr.num_updates"]) == 3 + 2
    assert load_checkpoint(out / "checkpoint.pth")["reporter"]["epoch"] == 1

    run_train(cmd + ["--resume", "true"])
    assert_same_final_states(out, uninterrupted)


def test_resume_within_the_first_epoch(uninterrupted, tiny_data, tmp_path, monkeypatch):
    """Killed before any epoch end (no checkpoint.pth): the mid-epoch file alone resumes."""
    out = tmp_path / "exp"
    cmd = train_cmd(tiny_data, out, *COMMON)
    assert kill_after_mid_epoch_save(out, cmd, monkeypatch, at=(1, 2)) == [(1, 2)]
    assert not (out / "checkpoint.pth").exists()
    run_train(cmd + ["--resume", "true"])
    assert_same_final_states(out, uninterrupted)


@pytest.mark.slow
def test_resume_with_data_loader_workers_is_bit_identical(tiny_data, tmp_path, monkeypatch):
    """With a worker process the skipped batches are replayed: crops drawn in the worker
    match the uninterrupted run."""
    workers = ("--num_workers", "1")
    reference = tmp_path / "full"
    run_train(train_cmd(tiny_data, reference, *COMMON, *workers))
    out = tmp_path / "exp"
    cmd = train_cmd(tiny_data, out, *COMMON, *workers)
    kill_after_mid_epoch_save(out, cmd, monkeypatch)
    run_train(cmd + ["--resume", "true"])
    assert_same_final_states(out, reference)


def test_stale_mid_epoch_checkpoint_is_ignored(uninterrupted, tiny_data, tmp_path):
    """A mid-epoch file older than checkpoint.pth (kill after the epoch-end save) is dropped."""
    import shutil

    out = tmp_path / "exp"
    shutil.copytree(uninterrupted, out)
    stale = load_checkpoint(out / "checkpoint.pth")
    stale["mid_epoch"] = {"epoch": 1, "batches_done": 2, "world_size": 1, "rng": [None],
                          "train_stats": {}}
    torch.save(stale, out / MID_EPOCH_CHECKPOINT)
    run_train(train_cmd(tiny_data, out, *COMMON[2:], "--max_epoch", "3", "--resume", "true"))
    assert int(load_checkpoint(out / "checkpoint.pth")["model"]["dinosr.num_updates"]) == 9
    assert not (out / MID_EPOCH_CHECKPOINT).exists()
