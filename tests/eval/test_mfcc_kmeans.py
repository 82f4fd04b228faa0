"""MFCC k-means baseline on generated tones."""
import numpy as np
import pytest
import soundfile
import torch
import torchaudio
from threadpoolctl import threadpool_limits

from dinosr_espnet.eval.mfcc_kmeans import assign_units, extract_mfcc, fit_kmeans, main, mfcc_features
from dinosr_espnet.eval.units import joint_counts, quality_from_counts, read_units

RATE = 16000
TONES = (300.0, 1200.0, 3000.0)


def _tone_utterance(rng, segments):
    """Back-to-back 0.2 s tones (plus a little noise) and their 100 Hz labels."""
    parts, labels = [], []
    t = np.arange(int(0.2 * RATE)) / RATE
    for s in segments:
        parts.append(np.sin(2 * np.pi * TONES[s] * t) * 0.3 + rng.normal(scale=0.01, size=len(t)))
        labels += [f"tone{s}"] * 20
    return np.concatenate(parts).astype(np.float32), labels


def test_mfcc_shape_rate_and_content():
    wave = np.random.default_rng(0).normal(scale=0.1, size=RATE).astype(np.float32)
    full = mfcc_features(wave, RATE, subsample=1)
    # Kaldi framing with snip_edges: 1 + (16000 - 400) // 160 = 98 frames at 100 Hz
    assert full.shape == (98, 39)
    reference = torchaudio.compliance.kaldi.mfcc(torch.from_numpy(wave)[None], sample_frequency=RATE, use_energy=False)
    assert np.allclose(full[:, :13], reference.numpy(), atol=1e-5)
    half = mfcc_features(wave, RATE)
    # every second frame: 49 frames, the CNN's frame count for 1 s at 16 kHz (stride 320)
    assert half.shape == (49, 39) and np.array_equal(half, full[::2])


def test_kmeans_units_recover_tones(tmp_path):
    rng = np.random.default_rng(1)
    waves, labels = {}, {}
    for i in range(4):
        waves[f"u{i}"], labels[f"u{i}"] = _tone_utterance(rng, rng.permutation(3))
    features = {uid: mfcc_features(w, RATE) for uid, w in waves.items()}
    with threadpool_limits(1):
        model = fit_kmeans(features.values(), k=3, seed=0, n_init=3)
        units = assign_units(model, features)
    assert all(len(units[u]) == len(features[u]) for u in units)
    quality = quality_from_counts(joint_counts(units, labels, repeat=2).counts)
    assert quality.pnmi > 0.8 and quality.active_codewords == 3
    with threadpool_limits(1):
        again = assign_units(fit_kmeans(features.values(), k=3, seed=0, n_init=3), features)
    assert all(np.array_equal(units[u], again[u]) for u in units)


def test_cli_writes_units_and_features(tmp_path):
    rng = np.random.default_rng(2)
    lines = []
    for i in range(3):
        wave, _ = _tone_utterance(rng, [0, 1, 2])
        soundfile.write(tmp_path / f"u{i}.flac", wave, RATE)
        lines.append(f"u{i} {tmp_path / f'u{i}.flac'}")
    (tmp_path / "wav.scp").write_text("\n".join(lines) + "\n")
    out = tmp_path / "mfcc"
    with threadpool_limits(1):
        code = main(["--wav-scp", str(tmp_path / "wav.scp"), "--out-dir", str(out), "--k", "2", "3",
                     "--n-init", "1", "--save-features"])
    assert code == 0
    units = read_units(out / "units_k3.txt")
    feats = np.load(out / "features" / "u0.npy")
    # 0.6 s: 1 + (9600 - 400) // 160 = 58 frames at 100 Hz, 29 kept
    assert sorted(units) == ["u0", "u1", "u2"] and len(units["u0"]) == len(feats) == 29
    assert set(np.concatenate(list(read_units(out / "units_k2.txt").values()))) <= {0, 1}
    assert np.load(out / "centroids_k3.npy").shape == (3, 39)


def test_missing_audio_names_the_utterance(tmp_path):
    (tmp_path / "wav.scp").write_text(f"u9 {tmp_path / 'nowhere.flac'}\n")
    with pytest.raises(ValueError, match="'u9'.*missing file"):
        extract_mfcc(tmp_path / "wav.scp")
