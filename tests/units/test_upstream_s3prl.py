"""The DinoSR upstream driven step by step as s3prl drives an upstream, without s3prl.

The calls mirror s3prl's hub (``UpstreamExpert(ckpt, model_config, refresh=...)``), its
``Featurizer`` (probe call on one second of noise, weighted sum of ``hidden_states``, the
``get_downsample_rates`` stride, the ``tolist`` length check) and ``S3PRLUpstream.forward``
(padded (B, T, 1) waveforms cut back to their lengths, lengths divided by the stride).
"""
from __future__ import annotations

import shutil

import pytest
import torch
from torch import nn

from dinosr_espnet.eval.upstream import DinoSRUpstream, UpstreamExpert
from dinosr_espnet.model.config import DinoSRConfig
from units_fixtures import TINY_320

SAMPLE_RATE = 16000  # s3prl.upstream.interfaces
TOLERABLE_SEQLEN_DIFF = 5  # s3prl.upstream.interfaces


@pytest.fixture(scope="module")
def upstream(experiment) -> UpstreamExpert:
    torch.set_num_threads(1)
    return UpstreamExpert(str(experiment))


def weighted_sum(weights: nn.Parameter, states: list[torch.Tensor]) -> torch.Tensor:
    """Featurizer._weighted_sum: softmax-weighted sum of the stacked states."""
    stacked = torch.stack(states, dim=0)
    layers, *shape = stacked.shape
    mixed = (torch.softmax(weights, -1).unsqueeze(-1) * stacked.view(layers, -1)).sum(0)
    return mixed.view(*shape)


def test_built_as_the_hub_builds_it(experiment, tmp_path):
    direct = DinoSRUpstream(str(experiment))  # used to fail: 'str' object has no attribute 'model'
    keywords = UpstreamExpert(ckpt=str(experiment), model_config=None, refresh=False)
    moved = tmp_path / "exp"
    moved.mkdir()
    shutil.copy(experiment, moved / "model.pth")
    shutil.copy(experiment.parent / "config.yaml", moved / "my_config.yaml")
    explicit = UpstreamExpert(moved, str(moved / "my_config.yaml"))  # a directory and -g config
    wav = [torch.randn(SAMPLE_RATE)]
    with torch.no_grad():
        ref = direct(wav)["hidden_states"][-1]
        for other in (keywords, explicit):
            assert torch.allclose(other(wav)["hidden_states"][-1], ref, atol=1e-5)
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        UpstreamExpert(moved)  # no config.yaml next to the model
    with pytest.raises(FileNotFoundError, match="no such model file"):
        UpstreamExpert(str(tmp_path / "missing.pth"))


def test_featurizer_protocol(upstream):
    cfg = DinoSRConfig.from_dict(TINY_320)
    upstream.eval()
    paired_wavs = [torch.randn(SAMPLE_RATE)]
    with torch.no_grad():
        paired_features = upstream(paired_wavs)
    assert isinstance(paired_features, dict) and "hidden_states" in paired_features
    feature = paired_features["hidden_states"]
    assert isinstance(feature, (list, tuple)) and len(feature) == cfg.num_layers + 1
    weights = nn.Parameter(torch.zeros(len(feature)))
    assert weighted_sum(weights, [f.cpu() for f in feature]).size(-1) == cfg.embed_dim
    downsample_rate = upstream.get_downsample_rates("hidden_states")
    assert downsample_rate == cfg.conv_stride == 320

    wavs = [torch.randn(SAMPLE_RATE), torch.randn(12345), torch.randn(4000)]
    features = upstream(wavs)
    mixed = weighted_sum(weights, features["hidden_states"])
    assert mixed.dim() == 3 and mixed.shape[0] == len(wavs)
    longest = round(max(len(w) for w in wavs) / downsample_rate)
    assert abs(mixed.size(1) - longest) < TOLERABLE_SEQLEN_DIFF
    per_utt = [f[: round(len(w) / downsample_rate)] for f, w in zip(mixed, wavs)]
    assert [len(f) for f in per_utt] == [49, 39, 12]  # round(len / 320), capped by T = 49
    valid = features["frame_lengths"].tolist()
    assert valid == [49, 38, 12]  # the CNN's frames: s3prl's rounding is off by at most one
    assert all(abs(len(f) - n) <= 1 for f, n in zip(per_utt, valid))
    loss = sum(f.pow(2).mean() for f in per_utt)
    loss.backward()  # the downstream trains the layer weights through the upstream's outputs
    assert weights.grad is not None and torch.count_nonzero(weights.grad) > 0
    assert not any(p.requires_grad for p in upstream.parameters())


def test_s3prl_upstream_protocol(upstream):
    stats = set()
    for _ in range(3):  # S3PRLUpstream checks that repeated calls agree in size and depth
        states = upstream([torch.randn(SAMPLE_RATE)])["hidden_states"]
        stats.add((states[0].size(-1), len(states)))
    assert stats == {(32, 4)}

    wav_len = torch.tensor([16000, 9000])
    wav = torch.zeros(2, 16000, 1)
    wav[0, :, 0] = torch.randn(16000)
    wav[1, :9000, 0] = torch.randn(9000)
    wavs = [w.view(-1)[:n] for w, n in zip(wav, wav_len)]
    out = upstream(wavs)
    hidden_states = out["hidden_states"]
    rate = upstream.get_downsample_rates("hidden_states")
    lengths = [min(int(n.item() / rate), hidden_states[0].size(1)) for n in wav_len]
    assert lengths == [49, 28] and out["frame_lengths"].tolist() == [49, 27]
    for h in hidden_states:
        assert h.shape == (2, 49, 32) and torch.count_nonzero(h[1, 27:]) == 0
    alone = upstream([wavs[1]])["hidden_states"][2][0]
    assert torch.allclose(alone, hidden_states[2][1, :27], atol=1e-4)


def test_train_mode_keeps_the_frozen_model_deterministic(upstream):
    wav = [torch.randn(SAMPLE_RATE)]
    upstream.train()  # s3prl's runner does this when the upstream is trainable
    assert upstream.training and not upstream.model.training
    first, second = upstream(wav), upstream(wav)
    assert torch.equal(first["hidden_states"][-1], second["hidden_states"][-1])
    upstream.eval()
