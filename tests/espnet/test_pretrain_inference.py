"""``DinoSRInference``: loading ESPnet outputs, padding-invariant batching, standardisation."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from pretrain_launch import TINY_CONFIG
from dinosr_espnet.inference import DinoSRInference
from dinosr_espnet.model import DinoSR, DinoSRConfig


@pytest.fixture(scope="module")
def exp_dir(tmp_path_factory):
    """An ESPnet-style exp dir: ``config.yaml`` and a ``dinosr.``-prefixed ``1epoch.pth``."""
    out = tmp_path_factory.mktemp("exp")
    conf = yaml.safe_load(TINY_CONFIG.read_text())
    torch.manual_seed(0)
    model = DinoSR(DinoSRConfig.from_dict(conf["model_conf"]))
    model.num_updates.fill_(7)
    torch.save({f"dinosr.{k}": v for k, v in model.state_dict().items()}, out / "1epoch.pth")
    (out / "config.yaml").write_text(yaml.safe_dump(conf))
    return out


def waveforms() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(0, 0.3, n).astype(np.float32) for n in (4000, 2500, 6100, 800)]


def test_padded_batch_equals_single_utterances(exp_dir):
    model = DinoSRInference.from_pretrained(exp_dir / "1epoch.pth")
    assert int(model.model.num_updates) == 7
    wavs = waveforms()
    batched = model(wavs, layers=[0, 2, 3], batch_size=4)
    cfg = model.config
    for wav, res in zip(wavs, batched):
        single = model([wav], layers=[0, 2, 3])[0]
        assert res.num_frames == single.num_frames == cfg.num_frames(len(wav))
        assert sorted(res.hidden_states) == [0, 2, 3]
        for i in (0, 2, 3):
            assert res.hidden_states[i].shape == (res.num_frames, cfg.embed_dim)
            assert torch.allclose(res.hidden_states[i], single.hidden_states[i], atol=1e-4)
        assert res.codeword_indices.shape == (cfg.num_codebooks, res.num_frames)
        assert torch.equal(res.codeword_indices, single.codeword_indices)
        assert res.head_probs.shape == (cfg.num_codebooks, res.num_frames, cfg.codebook_size)
        assert torch.allclose(res.head_probs, single.head_probs, atol=1e-5)
        assert torch.allclose(res.head_probs.sum(-1), torch.ones(1), atol=1e-5)


def test_inputs_are_standardised_like_training(exp_dir):
    """Per-file standardisation makes the output invariant to gain and DC offset."""
    model = DinoSRInference.from_pretrained(exp_dir / "1epoch.pth")
    wav = waveforms()[0]
    a = model([wav], layers=[3])[0]
    b = model([torch.from_numpy(3.0 * wav + 0.5)], layers=[3])[0]
    assert torch.allclose(a.hidden_states[3], b.hidden_states[3], atol=1e-4)
    assert torch.equal(a.codeword_indices, b.codeword_indices)


def test_bad_inputs_are_reported(exp_dir):
    model = DinoSRInference.from_pretrained(exp_dir / "1epoch.pth")
    with pytest.raises(ValueError, match="waveform 1 has 50 samples"):
        model([np.zeros(1000), np.ones(50)])
    with pytest.raises(ValueError, match="layer 9 out of range"):
        model([np.zeros(1000)], layers=[9])
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        DinoSRInference.from_pretrained(exp_dir / "1epoch.pth", config_file=exp_dir / "no.yaml")
