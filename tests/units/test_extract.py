"""Extraction: shapes and frame counts (batched, single, chunked), formats, audio checks."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile
import torch

from dinosr_espnet.bin.extract import main as extract_main
from dinosr_espnet.eval.abx import load_features
from dinosr_espnet.eval.extract_io import AudioLoader, read_wav_scp
from dinosr_espnet.eval.extraction import CorpusExtractor, chunk_plan, parse_layers
from dinosr_espnet.eval.units import joint_counts, quality_from_counts, read_phone_labels, read_units
from dinosr_espnet.inference import DinoSRInference
from dinosr_espnet.model.config import DinoSRConfig
from units_fixtures import FS, TINY_320


@pytest.fixture(scope="module")
def inference(experiment):
    torch.set_num_threads(1)
    return DinoSRInference.from_pretrained(experiment)


def _run(experiment, wav_scp, out, *extra):
    return extract_main(["--model_file", str(experiment), "--wav_scp", str(wav_scp),
                         "--out_dir", str(out), *extra])


def test_layer_parsing():
    assert parse_layers("all", 4) == [0, 1, 2, 3]
    assert parse_layers("3,1, 3", 4) == [1, 3]
    with pytest.raises(ValueError, match="out of range 0..3"):
        parse_layers("4", 4)
    with pytest.raises(ValueError, match="comma-separated"):
        parse_layers("five", 4)


def test_chunk_plan_covers_every_frame_once():
    # BASE geometry: stride 320, receptive field 400: 499 * 320 + 400 + 77 samples -> 500 frames.
    cfg = DinoSRConfig()
    n = 160157
    assert cfg.num_frames(n) == 500
    plan = chunk_plan(n, cfg, chunk_frames=150, context_frames=10)
    assert len(plan) == 4  # ceil(500 / 150) near-equal chunks of 125 frames
    assert [c.frame_start for c in plan] == [0, 125, 250, 375]
    for c in plan:
        first = c.frame_start - c.keep_start  # whole-file frame of the chunk's frame 0
        assert c.sample_start == first * 320
        assert cfg.num_frames(c.sample_end - c.sample_start) >= c.keep_end
        assert c.keep_end - c.keep_start == 125
    assert plan[0].keep_start == 0 and plan[1].keep_start == 10
    assert plan[1].sample_end == (125 + 125 + 10 - 1) * 320 + 400  # frames 115..259
    assert plan[-1].sample_end == n
    assert chunk_plan(n, cfg, chunk_frames=500) == [type(plan[0])(0, n, 0, 500, 0)]


def test_batched_matches_single(experiment, corpus, tmp_path):
    assert _run(experiment, corpus["wav_scp"], tmp_path / "b4", "--batch_size", "4",
                "--what", "features,codewords,probs") == 0
    assert _run(experiment, corpus["wav_scp"], tmp_path / "b1", "--batch_size", "1",
                "--what", "features,codewords,probs", "--layers", "0,3") == 0
    manifest = json.loads((tmp_path / "b4" / "extract.json").read_text())
    assert manifest["codebook_of_layer"] == {"2": 0, "3": 1}
    assert manifest["frame_rate"] == 50.0
    cfg = DinoSRConfig.from_dict(TINY_320)
    entries = read_wav_scp(corpus["wav_scp"])
    units_b4 = read_units(tmp_path / "b4/codewords/layer3.txt")
    units_b1 = read_units(tmp_path / "b1/codewords/layer3.txt")
    for uid, path in entries.items():
        frames = cfg.num_frames(len(soundfile.read(path)[0]))
        for layer in (0, 3):
            a = np.load(tmp_path / f"b4/features/layer{layer}/{uid}.npy")
            b = np.load(tmp_path / f"b1/features/layer{layer}/{uid}.npy")
            assert a.shape == b.shape == (frames, 32)
            np.testing.assert_allclose(a, b, atol=1e-4)
        probs = np.load(tmp_path / f"b4/probs/layer3/{uid}.npy")
        assert probs.shape == (frames, 8)
        np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
        np.testing.assert_allclose(probs, np.load(tmp_path / f"b1/probs/layer3/{uid}.npy"), atol=1e-4)
        assert len(units_b4[uid]) == frames and np.array_equal(units_b4[uid], units_b1[uid])
    assert sorted(p.name for p in (tmp_path / "b1/codewords").iterdir()) == ["layer3.txt"]
    assert len(list((tmp_path / "b4/features").iterdir())) == 4  # layers 0..3


def test_chunked_long_input(inference):
    t = np.arange(5 * FS + 123) / FS
    wave = (np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 1234 * t)).astype(np.float32)
    whole = CorpusExtractor(inference, [0, 3], chunk_seconds=None)([wave])[0]
    assert whole.num_frames == inference.num_frames(len(wave)) == 250
    for context in (0.0, 0.5):
        chunked = CorpusExtractor(inference, [0, 3], chunk_seconds=1.0,
                                  context_seconds=context)([wave])[0]
        assert chunked.num_frames == 250
        assert chunked.hidden_states[3].shape == (250, 32)
        assert chunked.codeword_indices.shape == (2, 250) and chunked.head_probs.shape == (2, 250, 8)
    # with context each chunk sees the same neighbourhood as the whole file: nearly equal
    # (only the per-chunk waveform standardisation differs); a misplaced frame would not be.
    assert torch.allclose(chunked.hidden_states[3], whole.hidden_states[3], atol=2e-2)
    assert (chunked.codeword_indices == whole.codeword_indices).float().mean() > 0.95


def test_units_round_trip_into_metrics(experiment, corpus, tmp_path):
    assert _run(experiment, corpus["wav_scp"], tmp_path, "--what", "codewords", "--layers", "2,3") == 0
    labels = read_phone_labels(corpus["phn"])
    for layer in (2, 3):
        units = read_units(tmp_path / f"codewords/layer{layer}.txt")
        assert set(units) == set(labels)
        assert all(u.min() >= 0 and u.max() < 8 for u in units.values())
        joint = joint_counts(units, labels, repeat=2)
        quality = quality_from_counts(joint.counts)
        assert quality.num_frames == sum(min(2 * len(units[k]), len(labels[k])) for k in units)
        assert 1 <= quality.active_codewords <= 8 and 0.0 <= quality.pnmi <= 1.0
        # frames: labels are 100 Hz, units 50 Hz; the CNN drops at most 2 label frames' worth
        assert joint.max_mismatch <= 2
    assert not (tmp_path / "features").exists()


def test_ark_format_and_pipes(experiment, corpus, tmp_path):
    entries = read_wav_scp(corpus["wav_scp"])
    pipe_scp = tmp_path / "pipe.scp"
    pipe_scp.write_text("".join(f"{uid} cat {path} |\n" for uid, path in list(entries.items())[:2]))
    assert _run(experiment, pipe_scp, tmp_path / "out", "--format", "ark", "--layers", "1",
                "--what", "features") == 0
    feats = load_features(tmp_path / "out/features/layer1/feats.scp")
    assert sorted(feats) == sorted(list(entries)[:2])
    for uid in feats:
        frames = DinoSRConfig.from_dict(TINY_320).num_frames(len(soundfile.read(entries[uid])[0]))
        assert feats[uid].shape == (frames, 32) and feats[uid].dtype == np.float32
    assert not list((tmp_path / "out/features/layer1").glob("*.npy"))


def test_wrong_rate_is_refused_or_resampled(experiment, tmp_path, caplog):
    wav = tmp_path / "u8k.wav"
    soundfile.write(wav, np.sin(np.arange(8000) / 5.0).astype(np.float32), 8000)
    with pytest.raises(ValueError, match=r"'u8k'.*8000 Hz.*16000 Hz.*--resample"):
        AudioLoader(16000)("u8k", str(wav))
    assert len(AudioLoader(16000, allow_resample=True)("u8k", str(wav))) == 16000
    scp = tmp_path / "wav.scp"
    scp.write_text(f"u8k {wav}\n")
    assert _run(experiment, scp, tmp_path / "a", "--what", "features", "--layers", "0") == 1
    assert "u8k" in caplog.text and "8000 Hz" in caplog.text
    assert _run(experiment, scp, tmp_path / "b", "--what", "features", "--layers", "0", "--resample") == 0
    assert np.load(tmp_path / "b/features/layer0/u8k.npy").shape == (49, 32)  # num_frames(16000)


def test_bad_requests(experiment, corpus, tmp_path, caplog):
    with pytest.raises(SystemExit, match="none has a codebook"):
        _run(experiment, corpus["wav_scp"], tmp_path, "--what", "codewords", "--layers", "0,1")
    with pytest.raises(SystemExit, match="unknown item"):
        _run(experiment, corpus["wav_scp"], tmp_path, "--what", "logits")
    missing = tmp_path / "missing.scp"
    missing.write_text("gone /nonexistent/gone.wav\n")
    assert _run(experiment, missing, tmp_path / "m", "--what", "features", "--layers", "0") == 1
    assert "'gone'" in caplog.text and "missing file" in caplog.text
