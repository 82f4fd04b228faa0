"""Unit tests of the ESPnet glue: collate, checks, scheduler, teacher hook, model adapter."""
from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import soundfile
import torch
import yaml

from pretrain_launch import TINY_CONFIG
from dinosr_espnet.espnet.collate import DinoSRCollateFn, standardize
from dinosr_espnet.espnet.data_checks import (
    DinoSRPreprocessor,
    check_min_lengths,
    speech_length_files,
)
from dinosr_espnet.espnet.model import ESPnetDinoSRModel
from dinosr_espnet.espnet.scheduler import TriStageLR
from dinosr_espnet.espnet.teacher_step import register_teacher_step
from dinosr_espnet.model import DinoSR, DinoSRConfig


def tiny_cfg() -> DinoSRConfig:
    return DinoSRConfig.from_dict(yaml.safe_load(TINY_CONFIG.read_text())["model_conf"])


# ---------------------------------------------------------------- collate
def test_standardize_by_hand():
    x = standardize(np.array([1.0, 2.0, 3.0, 4.0]))
    expected = (torch.tensor([1.0, 2.0, 3.0, 4.0]) - 2.5) / math.sqrt(1.25 + 1e-5)
    assert torch.allclose(x, expected, atol=1e-6)
    with pytest.raises(ValueError, match="1-D"):
        standardize(np.zeros((10, 2)))


def test_collate_standardises_then_crops_to_shortest():
    rng = np.random.default_rng(0)
    data = [(f"u{i}", {"speech": rng.normal(3.0, 2.0, n)}) for i, n in enumerate((50, 30, 80))]
    np.random.seed(0)
    uids, batch = DinoSRCollateFn(max_sample_size=None)(data)
    assert uids == ["u0", "u1", "u2"]
    assert batch["speech"].shape == (3, 30)
    assert batch["speech_lengths"].tolist() == [30, 30, 30]
    for (_, d), row in zip(data, batch["speech"]):
        full = standardize(d["speech"])  # statistics of the whole file, not of the crop
        starts = [s for s in range(len(full) - 29) if torch.allclose(full[s:s + 30], row)]
        assert len(starts) == 1
    np.random.seed(0)
    _, again = DinoSRCollateFn(max_sample_size=None)(data)
    assert torch.equal(again["speech"], batch["speech"])  # reproducible under seeding


def test_collate_cap_and_padding_mode():
    data = [("a", {"speech": np.ones(10) + np.arange(10)}), ("b", {"speech": np.arange(6.0)})]
    _, capped = DinoSRCollateFn(max_sample_size=4)(data)
    assert capped["speech"].shape == (2, 4)
    _, padded = DinoSRCollateFn(max_sample_size=None, crop=False)(data)
    assert padded["speech_lengths"].tolist() == [10, 6]
    assert torch.equal(padded["speech"][1, 6:], torch.zeros(4))
    assert torch.allclose(padded["speech"][1, :6], standardize(np.arange(6.0)))


# ---------------------------------------------------------------- data checks
def test_preprocessor_checks_rate_and_length(tmp_path):
    soundfile.write(tmp_path / "a.wav", np.zeros(1600, dtype=np.float32), 16000)
    soundfile.write(tmp_path / "b.wav", np.zeros(800, dtype=np.float32), 8000)
    scp = tmp_path / "wav.scp"
    scp.write_text(f"a {tmp_path / 'a.wav'}\nb {tmp_path / 'b.wav'}\n")
    pre = DinoSRPreprocessor(16000, 400, [str(scp)])
    assert pre("a", {"speech": np.zeros(1600)})["speech"].shape == (1600,)
    with pytest.raises(ValueError, match="utterance 'b' .*8000 Hz, expected 16000"):
        pre("b", {"speech": np.zeros(800)})
    with pytest.raises(ValueError, match="utterance 'a' has 399 samples.*receptive field"):
        pre("a", {"speech": np.zeros(399)})
    with pytest.raises(ValueError, match="utterance 'a': expected mono"):
        pre("a", {"speech": np.zeros((1600, 2))})


def test_min_length_check_reads_utt2num_samples(tmp_path):
    (tmp_path / "wav.scp").write_text("x a.wav\n")
    (tmp_path / "utt2num_samples").write_text("x 1000\ny 399\nz 10\n")
    files = speech_length_files([(str(tmp_path / "wav.scp"), "speech", "sound")], [])
    assert files == [tmp_path / "utt2num_samples"]
    with pytest.raises(ValueError, match=r"utterance 'y' .*utt2num_samples:2\) has 399.*2 utt"):
        check_min_lengths(files, 400)
    check_min_lengths(files, 10)


# ---------------------------------------------------------------- scheduler
def lrs(scheduler_kwargs: dict, steps: int) -> list[float]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = TriStageLR(opt, **scheduler_kwargs)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_tristage_values_by_hand():
    lr = lrs(dict(max_steps=100, phase_ratio=(0.1, 0.4, 0.5), init_lr_scale=0.01,
                  final_lr_scale=0.01), 120)
    assert lr[0] == pytest.approx(0.01)  # first update runs at init scale
    assert lr[5] == pytest.approx(0.01 + 0.99 * 0.5)
    assert lr[10] == lr[49] == pytest.approx(1.0)
    assert lr[75] == pytest.approx(0.1)  # halfway through the decay: sqrt(0.01)
    assert lr[100] == lr[119] == pytest.approx(0.01)
    base = TriStageLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=5e-4))
    assert (base.warmup_steps, base.hold_steps, base.decay_steps) == (12000, 188000, 200000)


def test_tristage_resumes_from_state_dict():
    kwargs = dict(max_steps=20, phase_ratio=(0.2, 0.3, 0.5))
    full = lrs(kwargs, 15)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = TriStageLR(opt, **kwargs)
    for _ in range(7):
        opt.step()
        sched.step()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched2 = TriStageLR(opt2, **kwargs)
    sched2.load_state_dict(sched.state_dict())
    opt2.param_groups[0]["lr"] = sched2.get_last_lr()[0]
    assert opt2.param_groups[0]["lr"] == pytest.approx(full[7])


# ---------------------------------------------------------------- teacher hook
def test_teacher_steps_only_on_real_optimizer_steps():
    """A GradScaler skipping an inf step does not step the teacher (AMP safety)."""
    model = DinoSR(tiny_cfg())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    register_teacher_step(opt, model)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 4)
    teacher_before = model.teacher.encoder.layers[0].fc1.weight.clone()
    for value in (float("inf"), 1e-3):
        scaler.scale(torch.ones(()))  # as scaler.scale(loss).backward() would
        for p in model.parameters():
            if p.requires_grad:
                p.grad = torch.full_like(p, value)
        scaler.step(opt)
        scaler.update()
        if value == float("inf"):
            assert int(model.num_updates) == 0  # skipped: no update, no teacher step
            assert torch.equal(model.teacher.encoder.layers[0].fc1.weight, teacher_before)
    assert int(model.num_updates) == 1
    assert not torch.equal(model.teacher.encoder.layers[0].fc1.weight, teacher_before)


# ---------------------------------------------------------------- model adapter
def test_adapter_loss_weight_and_stats(caplog):
    torch.manual_seed(0)
    model = ESPnetDinoSRModel(tiny_cfg()).train()
    speech = torch.randn(2, 8000)
    with caplog.at_level(logging.INFO):
        loss, stats, weight = model(speech, torch.tensor([8000, 8000]), utt_id=["a", "b"])
    frames = tiny_cfg().num_frames(8000)
    assert 0 < int(weight) <= 2 * frames
    assert weight.shape == (1,) and loss.shape == (1,)
    assert loss.requires_grad
    assert float(loss) == pytest.approx(float(stats["loss"]), rel=1e-5)
    assert float(stats["masked_frac"]) == pytest.approx(int(weight) / (2 * frames))
    for key in ("acc_0", "acc_1", "ppl_cb0", "active_cb1", "pred_ppl", "ema_decay",
                "codebook_decay"):
        assert key in stats, key
    assert float(stats["ema_decay"]) == pytest.approx(0.99)
    assert float(stats["health_nonfinite"]) == 0.0 and "health_collapse" in stats
    assert "health at update 1: loss " in caplog.text
    feats = model.collect_feats(speech, torch.tensor([8000, 8000]))
    assert feats["feats"] is speech
