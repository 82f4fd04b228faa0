"""Unit quality against hand-computed values."""
import json
import math

import numpy as np
import pytest

from dinosr_espnet.bin.unit_quality import main as unit_quality_main
from dinosr_espnet.eval.units import (
    joint_counts, quality_from_counts, read_phone_labels, read_units, write_units,
)

# Labels (100 Hz) a a a a b b b b c c; units (50 Hz) 0 0 0 1 1 [1] repeated twice:
# 0 0 0 0 0 0 1 1 1 1 [1 1] -> 2 unit frames too many, truncated. Joint counts (rows a, b, c;
# columns units 0, 1): [[4, 0], [2, 2], [0, 2]], N = 10, so
#   p(y) = (.4, .4, .2), p(z) = (.6, .4)
#   phone purity   = max(.4, .2, 0) + max(0, .2, .2)       = .6
#   cluster purity = max(.4, 0) + max(.2, .2) + max(0, .2) = .8
#   H(y) = -(2 * .4 ln .4 + .2 ln .2)                      = 1.0549202
#   H(y|z) = .6 H(2/3, 1/3) + .4 H(1/2, 1/2) = .6 * .6365142 + .4 * .6931472 = .6591674
#   I = H(y) - H(y|z) = .3957528; PNMI = I / H(y)          = .3751495
#   perplexity = exp(-(.6 ln .6 + .4 ln .4)) = exp(.6730117) = 1.9601317
LABELS = "utt1\ta,a,a,a,b,b,b,b,c,c\n"
UNITS = "utt1\t0 0 0 1 1 1\n"


def _files(tmp_path, extra_labels="", extra_units=""):
    (tmp_path / "phones.txt").write_text(LABELS + extra_labels)
    (tmp_path / "units.txt").write_text(UNITS + extra_units)
    return tmp_path / "units.txt", tmp_path / "phones.txt"


def test_hand_computed_joint_table(tmp_path):
    units, phones = _files(tmp_path)
    joint = joint_counts(read_units(units), read_phone_labels(phones), repeat=2)
    assert joint.phones == ["a", "b", "c"] and joint.units == [0, 1]
    assert joint.counts.tolist() == [[4, 0], [2, 2], [0, 2]]
    assert joint.mismatch_frames == 2 and joint.max_mismatch == 2
    quality = quality_from_counts(joint.counts)
    assert quality.phone_purity == pytest.approx(0.6)
    assert quality.cluster_purity == pytest.approx(0.8)
    assert quality.phone_entropy == pytest.approx(1.0549202, abs=1e-7)
    assert quality.mutual_information == pytest.approx(0.3957528, abs=1e-7)
    assert quality.pnmi == pytest.approx(0.3751495, abs=1e-7)
    assert quality.perplexity == pytest.approx(1.9601317, abs=1e-7)
    assert quality.active_codewords == 2 and quality.num_frames == 10


def test_extremes():
    # units that copy the phones: PNMI 1, both purities 1; a single unit: PNMI 0
    perfect = quality_from_counts(np.diag([3, 5, 2]))
    assert perfect.pnmi == pytest.approx(1.0) and perfect.phone_purity == pytest.approx(1.0)
    assert perfect.cluster_purity == pytest.approx(1.0)
    collapsed = quality_from_counts(np.array([[3], [5], [2]]))
    assert collapsed.pnmi == pytest.approx(0.0) and collapsed.perplexity == pytest.approx(1.0)
    # uniform usage of 4 codes -> perplexity 4; unused columns are not active
    spread = quality_from_counts(np.array([[1, 1, 0, 0, 0], [0, 0, 1, 1, 0]]))
    assert spread.perplexity == pytest.approx(4.0) and spread.active_codewords == 4


def test_skips_are_counted(tmp_path):
    units, phones = _files(tmp_path, extra_labels="utt2\ta,a\nutt4\tb,b\n",
                           extra_units="utt3\t1 1\nutt4\t0 0 0 0 0 0\n")
    joint = joint_counts(read_units(units), read_phone_labels(phones), repeat=2, max_mismatch=4)
    assert joint.skipped == {"no_labels": 1, "no_units": 1, "too_long_mismatch": 1}
    assert joint.num_utterances == 1 and joint.counts.sum() == 10


def test_formats(tmp_path):
    write_units(tmp_path / "out" / "u.txt", {"b": [3, 4], "a": np.array([1])})
    assert (tmp_path / "out" / "u.txt").read_text() == "a\t1\nb\t3 4\n"
    (tmp_path / "npy").mkdir()
    np.save(tmp_path / "npy" / "a.npy", np.array([1, 2], dtype=np.int32))
    assert read_units(tmp_path / "npy")["a"].tolist() == [1, 2]
    (tmp_path / "stress.txt").write_text("u\tAH0 AH1,B\n")
    assert read_phone_labels(tmp_path / "stress.txt", strip_stress=True)["u"] == ["AH", "AH", "B"]
    (tmp_path / "npy" / "b.npy").write_text("not an array")
    with pytest.raises(ValueError, match="b.npy: not a readable .npy array"):
        read_units(tmp_path / "npy")
    (tmp_path / "bad.txt").write_text("u\t1 x 3\n")
    with pytest.raises(ValueError, match="bad.txt:1"):
        read_units(tmp_path / "bad.txt")


def test_cli(tmp_path, capsys):
    units, phones = _files(tmp_path)
    out, joint = tmp_path / "r" / "report.json", tmp_path / "r" / "joint.npz"
    assert unit_quality_main(["--units", str(units), "--phones", str(phones), "--codebook-size", "4",
                              "--repeat", "2",
                              "--out", str(out), "--joint", str(joint)]) == 0
    assert "active codewords 2/4" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["pnmi"] == pytest.approx(0.3751495, abs=1e-7) and report["mismatch_frames"] == 2
    assert np.load(joint)["counts"].tolist() == [[4, 0], [2, 2], [0, 2]]
    assert math.isclose(report["phone_purity"], 0.6)


def _rates(unit_rate, label_rate, seconds=(3.0, 4.0, 5.0)):
    """Units and labels of a few utterances at the given frame rates (same phones)."""
    rng = np.random.default_rng(0)
    units, labels = {}, {}
    for n, duration in enumerate(seconds):
        phones = rng.integers(0, 5, size=int(duration * 10)).repeat(10)  # 100 ms phones at 100 Hz
        labels[f"u{n}"] = [f"p{p}" for p in phones[:int(duration * label_rate)]]
        step = 100 // unit_rate
        units[f"u{n}"] = phones[::step][:int(duration * unit_rate) - 1]  # conv frontends lose a frame
    return units, labels


def test_frame_rate_mismatch_is_refused_or_inferred():
    units, labels = _rates(50, 100)
    with pytest.raises(ValueError, match=r"with --repeat 1, 50% .* 2\.0\dx as long .* use --repeat 2"):
        joint_counts(units, labels, repeat=1)
    inferred = joint_counts(units, labels)
    assert inferred.repeat == 2 and inferred.max_mismatch == 2
    assert quality_from_counts(inferred.counts).pnmi == pytest.approx(1.0)
    same_rate = joint_counts(*_rates(100, 100))
    assert same_rate.repeat == 1 and quality_from_counts(same_rate.counts).pnmi == pytest.approx(1.0)
    assert joint_counts(*_rates(25, 100)).repeat == 4
    # 40 Hz units against 100 Hz labels: no integer factor
    units = {uid: values[: int(len(labels[uid]) / 2.5)] for uid, values in units.items()}
    with pytest.raises(ValueError, match="cannot infer --repeat: .* 2.50x"):
        joint_counts(units, labels)


def test_errors_say_why_nothing_is_left(tmp_path):
    units, labels = _rates(50, 100)
    with pytest.raises(ValueError, match=r"3 differ in length by more than --max-mismatch 0 label frames "
                                         r"\(smallest difference 2"):
        joint_counts(units, labels, repeat=2, max_mismatch=0)
    with pytest.raises(ValueError, match="no utterance id is in both inputs .*'u0'.*'x'"):
        joint_counts(units, {"x": ["a"]}, repeat=2)
    with pytest.raises(ValueError, match="1 have units but no phone labels; 1 have no unit"):
        joint_counts({"a": np.array([], dtype=int), "b": np.array([1])}, {"a": ["x"]}, repeat=1)


def test_cli_reports_inferred_repeat_and_refuses_wrong_one(tmp_path, capsys, caplog):
    units, labels = _rates(50, 100)
    write_units(tmp_path / "units.txt", units)
    (tmp_path / "phones.txt").write_text("".join(f"{u}\t{','.join(p)}\n" for u, p in labels.items()))
    common = ["--units", str(tmp_path / "units.txt"), "--phones", str(tmp_path / "phones.txt")]
    assert unit_quality_main(common + ["--out", str(tmp_path / "r.json")]) == 0
    assert "repeat 2" in capsys.readouterr().out
    assert json.loads((tmp_path / "r.json").read_text())["repeat"] == 2
    assert unit_quality_main(common + ["--repeat", "1"]) == 1
    assert "use --repeat 2" in caplog.text
