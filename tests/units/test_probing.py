"""SUPERB-style probing: featuriser, CTC head, PER, the s3prl-like upstream and the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dinosr_espnet.bin.probe import main as probe_main
from dinosr_espnet.eval.extract_io import AudioLoader, read_wav_scp
from dinosr_espnet.eval.probing import (
    LinearCTCProbe, PhoneVocab, ProbeConfig, TensorFeatures, UpstreamFeatures, WeightedSumFeaturizer,
    collapse_labels, greedy_decode, phone_error_rate, train_probe,
)
from dinosr_espnet.eval.upstream import DinoSRUpstream
from dinosr_espnet.model.config import DinoSRConfig
from units_fixtures import TINY_320


def test_featurizer_starts_uniform():
    torch.manual_seed(0)
    feat = WeightedSumFeaturizer(4)
    assert torch.equal(feat.weights.detach(), torch.zeros(4))
    assert torch.allclose(feat.layer_weights(), torch.full((4,), 0.25))
    states = torch.randn(4, 2, 5, 3)
    assert torch.allclose(feat(states), states.mean(0), atol=1e-6)
    assert torch.allclose(feat(list(states)), states.mean(0), atol=1e-6)
    normed = WeightedSumFeaturizer(4, layer_norm=True)(states)
    expected = torch.nn.functional.layer_norm(states, (3,)).mean(0)
    assert torch.allclose(normed, expected, atol=1e-6)
    with torch.no_grad():
        feat.weights.copy_(torch.tensor([0.0, 0.0, 50.0, 0.0]))  # softmax ~ one-hot on state 2
    assert torch.allclose(feat(states), states[2], atol=1e-4)
    with pytest.raises(ValueError, match="expected 4 hidden states, got 3"):
        feat(states[:3])


def test_labels_decoding_and_per():
    frames = "sil sil a a b b b sil b c c sil".split()
    assert collapse_labels(frames) == ["a", "b", "b", "c"]
    assert collapse_labels(frames, drop=()) == ["sil", "a", "b", "sil", "b", "c", "sil"]
    vocab = PhoneVocab([["b", "a"], ["c"]])
    assert vocab.phones == ["a", "b", "c"] and len(vocab) == 4
    assert vocab.encode(["c", "a"]) == [3, 1] and vocab.decode([0, 3, 1]) == ["c", "a"]
    with pytest.raises(ValueError, match="'u1'.*'z'"):
        vocab.encode(["z"], "u1")
    # path 1 1 0 1 2 2 0 | padding -> [1, 1, 2]; path 3 3 3 -> [3]
    paths = torch.tensor([[1, 1, 0, 1, 2, 2, 0, 3], [3, 3, 3, 0, 0, 0, 0, 0]])
    log_probs = torch.nn.functional.one_hot(paths, 4).float().log()
    assert greedy_decode(log_probs, torch.tensor([7, 3])) == [[1, 1, 2], [3]]
    # refs a b c | d e ; hyps a x c | (nothing): 1 substitution + 2 deletions over 5
    per = phone_error_rate([["a", "b", "c"], ["d", "e"]], [["a", "x", "c"], []])
    assert per["per"] == pytest.approx(0.6)
    assert (per["substitutions"], per["deletions"], per["insertions"], per["num_ref"]) == (1, 2, 0, 5)


def _separable_task(rng, emb, num_utts, num_states=3, informative=1):
    """Phones (rows of ``emb``) are linearly separable in one hidden state; the others are noise."""
    phones = ["a", "b", "c", "d"]
    dim = emb.shape[1]
    states, refs = {}, {}
    for u in range(num_utts):
        seq = [phones[i] for i in rng.integers(0, 4, 6)]
        seq = [p for i, p in enumerate(seq) if i == 0 or p != seq[i - 1]]
        frames = torch.tensor([phones.index(p) for p in seq for _ in range(int(rng.integers(3, 6)))])
        x = torch.randn(num_states, len(frames), dim)
        x[informative] += emb[frames]
        states[f"u{u}"], refs[f"u{u}"] = x, seq
    return states, refs


def test_head_trains_on_separable_task():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    emb = torch.tensor(rng.standard_normal((4, 8)) * 3, dtype=torch.float32)
    train, train_refs = _separable_task(rng, emb, 40)
    dev, dev_refs = _separable_task(rng, emb, 10)
    vocab = PhoneVocab(list(train_refs.values()))
    probe = LinearCTCProbe(3, 8, len(vocab))
    result = train_probe(probe, TensorFeatures(train), {u: vocab.encode(s) for u, s in train_refs.items()},
                         TensorFeatures(dev), dev_refs, vocab,
                         ProbeConfig(lr=5e-2, batch_size=8, max_steps=150, eval_steps=50))
    first = np.mean([loss for _, loss in result.losses[:5]])
    last = np.mean([loss for _, loss in result.losses[-5:]])
    assert last < 0.3 * first
    assert result.dev["per"] < 0.15 and result.dev["per"] == min(p for _, p in result.dev_history)
    weights = result.layer_weights
    assert sum(weights) == pytest.approx(1.0) and int(np.argmax(weights)) == 1


def test_upstream_interface(experiment):
    torch.set_num_threads(1)
    upstream = DinoSRUpstream.from_pretrained(experiment)
    cfg = DinoSRConfig.from_dict(TINY_320)
    wavs = [torch.randn(16000), torch.randn(9000)]
    out = upstream(wavs)
    assert out["downsample_rate"] == 320 == upstream.get_downsample_rates("hidden_states")
    assert len(out["hidden_states"]) == 4  # K + 1
    assert out["frame_lengths"].tolist() == [cfg.num_frames(16000), cfg.num_frames(9000)] == [49, 27]
    for h in out["hidden_states"]:
        assert h.shape == (2, 49, 32)
        assert torch.count_nonzero(h[1, 27:]) == 0
    alone = upstream([wavs[1]])["hidden_states"][3][0]
    assert torch.allclose(alone, out["hidden_states"][3][1, :27], atol=1e-4)
    assert not any(p.requires_grad for p in upstream.parameters())


def test_probe_cli(experiment, corpus, tmp_path):
    out = tmp_path / "probe"
    args = ["--model_file", str(experiment), "--train_wav_scp", str(corpus["wav_scp"]),
            "--train_phones", str(corpus["phn"]), "--dev_wav_scp", str(corpus["wav_scp"]),
            "--dev_phones", str(corpus["phn"]), "--out", str(out), "--max_steps", "6",
            "--eval_steps", "3", "--batch_size", "4", "--cache_features"]
    assert probe_main(args) == 0
    report = json.loads((out / "probe.json").read_text())
    assert report["phones"] == ["a", "b", "c", "d"]  # sil dropped
    assert report["dev"]["num_utterances"] == 8 and report["dev"]["per"] >= 0
    assert len(report["layer_weights"]) == 4 and len(report["train_loss"]) == 6
    assert [s for s, _ in report["dev_history"]] == [3, 6]
    saved = torch.load(out / "probe.pth", weights_only=True)
    assert saved["state_dict"]["head.weight"].shape == (5, 32)
    bad = tmp_path / "bad.phn"
    bad.write_text("nobody\ta,a\n")
    assert probe_main(args[:4] + ["--train_phones", str(bad)] + args[6:]) == 1



def test_upstream_features_cache_matches_direct(experiment, corpus):
    upstream = DinoSRUpstream.from_pretrained(experiment)
    entries = read_wav_scp(corpus["wav_scp"])
    load = AudioLoader(16000)
    uids = list(entries)[:3]
    direct = UpstreamFeatures(upstream, lambda u: load(u, entries[u]))
    cached = UpstreamFeatures(upstream, lambda u: load(u, entries[u]), cache=True)
    cached.batch(uids[1:])  # fills the cache for two of them, in another batch composition
    states_a, lengths_a = direct.batch(uids)
    states_b, lengths_b = cached.batch(uids)
    assert torch.equal(lengths_a, lengths_b)
    assert states_a.shape == states_b.shape == (4, 3, int(lengths_a.max()), 32)
    assert torch.allclose(states_a, states_b, atol=1e-2)  # float16 cache
    assert sorted(cached.cache) == sorted(uids)
