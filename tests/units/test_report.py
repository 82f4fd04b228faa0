"""The units report end to end on a tiny random model and a tone corpus."""
from __future__ import annotations

import json

import pytest

from dinosr_espnet.bin.units_report import main as report_main
from dinosr_espnet.eval.units import joint_counts, quality_from_counts, read_phone_labels, read_units

TRAIN_LOG = """\
[host] 2026-01-01 00:00:00,000 (trainer:1) INFO: 1epoch:train:1-2batch: iter_time=0.1, loss=5.0, acc_0=0.1, ppl_cb0=3.0
[host] 2026-01-01 00:00:01,000 (trainer:1) INFO: 1epoch:train:3-4batch: iter_time=0.1, loss=4.0, acc_0=0.2, ppl_cb0=4.0
[host] 2026-01-01 00:00:02,000 (trainer:1) INFO: 1epoch results: [train] loss=4.5, acc_0=0.15 [valid] loss=4.2, acc_0=0.2
"""


@pytest.fixture(scope="module")
def report(experiment, corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    log = out / "train.log"
    log.write_text(TRAIN_LOG)
    args = ["--model_file", str(experiment), "--wav_scp", str(corpus["wav_scp"]),
            "--phones", str(corpus["phn"]), "--item", str(corpus["item"]), "--out_dir", str(out / "units"),
            "--mfcc_k", "4,8", "--mfcc_n_init", "2", "--embedding", "pca", "--train_log", str(log),
            "--batch_size", "3"]
    assert report_main(args) == 0
    return out / "units"


def test_report_sections_and_figures(report):
    text = (report / "report.md").read_text()
    for section in ("# DinoSR units report", "## Setup", "## Unit quality", "## ABX", "## Figures"):
        assert section in text
    for row in ("| layer 2 codebook | ", "| layer 3 codebook | ", "| MFCC k-means k=4 | ",
                "| MFCC k-means k=8 | ", "| layer 0 | cosine |", "| layer 3 | cosine |",
                "| layer 2 head probs | js |", "| layer 3 head probs | js |", "| MFCC (39-dim) | cosine |"):
        assert row in text
    assert "| layer 1 head probs" not in text  # layer 1 has no codebook
    results = json.loads((report / "report.json").read_text())
    expected = {f"{kind}_layer{i}.png" for kind in ("phone_given_code", "histograms", "codebook_pca")
                for i in (2, 3)} | {"layerwise.png", "training_curves.png"}
    assert set(results["figures"]) == expected
    for name in expected:
        assert (report / name).stat().st_size > 1000
        assert f"]({name})" in text
    assert not (report / "work").exists()


def test_report_numbers(report, corpus):
    results = json.loads((report / "report.json").read_text())
    assert set(results["unit_quality"]) == {"layer2", "layer3", "mfcc_k4", "mfcc_k8"}
    assert set(results["abx"]) == ({f"layer{i}/cosine" for i in range(4)}
                                   | {"layer2/js", "layer3/js", "mfcc/cosine"})
    assert results["codebook_of_layer"] == {"2": 0, "3": 1} and results["frame_rate"] == 50.0
    labels = read_phone_labels(corpus["phn"])
    for i in (2, 3):  # the table is the metrics helper's measure of the written units
        units = read_units(report / "codewords" / f"layer{i}.txt")
        direct = quality_from_counts(joint_counts(units, labels, repeat=2).counts)
        assert results["unit_quality"][f"layer{i}"]["pnmi"] == pytest.approx(direct.pnmi)
        assert results["unit_quality"][f"layer{i}"]["codebook_size"] == 8
    # tones per phone: MFCC clusters must follow the phones if labels and frames line up
    assert results["unit_quality"]["mfcc_k8"]["pnmi"] > 0.5
    assert results["unit_quality"]["mfcc_k4"]["active_codewords"] == 4
    for name, abx in results["abx"].items():
        assert abx["num_tokens"] == 64 and abx["num_skipped_tokens"] == 0
        assert 0.0 <= abx["within"] <= 1.0 and 0.0 <= abx["across"] <= 1.0
        assert abx["config"]["distance"] == ("js" if name.endswith("js") else "cosine")
        assert abx["config"]["frame_rate"] == 50.0


def test_report_rejects_unrelated_items(experiment, corpus, tmp_path, caplog):
    item = tmp_path / "other.item"
    item.write_text("#file onset offset #phone prev-phone next-phone speaker\nnobody 0.1 0.3 a b c s\n")
    args = ["--model_file", str(experiment), "--wav_scp", str(corpus["wav_scp"]), "--phones",
            str(corpus["phn"]), "--item", str(item), "--out_dir", str(tmp_path / "o"), "--mfcc_k", ""]
    assert report_main(args) == 1
    assert "no token names an utterance" in caplog.text


def test_mfcc_baseline_can_be_fitted_on_another_set(experiment, corpus, report, tmp_path):
    """--mfcc_fit_wav_scp: k-means fitted on other audio (here white noise, which has nothing
    of the phone tones) is applied to the analysed set and follows the phones less well than the
    analysed set's own fit (the module fixture); fitted on the analysed set's own wav.scp, it
    reproduces the default exactly."""
    import numpy as np
    import soundfile as sf

    noise = tmp_path / "noise.wav"
    sf.write(noise, np.random.default_rng(0).normal(0, 0.1, 32000).astype(np.float32), 16000)
    fit_scp = tmp_path / "fit.scp"
    fit_scp.write_text(f"noise1 {noise}\n")
    out = tmp_path / "units"
    args = ["--model_file", str(experiment), "--wav_scp", str(corpus["wav_scp"]),
            "--phones", str(corpus["phn"]), "--item", str(corpus["item"]), "--out_dir", str(out),
            "--mfcc_k", "8", "--mfcc_n_init", "2", "--embedding", "pca", "--batch_size", "3",
            "--mfcc_fit_wav_scp", str(fit_scp)]
    assert report_main(args) == 0
    fitted_elsewhere = json.loads((out / "report.json").read_text())
    own = json.loads((report / "report.json").read_text())
    assert fitted_elsewhere["mfcc_fit"].startswith("1 utterances of another set")
    assert own["mfcc_fit"] == "the analysed utterances"
    assert "MFCC k-means fitted on 1 utterances of another set" in (out / "report.md").read_text()
    assert own["unit_quality"]["mfcc_k8"]["pnmi"] > 0.5
    assert fitted_elsewhere["unit_quality"]["mfcc_k8"]["pnmi"] < own["unit_quality"]["mfcc_k8"]["pnmi"] - 0.1
    args[args.index(str(fit_scp))] = str(corpus["wav_scp"])
    args[args.index(str(out))] = str(tmp_path / "same")
    args[args.index("--mfcc_k") + 1] = "4,8"
    assert report_main(args) == 0
    same = json.loads((tmp_path / "same" / "report.json").read_text())
    for k in ("mfcc_k4", "mfcc_k8"):
        assert same["unit_quality"][k] == own["unit_quality"][k]
