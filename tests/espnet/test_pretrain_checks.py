"""Launcher behaviour: gradient accumulation, and clear errors for bad set-ups."""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from pretrain_launch import REPO, TINY_CONFIG, run_train, train_cmd
from dinosr_espnet.inference import load_checkpoint
from espnet_audio import write_data_dir


def test_accum_grad_steps_teacher_once_per_update(tiny_data, tmp_path):
    """6 batches with --accum_grad 2 are 3 updates: 3 teacher steps, 3 optimizer steps."""
    out = tmp_path / "exp"
    run_train(train_cmd(tiny_data, out, "--accum_grad", "2", "--max_epoch", "1",
                        "--num_iters_per_epoch", "6"))
    ckpt = load_checkpoint(out / "checkpoint.pth")
    assert int(ckpt["model"]["dinosr.num_updates"]) == 3
    assert int(ckpt["optimizers"][0]["state"][0]["step"]) == 3
    assert ckpt["schedulers"][0]["last_epoch"] == 3


def test_unknown_model_conf_key_is_named(tiny_data, tmp_path):
    conf = yaml.safe_load(TINY_CONFIG.read_text())
    conf["model_conf"]["codebook_sise"] = 16
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(conf))
    with pytest.raises(ValueError, match="model_conf: unknown DinoSR config key.*codebook_sise"):
        run_train(train_cmd(tiny_data, tmp_path / "exp", config=bad))


def test_short_utterance_fails_at_start_up(tmp_path):
    """Receptive field of the tiny CNN is 85 samples: a 60-sample utterance is named."""
    train = write_data_dir(tmp_path / "train", [0.5, 0.5], 0, "ok")
    with open(train / "wav.scp", "a") as scp, open(train / "speech_shape", "a") as shape:
        scp.write(f"short_utt {train / 'ok000.wav'}\n")
        shape.write("short_utt 60\n")
    data = {"train": train, "dev": train}
    with pytest.raises(ValueError, match=r"utterance 'short_utt' .*60 samples.*\(85\)"):
        run_train(train_cmd(data, tmp_path / "exp"))
    assert not (tmp_path / "exp" / "checkpoint.pth").exists()


def test_data_parallel_without_ddp_is_refused(tiny_data, tmp_path):
    with pytest.raises(ValueError, match="--multiprocessing_distributed true"):
        run_train(train_cmd(tiny_data, tmp_path / "exp") + ["--ngpu", "2"])


def test_launcher_help():
    proc = subprocess.run([sys.executable, "-m", "dinosr_espnet.bin.dinosr_train", "--help"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for option in ("--model_conf", "--train_data_path_and_name_and_type", "--resume",
                   "--accum_grad", "--multiprocessing_distributed", "tristage"):
        assert option in proc.stdout, option


def test_configs_are_valid():
    """Both shipped configs parse into a DinoSRConfig; BASE matches spec §3/§5 numbers."""
    from dinosr_espnet.model import DinoSRConfig

    base = yaml.safe_load((REPO / "conf" / "pretrain_base.yaml").read_text())
    cfg = DinoSRConfig.from_dict(base["model_conf"])
    assert cfg == DinoSRConfig()  # the BASE defaults
    assert cfg.receptive_field == 400 and cfg.conv_stride == 320
    assert base["optim_conf"] == {"lr": 0.0005, "betas": [0.9, 0.98], "eps": 1e-6,
                                  "weight_decay": 0.01, "fused": True}
    assert base["scheduler_conf"]["max_steps"] == 400000
    assert "num_iters_per_epoch" not in base  # derived from updates_per_epoch × accum_grad
    assert base["max_epoch"] * base["updates_per_epoch"] == 400000
    tiny = yaml.safe_load(TINY_CONFIG.read_text())
    assert DinoSRConfig.from_dict(tiny["model_conf"]).receptive_field == 85


def test_undumped_data_dir_with_empty_utterance_fails_at_start_up(tmp_path):
    """No utt2num_samples and no shape file (the stats stage on a data dir that was never
    dumped): the audio headers are read at start-up and the 0-sample utterance is named in a
    ValueError, before any data loading."""
    import numpy as np
    import soundfile

    train = write_data_dir(tmp_path / "train", [0.5, 0.5], 0, "ok")
    soundfile.write(train / "zero.wav", np.zeros(0), 16000, subtype="PCM_16")
    with open(train / "wav.scp", "a") as scp:
        scp.write(f"zero_utt {train / 'zero.wav'}\n")
    cmd = train_cmd({"train": train, "dev": train}, tmp_path / "exp")
    for option in ("--train_shape_file", "--valid_shape_file"):
        i = cmd.index(option)
        del cmd[i:i + 2]
    with pytest.raises(ValueError, match=r"^utterance 'zero_utt' \(.*wav\.scp:3\) has 0 samples, "
                                         r"fewer than the CNN receptive field \(85\)"):
        run_train(cmd + ["--collect_stats", "true"])
    (train / "zero.wav").unlink()
    with pytest.raises(ValueError, match=r"^utterance 'zero_utt' \(.*wav\.scp:3\): cannot read "):
        run_train(cmd + ["--collect_stats", "true"])
