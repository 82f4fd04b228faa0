"""A real training process SIGKILLed while it writes a checkpoint: the previous checkpoint
survives, --resume continues from it and ends bit-identical to an uninterrupted run; an
unreadable checkpoint stops the launcher with one line naming it."""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pretrain_launch import REPO, assert_same_states, run_train, train_cmd
from dinosr_espnet.data.atomic import atomic_open
from dinosr_espnet.espnet.atomic_io import (
    CorruptCheckpointError,
    atomic_symlink,
    atomic_torch_saves,
    load_training_state,
)
from dinosr_espnet.espnet.trainer import MID_EPOCH_CHECKPOINT
from dinosr_espnet.inference import load_checkpoint

HERE = Path(__file__).resolve().parent
COMMON = ("--max_epoch", "3", "--num_iters_per_epoch", "4", "--save_every_updates", "2",
          "--keep_nbest_models", "10")


@pytest.fixture(scope="module")
def uninterrupted(tiny_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("full") / "exp"
    run_train(train_cmd(tiny_data, out, *COMMON))
    return out


def start_stalled(name: str, nth: int, cmd: list[str], marker: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{HERE}", OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, str(HERE / "stalled_save_train.py"), name, str(nth), str(marker), "--",
         *cmd], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def kill_when_stalled(proc: subprocess.Popen, marker: Path, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"trainer ended before the stalled save: {proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the stalled save was never reached")
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()


@pytest.mark.parametrize("name, nth, survivor_epoch", [
    ("checkpoint.pth", 2, 1),  # epoch 2's end: epoch 1's checkpoint.pth survives
    pytest.param(MID_EPOCH_CHECKPOINT, 2, 1, marks=pytest.mark.slow),  # half-way, epoch 2
])
def test_kill_during_save_then_resume_is_bit_identical(name, nth, survivor_epoch, uninterrupted,
                                                       tiny_data, tmp_path):
    out, marker = tmp_path / "exp", tmp_path / "stalled"
    cmd = train_cmd(tiny_data, out, *COMMON)
    kill_when_stalled(start_stalled(name, nth, cmd, marker), marker)

    assert list(out.glob(f".{name}.*.tmp")), "the kill did not interrupt a save"
    survivor = load_checkpoint(out / "checkpoint.pth")  # complete, not truncated
    assert survivor["reporter"]["epoch"] == survivor_epoch

    run_train(cmd + ["--resume", "true"])
    resumed, full = load_checkpoint(out / "checkpoint.pth"), load_checkpoint(
        uninterrupted / "checkpoint.pth")
    assert int(resumed["model"]["dinosr.num_updates"]) == 12
    for key in ("model", "optimizers", "schedulers"):
        assert_same_states(resumed[key], full[key], key)
    assert not list(out.glob(".*.tmp"))  # the next start removed the partial file


def test_unreadable_checkpoint_is_one_line(tiny_data, tmp_path, caplog):
    from dinosr_espnet.bin.dinosr_train import cli

    out = tmp_path / "exp"
    out.mkdir()
    good = tmp_path / "good.pth"
    torch.save({"model": {"w": torch.zeros(1000)}, "reporter": {}}, good)
    data = good.read_bytes()
    (out / "checkpoint.pth").write_bytes(data[: len(data) // 2])
    assert cli(train_cmd(tiny_data, out, "--resume", "true")) == 1
    errors = [r.getMessage() for r in caplog.records
              if r.levelname == "ERROR" and r.name == "dinosr_espnet.dinosr_train"]
    assert len(errors) == 1 and "\n" not in errors[0]
    assert f"{out / 'checkpoint.pth'}: not a readable checkpoint" in errors[0]
    assert "central directory); it was cut short" in errors[0] and "move it away" in errors[0]


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not a zip", b"\x80\x02garbage"])
def test_damaged_checkpoint_error_names_the_file(content, tmp_path):
    path = tmp_path / "checkpoint.pth"
    path.write_bytes(content)
    with pytest.raises(CorruptCheckpointError, match=f"^{path}: not a readable checkpoint"):
        load_training_state(path)


def test_atomic_open_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("old: 1\n")
    with pytest.raises(RuntimeError):
        with atomic_open(path, "w") as f:
            f.write("new: ")
            raise RuntimeError("killed")
    assert path.read_text() == "old: 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]
    with atomic_open(path, "w") as f:
        f.write("new: 2\n")
    assert path.read_text() == "new: 2\n"


def test_atomic_torch_saves_is_scoped_and_replaces_links(tmp_path):
    original = torch.save
    with atomic_torch_saves():
        assert torch.save is not original
        torch.save({"a": torch.ones(2)}, tmp_path / "1epoch.pth")
        torch.save({"b": 1}, str(tmp_path / "b.pth"), pickle, 2)  # positional options too
    assert torch.save is original
    assert torch.equal(torch.load(tmp_path / "1epoch.pth")["a"], torch.ones(2))
    atomic_symlink("1epoch.pth", tmp_path / "latest.pth")
    atomic_symlink("2epoch.pth", tmp_path / "latest.pth")
    assert os.readlink(tmp_path / "latest.pth") == "2epoch.pth"
    assert torch.load(tmp_path / "b.pth") == {"b": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1epoch.pth", "b.pth", "latest.pth"]


def test_checkpoint_of_another_model_is_named(tmp_path):
    from dinosr_espnet.espnet.trainer import DinoSRTrainer

    path = tmp_path / "checkpoint.pth"
    torch.save({"model": {"weight": torch.zeros(3, 3)}, "reporter": {}}, path)
    with pytest.raises(ValueError, match=rf"^{path} does not fit the model of this config "
                                         r"\(Missing key\(s\) in state_dict: \"bias\""):
        DinoSRTrainer.resume(path, torch.nn.Linear(2, 2), None, [], [], None)


def test_launcher_prints_a_data_error_as_one_line(tmp_path, caplog):
    """A 0-sample utterance: exit status 1 and one line naming it; --debug re-raises."""
    from dinosr_espnet.bin.dinosr_train import cli
    from espnet_audio import write_data_dir

    train = write_data_dir(tmp_path / "train", [0.5, 0.5], 0, "ok")
    with open(train / "wav.scp", "a") as scp, open(train / "speech_shape", "a") as shape:
        scp.write(f"empty_utt {train / 'ok000.wav'}\n")
        shape.write("empty_utt 0\n")
    argv = train_cmd({"train": train, "dev": train}, tmp_path / "exp")
    assert cli(argv) == 1
    [error] = [r.getMessage() for r in caplog.records
               if r.levelname == "ERROR" and r.name == "dinosr_espnet.dinosr_train"]
    assert "\n" not in error and "'empty_utt'" in error
    with pytest.raises(ValueError, match="empty_utt"):
        cli(argv + ["--debug"])


def test_task_text_writes_are_atomic_only_within_the_block(tmp_path):
    from espnet2.tasks import abs_task

    from dinosr_espnet.espnet.atomic_io import atomic_task_writes

    config = tmp_path / "config.yaml"
    config.write_text("old: 1\n")
    with atomic_task_writes():
        with pytest.raises(RuntimeError):
            with (abs_task.Path(tmp_path) / "config.yaml").open("w", encoding="utf-8") as f:
                f.write("new: ")
                raise RuntimeError("killed half-way")
        assert config.read_text() == "old: 1\n"  # never truncated
        with (abs_task.Path(tmp_path) / "config.yaml").open("w", encoding="utf-8") as f:
            f.write("new: 2\n")
        assert (abs_task.Path(tmp_path) / "config.yaml").open().read() == "new: 2\n"
    assert abs_task.Path is Path
    assert not list(tmp_path.glob(".*.tmp"))


def test_training_writes_config_yaml_atomically(tiny_data, tmp_path, monkeypatch):
    import dinosr_espnet.data.atomic as atomic

    published = []
    real_publish = atomic.publish

    def spy(tmp, path, *args, **kwargs):
        published.append(Path(path).name)
        real_publish(tmp, path, *args, **kwargs)

    monkeypatch.setattr(atomic, "publish", spy)
    out = tmp_path / "exp"
    run_train(train_cmd(tiny_data, out, "--max_epoch", "1", "--num_iters_per_epoch", "1"))
    assert "config.yaml" in published and "checkpoint.pth" in published
    assert "1epoch.pth" in published
    assert (out / "latest.pth").resolve() == out / "1epoch.pth"


def test_task_link_updates_swap_the_link_atomically(tmp_path):
    from espnet2.tasks import abs_task

    from dinosr_espnet.espnet.atomic_io import atomic_task_writes

    (tmp_path / "1epoch.pth").write_bytes(b"1")
    (tmp_path / "2epoch.pth").write_bytes(b"2")
    (tmp_path / "latest.pth").symlink_to("1epoch.pth")
    with atomic_task_writes():
        link = abs_task.Path(tmp_path) / "latest.pth"
        link.unlink()  # what ESPnet's trainer does first
        assert (tmp_path / "latest.pth").read_bytes() == b"1"  # never missing
        link.symlink_to("2epoch.pth")
        old = abs_task.Path(tmp_path) / "1epoch.pth"
        old.unlink()  # a plain file is removed as before
    assert (tmp_path / "latest.pth").read_bytes() == b"2"
    assert not (tmp_path / "1epoch.pth").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2epoch.pth", "latest.pth"]
