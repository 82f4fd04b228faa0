"""End-to-end: the tiny config trains through ESPnet, learns, and resumes exactly."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import torch

from pretrain_launch import run_train, train_cmd
from dinosr_espnet.inference import DinoSRInference, load_checkpoint, load_state_dict

EPOCHS, ITERS = 8, 4  # 32 updates


@pytest.fixture(scope="module")
def full_run(tiny_data, tmp_path_factory) -> tuple[Path, float]:
    """An uninterrupted 32-update run keeping every epoch's model file."""
    out = tmp_path_factory.mktemp("full") / "exp"
    start = time.perf_counter()
    run_train(train_cmd(tiny_data, out, "--max_epoch", str(EPOCHS), "--num_iters_per_epoch",
                        str(ITERS), "--keep_nbest_models", "100"))
    return out, time.perf_counter() - start


def test_tiny_run_learns_and_writes_checkpoints(full_run):
    out, seconds = full_run
    assert seconds < 120, f"32 tiny updates took {seconds:.0f} s"
    for name in ("config.yaml", "checkpoint.pth", f"{EPOCHS}epoch.pth", "valid.loss.best.pth"):
        assert (out / name).exists(), name
    ckpt = load_checkpoint(out / "checkpoint.pth")
    updates = EPOCHS * ITERS
    assert int(ckpt["model"]["dinosr.num_updates"]) == updates
    assert int(ckpt["optimizers"][0]["state"][0]["step"]) == updates
    assert ckpt["schedulers"][0]["last_epoch"] == updates
    stats = ckpt["reporter"]["stats"]
    first = (stats[1]["train"]["loss"] + stats[2]["train"]["loss"]) / 2
    last = (stats[EPOCHS - 1]["train"]["loss"] + stats[EPOCHS]["train"]["loss"]) / 2
    assert last < first - 0.1, f"loss did not go down: {first:.3f} -> {last:.3f}"
    assert stats[EPOCHS]["train"]["acc_0"] > stats[1]["train"]["acc_0"]
    for name in ("checkpoint.pth", "valid.loss.best.pth"):  # both load for inference
        model = DinoSRInference.from_pretrained(out / name)
        assert int(model.model.num_updates) > 0
        assert model([torch.randn(3200)])[0].codeword_indices.shape == (2, 39)  # (3200-85)//80+1


def test_resume_continues_exactly(full_run, tiny_data, tmp_path, monkeypatch):
    """Stop after epoch 1, resume to epoch 2: restored state equals the checkpoint, and the
    result equals epoch 2 of the uninterrupted run bit for bit."""
    from dinosr_espnet.espnet.trainer import DinoSRTrainer

    full, _ = full_run
    out = tmp_path / "exp"
    common = ("--num_iters_per_epoch", str(ITERS), "--keep_nbest_models", "100")
    run_train(train_cmd(tiny_data, out, "--max_epoch", "1", *common))
    saved = tmp_path / "checkpoint_epoch1.pth"
    shutil.copy(out / "checkpoint.pth", saved)

    restored = {}
    original = DinoSRTrainer.resume

    def spy(checkpoint, model, *args, **kwargs):
        original(checkpoint, model, *args, **kwargs)
        restored.update({k: v.clone() for k, v in model.state_dict().items()})
        restored["_updates"] = model.dinosr._updates

    monkeypatch.setattr(DinoSRTrainer, "resume", staticmethod(spy))
    run_train(train_cmd(tiny_data, out, "--max_epoch", "2", "--resume", "true", *common))

    ckpt = load_checkpoint(saved)["model"]
    assert restored["_updates"] == ITERS
    teacher_and_codebooks = [k for k in ckpt if ".teacher." in k or ".codebooks." in k]
    assert len(teacher_and_codebooks) > 10
    for k in ckpt:
        assert torch.equal(restored[k], ckpt[k]), k

    resumed, uninterrupted = load_state_dict(out / "2epoch.pth"), load_state_dict(full / "2epoch.pth")
    assert int(resumed["num_updates"]) == 2 * ITERS
    for k, v in uninterrupted.items():
        assert torch.equal(resumed[k], v), f"{k} differs after resume"
