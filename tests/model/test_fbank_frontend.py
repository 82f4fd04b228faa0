"""The log-mel frontend option (``frontend: fbank``): geometry, values, padding, config, export."""
import math

import pytest
import torch
import torchaudio

from dinosr_espnet.interop.fairseq_config import config_to_fairseq
from dinosr_espnet.model import DinoSRConfig
from dinosr_espnet.model.feature_extractor import LOG_MEL_FLOOR, FeatureExtractor, LogMelFilterbank

FBANK = dict(conv_layers=[(20, 400, 160), (32, 3, 2)], frontend="fbank")


def test_frames_follow_the_convolution_formula_and_stride_320():
    cfg = DinoSRConfig.from_dict({"conv_layers": [[80, 400, 160], [128, 3, 2]], "frontend": "fbank"})
    assert cfg.conv_stride == 320 and cfg.receptive_field == 720 and cfg.conv_dim == 128
    extractor = FeatureExtractor(cfg.conv_layers, frontend="fbank")
    assert cfg.num_frames(719) == 0
    for n in (720, 1040, 1041, 16000, 16321):
        frames = extractor(torch.randn(1, n)).shape[1]
        assert frames == cfg.num_frames(n) == (((n - 400) // 160 + 1) - 3) // 2 + 1


def test_log_mel_of_a_tone_peaks_in_its_mel_band_and_silence_hits_the_floor():
    fb = LogMelFilterbank(n_mels=40, window=400, hop=160, sample_rate=16000)
    assert fb.n_fft == 512 and not list(fb.parameters()) and not fb.state_dict()
    t = torch.arange(16000) / 16000
    out = fb(torch.sin(2 * math.pi * 1000 * t).view(1, 1, -1))
    assert out.shape == (1, 40, 98)  # (16000 - 400) // 160 + 1
    peak = int(out[0, :, 50].argmax())
    mel = torchaudio.functional.melscale_fbanks(257, 20.0, 8000.0, 40, 16000, mel_scale="htk")
    assert peak == int(mel[round(1000 / 8000 * 256)].argmax())  # the filter centred nearest 1 kHz
    silent = fb(torch.zeros(1, 1, 800))
    assert torch.allclose(silent, torch.full_like(silent, math.log(LOG_MEL_FLOOR)))
    dc = fb(torch.full((1, 1, 800), 0.5))  # DC is removed per frame before the FFT
    assert torch.allclose(dc, silent)


def test_fbank_model_is_padding_invariant_and_has_no_filterbank_weights(tiny_model):
    model = tiny_model(**FBANK).eval()
    assert not [k for k in model.state_dict() if "filterbank" in k]
    g = torch.Generator().manual_seed(0)
    utt = torch.randn(2000, generator=g)
    source = torch.randn(2, 3000, generator=g)
    source[0, :2000] = utt
    pad = torch.zeros(2, 3000, dtype=torch.bool)
    pad[0, 2000:] = True
    batch = model.extract(source, pad)
    alone = model.extract(utt.unsqueeze(0))
    t = model.cfg.num_frames(2000)
    assert alone.hidden_states[-1].shape[1] == t == 5  # (2000 - 400) // 160 + 1 = 11 -> 5
    assert torch.allclose(batch.hidden_states[-1][0, :t], alone.hidden_states[-1][0], atol=1e-5)
    out = model(source, pad)  # the pretraining loss runs with the fbank frontend
    assert torch.isfinite(out.loss)


def test_bad_frontend_is_named_and_fairseq_export_refuses_fbank(tiny_cfg):
    with pytest.raises(ValueError, match="'frontend'"):
        tiny_cfg(frontend="mfcc")
    with pytest.raises(ValueError, match="window >= 2"):
        tiny_cfg(conv_layers=[(20, 1, 1), (32, 3, 2)], frontend="fbank")
    with pytest.raises(ValueError, match="frontend='fbank' has no fairseq equivalent"):
        config_to_fairseq(tiny_cfg(**FBANK))
    config_to_fairseq(tiny_cfg())  # the spec's CNN exports
