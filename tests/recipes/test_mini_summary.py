"""The mini recipe's summary checks (egs/mini/asr1/local/summary.py) on hand-made reports."""
from __future__ import annotations

import importlib.util
from pathlib import Path

SUMMARY = Path(__file__).resolve().parents[2] / "egs/mini/asr1/local/summary.py"
spec = importlib.util.spec_from_file_location("mini_summary", SUMMARY)
summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summary)


def _report(layer_pnmi: float, mfcc64: float, layer_abx: tuple, mfcc_abx: tuple) -> dict:
    return {
        "codebook_size": 64,
        "unit_quality": {"layer2": {"pnmi": 0.30}, "layer3": {"pnmi": layer_pnmi},
                         "mfcc_k64": {"pnmi": mfcc64}, "mfcc_k100": {"pnmi": 0.99}},
        "abx": {"layer0/cosine": {"within": 0.30, "across": 0.40},
                "layer3/cosine": {"within": layer_abx[0], "across": layer_abx[1]},
                "layer3/js": {"within": 0.0, "across": 0.0},  # not a cosine row: ignored
                "mfcc/cosine": {"within": mfcc_abx[0], "across": mfcc_abx[1]}},
    }


def test_units_checks_compare_the_best_codebook_with_mfcc_of_the_same_k():
    checks = summary.units_checks(_report(0.52, 0.51, (0.002, 0.07), (0.03, 0.23)))
    assert checks == [
        "- DinoSR codebook PNMI above MFCC k-means with k = V = 64 (0.520 vs 0.510): yes",
        "- DinoSR ABX within speaker below MFCC (0.2% vs 3.0%): yes",
        "- DinoSR ABX across speaker below MFCC (7.0% vs 23.0%): yes",
    ]


def test_units_checks_say_no_when_mfcc_wins():
    checks = summary.units_checks(_report(0.40, 0.51, (0.05, 0.30), (0.03, 0.23)))
    assert [c.rsplit(": ", 1)[1] for c in checks] == ["NO", "NO", "NO"]
    assert "(0.400 vs 0.510)" in checks[0] and "(5.0% vs 3.0%)" in checks[1]
