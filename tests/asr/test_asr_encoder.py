"""DinoSREncoder: standardisation, frame counts, padding, masks, frozen CNN, checkpoint keys."""
from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from dinosr_espnet.espnet.asr_encoder import DinoSREncoder, standardize_padded
from dinosr_espnet.model import DinoSR, DinoSRConfig


def make_encoder(conf: dict, **kw) -> DinoSREncoder:
    torch.manual_seed(0)
    kw.setdefault("mask_channel_length", 8)
    return DinoSREncoder(1, dinosr_conf=conf, **kw)


def test_standardize_matches_layer_norm_per_utterance():
    x = torch.randn(3, 50) * 3 + 1
    lengths = torch.tensor([50, 20, 7])
    y = standardize_padded(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(y[i, :n], F.layer_norm(x[i, :n], (n,), eps=1e-5))
        assert torch.all(y[i, n:] == 0)
    # hand-computed: [1, 3] → mean 2, var 1 → ±1/sqrt(1 + 1e-5)
    y2 = standardize_padded(torch.tensor([[1.0, 3.0, 9.0]]), torch.tensor([2]))
    torch.testing.assert_close(y2, torch.tensor([[-1.0, 1.0, 0.0]]) / (1 + 1e-5) ** 0.5)


def test_output_lengths_follow_cnn_formula(tiny_conf):
    enc = make_encoder(tiny_conf).eval()
    lengths = torch.tensor([4000, 1000, 85])
    out, out_lens, _ = enc(torch.randn(3, 4000), lengths)
    # conv (10,5),(4,4),(4,4): 4000 → 799 → 199 → 49; 1000 → 199 → 49 → 12; 85 → 16 → 4 → 1
    assert out_lens.tolist() == [49, 12, 1]
    assert out.shape == (3, 49, 64)
    base = DinoSRConfig()
    assert base.num_frames(16000) == 49 and base.num_frames(400) == 1  # BASE: 20 ms frames


def test_too_short_utterance_is_a_clear_error(tiny_conf):
    enc = make_encoder(tiny_conf).eval()
    with pytest.raises(ValueError, match="utterance 1 of the batch has 84 samples"):
        enc(torch.randn(2, 500), torch.tensor([500, 84]))


def test_padded_batch_equals_single_utterances_in_eval(tiny_conf):
    enc = make_encoder(tiny_conf).eval()
    wavs = [torch.randn(3000) * 2, torch.randn(1700) + 0.5, torch.randn(900)]
    batch = torch.zeros(3, 3000)
    for i, w in enumerate(wavs):
        batch[i, : len(w)] = w
    with torch.no_grad():
        out, lens, _ = enc(batch, torch.tensor([len(w) for w in wavs]))
        for i, w in enumerate(wavs):
            alone, n, _ = enc(w[None], torch.tensor([len(w)]))
            assert int(lens[i]) == int(n[0]) == alone.shape[1]
            torch.testing.assert_close(out[i, : int(n[0])], alone[0], atol=1e-5, rtol=1e-4)


def test_masks_only_in_training_and_as_specified(tiny_conf):
    enc = make_encoder(tiny_conf, mask_prob=0.65, mask_channel_prob=0.0)
    x = torch.randn(4, 200, 64)
    lengths = [200, 200, 150, 120]
    pad = torch.arange(200) >= torch.tensor(lengths)[:, None]
    y = enc._apply_masks(x, lengths, pad)
    masked = (y == enc.dinosr.mask_emb).all(-1)
    assert torch.equal(y[~masked], x[~masked])  # unmasked frames untouched
    assert not masked[pad].any()                 # padding never masked
    counts = masked.sum(1)
    assert (counts == counts[0]).all()           # equalised to the smallest row
    assert 0.25 < counts[3] / 120 < 0.75         # ≈ 1 − e^−0.65 ≈ 0.48 from spans of 10

    enc = make_encoder(tiny_conf, mask_prob=0.0, mask_channel_prob=0.5)
    y = enc._apply_masks(x, lengths, pad)
    zeroed = (y == 0).all(1)                     # (B, C): channel zero at every frame
    assert zeroed.any(1).all()
    assert torch.equal(y[~zeroed.unsqueeze(1).expand_as(y)], x[~zeroed.unsqueeze(1).expand_as(y)])

    enc = make_encoder(tiny_conf, mask_prob=0.65, mask_channel_prob=0.5).eval()
    wav, n = torch.randn(2, 3000), torch.tensor([3000, 2500])
    with torch.no_grad():
        torch.testing.assert_close(enc(wav, n)[0], enc(wav, n)[0])  # eval: deterministic


def test_cnn_frozen_rest_trains(tiny_conf):
    enc = make_encoder(tiny_conf).train()
    out, _, _ = enc(torch.randn(2, 3000), torch.tensor([3000, 2000]))
    (out * torch.randn_like(out)).sum().backward()
    for p in enc.dinosr.feature_extractor.parameters():
        assert not p.requires_grad and p.grad is None
    for name in ("post_extract_proj", "encoder"):
        grads = [p.grad for p in getattr(enc.dinosr, name).parameters()]
        assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_regularisation_overrides_pretrained_config(tiny_conf):
    enc = make_encoder(tiny_conf, layerdrop=0.1, activation_dropout=0.1, dropout=0.0)
    layer = enc.dinosr.encoder.layers[0]
    assert enc.dinosr.encoder.layerdrop == 0.1
    assert layer.activation_dropout.p == 0.1 and layer.dropout.p == 0.0
    assert layer.self_attn.dropout == 0.0


def test_student_loads_pretraining_state_dict_without_extras(tiny_conf):
    torch.manual_seed(1)
    dinosr = DinoSR(DinoSRConfig.from_dict(tiny_conf))
    enc = make_encoder(tiny_conf)
    enc.dinosr.load_state_dict(dinosr.state_dict())  # strict: extras dropped by the hook
    student = enc.dinosr.state_dict()
    assert not any(k.startswith(("teacher.", "codebooks.", "heads.")) for k in student)
    for k, v in student.items():
        torch.testing.assert_close(v, dinosr.state_dict()[k], msg=k)
    bad = dict(dinosr.state_dict(), **{"projection.weight": torch.zeros(1)})
    with pytest.raises(RuntimeError, match="projection.weight"):
        enc.dinosr.load_state_dict(bad)


def test_bad_configuration_errors(tiny_conf):
    with pytest.raises(ValueError, match="input_size: 1"):
        DinoSREncoder(80, dinosr_conf=tiny_conf)
    with pytest.raises(ValueError, match="exactly one of"):
        DinoSREncoder(1)
    with pytest.raises(ValueError, match="dinosr_conf.*embed_dimm"):
        DinoSREncoder(1, dinosr_conf={"embed_dimm": 3})
    with pytest.raises(ValueError, match="encoder_conf.*layerdrop"):
        DinoSREncoder(1, dinosr_conf=tiny_conf, layerdrop=1.5)


def test_update_counter_survives_a_checkpoint(tiny_conf):
    enc = make_encoder(tiny_conf, freeze_encoder_updates=3)
    for _ in range(3):
        assert enc.encoder_frozen
        enc.on_optimizer_step()
    assert not enc.encoder_frozen and int(enc.num_updates) == 3
    resumed = make_encoder(tiny_conf, freeze_encoder_updates=3)
    assert resumed.encoder_frozen
    resumed.load_state_dict(enc.state_dict())  # --resume restores the buffer
    assert not resumed.encoder_frozen
