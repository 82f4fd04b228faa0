"""Constructed ABX cases (known answers), feature loaders, errors and the CLI."""
import json

import kaldiio
import numpy as np
import pytest

from dinosr_espnet.bin.abx import main as abx_main
from dinosr_espnet.eval.abx import ABXConfig, ItemToken, compute_abx, load_features


def _corpus(frames_of_phone, speakers=3, tokens_per_phone=3):
    """One utterance per speaker: tokens of phones p0..pK, 0.1 s each, back to back."""
    features, items = {}, []
    phones = sorted(frames_of_phone)
    for s in range(speakers):
        rows = []
        for k in range(tokens_per_phone):
            for phone in phones:
                onset = len(rows) / 50.0
                rows.extend(frames_of_phone[phone](s, k))
                items.append(ItemToken(f"u{s}", onset, onset + 0.1, phone, "a", "b", f"s{s}"))
        features[f"u{s}"] = np.array(rows)
    return features, items


@pytest.mark.parametrize("distance", ["cosine", "js"])
def test_perfect_separation_gives_zero(distance):
    basis = np.eye(3) * 0.7 + 0.1  # rows are distributions, one peak per phone
    features, items = _corpus({f"p{i}": (lambda s, k, i=i: [basis[i]] * 5) for i in range(3)})
    result = compute_abx(items, features, ABXConfig(distance=distance))
    assert result.within == 0.0 and result.across == 0.0
    assert result.num_cells == {"within": 3 * 3 * 2, "across": 3 * 3 * 2 * 2}


def test_identical_tokens_give_chance():
    same = np.array([0.3, -1.0, 2.0])
    features, items = _corpus({f"p{i}": (lambda s, k: [same] * 5) for i in range(2)})
    result = compute_abx(items, features, ABXConfig())
    assert result.within == 0.5 and result.across == 0.5


def test_half_the_speakers_separable():
    # speakers s0, s1 pronounce p0/p1 differently, s2 identically: within = (0 + 0 + 0.5) / 3
    def phone(i):
        def frames(s, k):
            return [np.eye(2)[i] if s < 2 else np.ones(2)] * 5
        return frames

    features, items = _corpus({"p0": phone(0), "p1": phone(1)})
    result = compute_abx(items, features, ABXConfig(conditions=("within",)))
    assert result.within == pytest.approx(1 / 6)
    assert result.across is None


def test_no_across_cell_with_one_speaker():
    rng = np.random.default_rng(0)
    features, items = _corpus({f"p{i}": (lambda s, k: list(rng.normal(size=(5, 4)))) for i in range(2)}, speakers=1)
    result = compute_abx(items, features, ABXConfig())
    assert result.across is None and result.num_cells["across"] == 0 and result.within is not None


def test_errors_name_the_problem():
    features = {"u0": np.zeros((10, 3))}
    items = [ItemToken("missing", 0.0, 0.1, "p", "a", "b", "s")]
    with pytest.raises(ValueError, match="no features for utterance 'missing'"):
        compute_abx(items, features)
    with pytest.raises(ValueError, match="frames must sum to 1"):
        compute_abx([ItemToken("u0", 0.0, 0.1, "p", "a", "b", "s")], features, ABXConfig(distance="kl"))
    with pytest.raises(ValueError, match="must be \\(T, D\\)"):
        compute_abx([ItemToken("u0", 0.0, 0.1, "p", "a", "b", "s")], {"u0": np.zeros(10)})
    with pytest.raises(ValueError, match="max_size_group"):
        compute_abx(items, features, ABXConfig(max_size_group=1))


def test_unreadable_feature_file_is_named(tmp_path):
    (tmp_path / "u0.npy").write_text("not an array")
    with pytest.raises(ValueError, match="u0.npy: not a readable .npy array"):
        compute_abx([ItemToken("u0", 0.0, 0.1, "p", "a", "b", "s")], load_features(tmp_path))
    with pytest.raises(FileNotFoundError, match="feature source not found"):
        load_features(tmp_path / "absent")


def _write_inputs(tmp_path):
    rng = np.random.default_rng(3)
    features, items = _corpus({f"p{i}": (lambda s, k, i=i: list(rng.normal(size=(5, 4)) + 3 * np.eye(4)[i])) for i in range(3)})
    lines = ["#file onset offset #phone prev-phone next-phone speaker"]
    lines += [f"{t.file} {t.onset:.4f} {t.offset:.4f} {t.phone} {t.prev_phone} {t.next_phone} {t.speaker}" for t in items]
    (tmp_path / "test.item").write_text("\n".join(lines) + "\n")
    return features


def test_loaders_and_cli_agree(tmp_path, capsys):
    features = _write_inputs(tmp_path)
    (tmp_path / "npy").mkdir()
    for uttid, matrix in features.items():
        np.save(tmp_path / "npy" / f"{uttid}.npy", matrix.astype(np.float32))
    kaldiio.save_ark(str(tmp_path / "feats.ark"), {k: v.astype(np.float32) for k, v in features.items()},
                     scp=str(tmp_path / "feats.scp"))
    expected = compute_abx(tmp_path / "test.item", features)
    for source in ("npy", "feats.scp", "feats.ark"):
        loaded = load_features(tmp_path / source)
        assert sorted(loaded) == sorted(features)
        result = compute_abx(tmp_path / "test.item", loaded)
        assert result.within == pytest.approx(expected.within, abs=1e-6)
    out = tmp_path / "res" / "abx.json"
    code = abx_main(["--item", str(tmp_path / "test.item"), "--features", str(tmp_path / "npy"),
                     "--device", "cpu", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert f"within-speaker error: {100 * expected.within:.3f} %" in printed
    saved = json.loads(out.read_text())
    assert saved["within"] == pytest.approx(expected.within, abs=1e-6)
    assert saved["config"]["slicing"] == "corrected" and saved["config"]["frame_rate"] == 50.0


def test_load_features_rejects_unknown_sources(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_features(tmp_path / "nothing")
    (tmp_path / "feats.txt").write_text("x")
    with pytest.raises(ValueError, match="feats.txt"):
        load_features(tmp_path / "feats.txt")
