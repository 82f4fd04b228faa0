"""DinoSR forward: Eq. 4 loss, codebook update only in training, stats, input checks."""
import math

import pytest
import torch
from torch.nn import functional as F


def fixed_mask(b, t, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(b, t, generator=g) < 0.5
    mask[:, 0] = True
    return mask


@pytest.mark.parametrize("training", [False, True])
def test_uniform_predictor_scores_ln_v(tiny_model, training):
    model = tiny_model().train(training)
    with torch.no_grad():
        for head in model.heads:
            head.weight.zero_()
            head.bias.zero_()
    out = model(torch.randn(3, 1600))
    assert out.loss.item() == pytest.approx(math.log(8), rel=1e-6)
    assert float(out.stats["loss"]) == pytest.approx(math.log(8), rel=1e-6)
    assert float(out.stats["pred_ppl"]) == pytest.approx(8.0, rel=1e-5)


def test_loss_is_mean_ce_over_masked_frames(tiny_model):
    model = tiny_model().eval()
    source = torch.randn(2, 1600)
    t = model.cfg.num_frames(1600)
    mask = fixed_mask(2, t)
    out = model(source, mask_indices=mask)

    with torch.no_grad():
        features, _, _ = model.extract_features(source)
        x = torch.where(mask.unsqueeze(-1), model.mask_emb, features)
        y = model.encoder(x).hidden_states[-1][mask]  # (M, D)
        z = model.teacher_targets(features, None)[:, mask]  # (N, M, D)
        targets = torch.cdist(z, model.codebooks.centroids()).argmin(-1)
        per_head = [F.cross_entropy(h(y), targets[k]) for k, h in enumerate(model.heads)]
        acc = [(h(y).argmax(-1) == targets[k]).float().mean() for k, h in enumerate(model.heads)]
    assert out.loss.item() == pytest.approx(torch.stack(per_head).mean().item(), rel=1e-5)
    assert int(out.num_masked) == int(mask.sum())
    assert out.loss_sum.item() == pytest.approx(out.loss.item() * int(mask.sum()), rel=1e-5)
    assert float(out.stats["acc_0"]) == pytest.approx(acc[0].item())
    assert float(out.stats["acc_1"]) == pytest.approx(acc[1].item())
    assert float(out.stats["masked_frac"]) == pytest.approx(mask.float().mean().item())


def test_codebooks_update_only_in_training_from_masked_frames(tiny_model):
    model = tiny_model().eval()
    source = torch.randn(2, 1600)
    mask = fixed_mask(2, model.cfg.num_frames(1600), seed=1)
    sums = model.codebooks.sums.clone()
    model(source, mask_indices=mask)
    assert torch.equal(model.codebooks.sums, sums)

    features, _, _ = model.extract_features(source)
    z = model.teacher_targets(features, None)[:, mask]
    idx = model.codebooks.assign(z)
    batch_sums, batch_counts = model.codebooks.batch_statistics(z, idx)
    expected_sums = 0.9 * sums + 0.1 * batch_sums
    expected_sums = torch.where(batch_counts.unsqueeze(-1) > 0, expected_sums, sums)
    model.train()
    out = model(source, mask_indices=mask)
    assert torch.allclose(model.codebooks.sums, expected_sums, atol=1e-6)
    active = (batch_counts > 0).sum(-1)
    assert float(out.stats["active_cb0"]) == active[0].item()


def test_stats_keys_and_decays(tiny_model):
    model = tiny_model().train()
    out = model(torch.randn(2, 1600))
    keys = {"loss", "masked_frac", "ema_decay", "codebook_decay", "pred_ppl", "acc_0", "acc_1",
            "ppl_cb0", "ppl_cb1", "active_cb0", "active_cb1"}
    assert set(out.stats) == keys
    assert out.stats["ema_decay"] == pytest.approx(0.999)
    assert out.stats["codebook_decay"] == pytest.approx(0.9)
    assert all(math.isfinite(float(v)) for v in out.stats.values())
    assert all(not torch.is_tensor(v) or not v.requires_grad for v in out.stats.values())
    assert 1.0 <= float(out.stats["ppl_cb0"]) <= 8.0


def test_autocast_forward_keeps_fp32_loss_and_codebooks(tiny_model):
    model = tiny_model().train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.randn(2, 1600))
    assert out.loss.dtype == torch.float32 and math.isfinite(out.loss.item())
    assert model.codebooks.sums.dtype == torch.float32


def test_bad_inputs_raise(tiny_model):
    model = tiny_model()
    with pytest.raises(ValueError, match="receptive field"):
        model(torch.randn(2, 20))
    with pytest.raises(ValueError, match="mask_indices"):
        model(torch.randn(2, 1600), mask_indices=torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="source"):
        model(torch.randn(1600))
    pad = torch.zeros(2, 1600, dtype=torch.bool)
    pad[1, 10:] = True
    with pytest.raises(ValueError, match="utterance 1"):
        model(torch.randn(2, 1600), padding_mask=pad)


def test_extract_restores_mode_and_shapes(tiny_model):
    model = tiny_model().train()
    feats = model.extract(torch.randn(2, 1600), layers=[0, 3])
    assert model.training and not model.teacher.encoder.training
    t = model.cfg.num_frames(1600)
    assert [h.shape for h in feats.hidden_states] == [(2, t, 32)] * 2
    assert feats.codeword_indices.shape == (2, 2, t)
    assert feats.head_probs.shape == (2, 2, t, 8)
    assert torch.allclose(feats.head_probs.sum(-1), torch.ones(2, 2, t))
    assert not feats.frame_padding_mask.any()
    assert len(model.extract(torch.randn(1, 1600), codewords=False).hidden_states) == 4
