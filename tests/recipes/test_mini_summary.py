"""The mini recipe's summary checks (egs/mini/asr1/local/summary.py) on hand-made reports."""
from __future__ import annotations

import importlib.util
from pathlib import Path

SUMMARY = Path(__file__).resolve().parents[2] / "egs/mini/asr1/local/summary.py"
spec = importlib.util.spec_from_file_location("mini_summary", SUMMARY)
summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summary)


def _report(layer_pnmi: float, mfcc64: float, layer_abx: tuple, mfcc_abx: tuple, active: int = 60) -> dict:
    return {
        "codebook_size": 64,
        "unit_quality": {"layer2": {"pnmi": 0.30, "active_codewords": 64},
                         "layer3": {"pnmi": layer_pnmi, "active_codewords": active},
                         "mfcc_k64": {"pnmi": mfcc64}, "mfcc_k100": {"pnmi": 0.29}},
        "abx": {"layer0/cosine": {"within": 0.001, "across": 0.001},  # not the best layer: ignored
                "layer3/cosine": {"within": layer_abx[0], "across": layer_abx[1]},
                "layer3/js": {"within": 0.0, "across": 0.0},  # not a cosine row: ignored
                "mfcc/cosine": {"within": mfcc_abx[0], "across": mfcc_abx[1]}},
    }


def test_units_checks_use_the_best_codebook_layer_and_the_paper_bars():
    kmeans = {"layer": 3, "pnmi": {"64": 0.61, "100": 0.64}}
    checks = summary.units_checks(_report(0.45, 0.30, (0.05, 0.12), (0.09, 0.30)), kmeans)
    assert checks == [
        "- DinoSR codebook PNMI (layer 3) >= 1.5 x MFCC k-means with k = V = 64 (0.450 vs 0.300, "
        "ratio 1.50; paper 0.57 vs 0.28): yes",
        "- DinoSR ABX within speaker (layer 3) below MFCC (5.0% vs 9.0%): yes",
        "- DinoSR ABX across speaker (layer 3) below MFCC (12.0% vs 30.0%): yes",
        "- codewords active (layer 3) >= 80% (60 of 64): yes",
        "- k-means on layer 3 features, k = 64: PNMI 0.610 (MFCC k-means 0.300; paper: DinoSR L5 "
        "k-means 0.62, MFCC 0.28)",
        "- k-means on layer 3 features, k = 100: PNMI 0.640 (MFCC k-means 0.290; paper: DinoSR L5 "
        "k-means 0.62, MFCC 0.28)",
    ]


def test_units_checks_say_no_below_the_bars():
    checks = summary.units_checks(_report(0.44, 0.30, (0.09, 0.30), (0.09, 0.23), active=51))
    assert [c.rsplit(": ", 1)[1] for c in checks] == ["NO", "NO", "NO", "NO"]
    assert "(0.440 vs 0.300, ratio 1.47" in checks[0] and "(9.0% vs 9.0%)" in checks[1]


def test_corpus_checks_need_real_speech_difficulty_and_a_harder_dev_other():
    clean = {"abx_within": 8.9, "abx_across": 36.1, "pnmi": 0.341, "k": 100}
    other = {"abx_within": 26.8, "abx_across": 39.9, "pnmi": 0.298, "k": 100}
    lines = summary.corpus_checks({"dev_clean": clean, "dev_other": other})
    assert [line.rsplit(": ", 1)[1] for line in lines] == ["yes", "yes"]
    assert "within 8.9% (real ≈ 11%)" in lines[0] and "PNMI k = 100 0.341 (real ≈ 0.26)" in lines[0]
    easy = {**clean, "abx_within": 2.9}
    easier_other = {**other, "abx_across": 30.0}
    lines = summary.corpus_checks({"dev_clean": easy, "dev_other": easier_other})
    assert [line.rsplit(": ", 1)[1] for line in lines] == ["NO", "NO"]
    assert summary.corpus_checks({"dev_clean": {**clean, "abx_across": None}})[0].startswith(
        "- dev_clean difficulty not measurable")


def _decoded(root, exp: str, hyps: dict) -> None:
    for (set_name, mode), text in hyps.items():
        d = root / exp / "decode_m" / set_name / ("viterbi" if mode == "viterbi" else "lm_4gram")
        d.mkdir(parents=True, exist_ok=True)
        (d / "text").write_text(f"u1 {text}\n")


def test_wer_checks_ask_for_dinosr_at_most_0_7_times_random_with_the_4gram(tmp_path):
    import argparse

    for set_name in ("dev", "test"):
        ref = tmp_path / "dump/raw" / set_name
        ref.mkdir(parents=True)
        (ref / "text").write_text("u1 a b c d e f g h i j\n")
    # DinoSR 4-gram: 2 errors on dev (20 %), 3 on test (30 %); random: 3 and 4 errors.
    _decoded(tmp_path, "dinosr", {("dev", "viterbi"): "x x x x x f g h i j", ("dev", "lm"): "x x c d e f g h i j",
                                  ("test", "viterbi"): "x x x x x f g h i j", ("test", "lm"): "x x x d e f g h i j"})
    _decoded(tmp_path, "random", {("dev", "viterbi"): "x x x x x x g h i j", ("dev", "lm"): "x x x d e f g h i j",
                                  ("test", "viterbi"): "x x x x x x g h i j", ("test", "lm"): "x x x x e f g h i j"})
    args = argparse.Namespace(dinosr=tmp_path / "dinosr", random=tmp_path / "random", dumpdir=tmp_path / "dump")
    _, checks = summary.wer_section(args, ["dev", "test"])
    ratio = [c for c in checks if "0.7 x random" in c]
    assert ratio == ["- DinoSR init 4-gram WER <= 0.7 x random init, every set (ratios: dev 0.67, test 0.75): NO"]
