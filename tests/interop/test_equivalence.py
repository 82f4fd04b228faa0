"""The imported model computes what the fairseq tensors compute (independent reference)."""
from __future__ import annotations

import re

import pytest
import torch

from dinosr_espnet.espnet.collate import standardize
from dinosr_espnet.inference import DinoSRInference
from dinosr_espnet.interop.espnet_dir import read_experiment
from dinosr_espnet.model import DinoSR
from fairseq_reference import codeword_indices, encoder, features, masked_prediction_loss
from fairseq_writer import LAYERS, N_CODEBOOKS

TOL = 1e-5


@pytest.fixture(scope="module")
def wav() -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    return torch.stack([standardize(torch.randn(3000, generator=gen)) for _ in range(2)])


@pytest.fixture(scope="module")
def model(imported_dir) -> DinoSR:
    cfg, state, _ = read_experiment(imported_dir)
    m = DinoSR(cfg)
    m.load_state_dict(state, strict=True)
    return m.eval()


@pytest.fixture(scope="module")
def reference(fairseq_ckpt, wav):
    src = fairseq_ckpt["model"]
    feats = features(src, wav)
    hidden, _ = encoder({k[len("encoder."):]: v for k, v in src.items()
                         if k.startswith("encoder.")}, feats)
    indices, margins = codeword_indices(src, feats)
    assert margins.min() > 1e-4, "random weights gave a near-tie: pick another seed"
    return hidden, indices


def test_hidden_states_and_codewords_match(model, wav, reference):
    hidden, indices = reference
    out = model.extract(wav)
    assert len(out.hidden_states) == LAYERS + 1
    for i, (ours, ref) in enumerate(zip(out.hidden_states, hidden)):
        torch.testing.assert_close(ours, ref, atol=TOL, rtol=0, msg=f"hidden state {i}")
    assert out.codeword_indices.shape == (N_CODEBOOKS, 2, hidden[0].shape[1])
    assert torch.equal(out.codeword_indices, indices)
    assert len(indices.unique()) > 2  # the assignment is not trivially constant


def test_loss_matches(model, fairseq_ckpt, wav):
    t = model.cfg.num_frames(wav.shape[1])
    mask = torch.rand(2, t, generator=torch.Generator().manual_seed(2)) < 0.5
    with torch.no_grad():
        ours = model(wav, mask_indices=mask).loss
    ref = masked_prediction_loss(fairseq_ckpt["model"], wav, mask)
    assert abs(float(ours) - float(ref)) < TOL
    assert float(ref) > 0.5  # a real cross-entropy, not a degenerate zero


def test_inference_api_reads_the_import(imported_dir, wav, reference):
    hidden, indices = reference
    api = DinoSRInference.from_pretrained(imported_dir)  # the directory itself
    results = api(list(wav), layers=[0, LAYERS])
    for b, r in enumerate(results):
        torch.testing.assert_close(r.hidden_states[LAYERS], hidden[-1][b], atol=TOL, rtol=0)
        assert torch.equal(r.codeword_indices, indices[:, b])


def test_inference_api_names_a_missing_config(imported_dir, tmp_path):
    (tmp_path / "model.pth").write_bytes((imported_dir / "model.pth").read_bytes())
    expected = (f"{tmp_path / 'model.pth'}: no config.yaml next to it (looked for "
                f"{tmp_path / 'config.yaml'})")
    with pytest.raises(FileNotFoundError, match=re.escape(expected)):
        DinoSRInference.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such model file or experiment directory"):
        DinoSRInference.from_pretrained(tmp_path / "nowhere")
