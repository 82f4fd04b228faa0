"""Pictures are written as PNG; phone classes and the heat-map ordering are right."""
import json

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from dinosr_espnet.eval.plots import (
    main, order_codes, order_phones, parse_espnet_log, phone_class, plot_codebook_embedding,
    plot_histograms, plot_layerwise, plot_phone_given_code, plot_training_curves,
)

PNG = b"\x89PNG\r\n\x1a\n"

TRAIN_LOG = """\
[host] 2025-01-01 10:00:00,000 (trainer:300) INFO: 1epoch:train:1-2batch: iter_time=1.0e-03, forward_time=0.1, loss=6.000, acc=0.1, optim0_lr0=1.000e-05, train_time=0.5
[host] 2025-01-01 10:00:01,000 (trainer:300) INFO: 1epoch:train:3-4batch: iter_time=1.0e-03, loss=5.000, train_time=0.5
[host] 2025-01-01 10:00:02,000 (trainer:338) INFO: 1epoch results: [train] iter_time=0.001, loss=5.500, time=1 minute and 2.5 seconds, total_count=4, gpu_max_cached_mem_GB=0.0, [valid] loss=5.250, acc=0.2, time=3 seconds, total_count=2, gpu_max_cached_mem_GB=0.0
[host] 2025-01-01 10:00:03,000 (trainer:300) INFO: 2epoch:train:1-4batch: iter_time=1.0e-03, loss=4.000, train_time=0.5
[host] 2025-01-01 10:00:04,000 (trainer:338) INFO: 2epoch results: [train] loss=4.000, time=2 seconds, total_count=4, [valid] loss=4.500, time=1 second
"""


def _is_png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data.startswith(PNG)


def test_phone_classes():
    cases = {
        "AH0": "vowel", "iy": "vowel", "NG": "nasal", "DX": "stop", "JH": "affricate", "DH": "fricative",
        "W": "approximant", "SIL": "silence", "sp": "silence",
        "ə": "vowel", "aɪ": "vowel", "ˈɑː": "vowel", "ŋ": "nasal", "ɡ": "stop", "tʃ": "affricate",
        "θ": "fricative", "ɹ": "approximant", "ã": "vowel", "ʔ": "stop", "xx": "other", "<unk>": "other",
    }
    assert {symbol: phone_class(symbol) for symbol in cases} == cases


def test_ordering_small_case():
    phones = ["s", "aa", "m", "iy", "SIL"]  # fricative, vowel, nasal, vowel, silence
    assert order_phones(phones) == [1, 3, 2, 0, 4]  # aa iy | m | s | SIL
    counts = np.array([
        # codes: 0    1   2   3   4
        [0, 5, 0, 0, 0],   # s
        [9, 0, 0, 0, 1],   # aa
        [1, 0, 0, 4, 0],   # m
        [0, 5, 0, 0, 3],   # iy
        [0, 0, 0, 0, 0],   # SIL
    ])
    # most likely phone: code0 aa (.9), code1 s/iy tie -> first row s (argmax), code3 m (1.0),
    # code4 iy (.75); code2 unused and dropped. Order by phone position aa < iy < m < s.
    assert order_codes(counts, order_phones(phones)) == [0, 4, 3, 1]


def test_heatmap_histograms_embedding(tmp_path):
    rng = np.random.default_rng(0)
    phones = ["aa", "iy", "m", "s", "t", "SIL", "ʔ", "??"]
    counts = rng.integers(0, 20, size=(len(phones), 16))
    counts[:, 3] = 0
    assert _is_png(plot_phone_given_code(counts, phones, tmp_path / "a" / "heat.png"))
    assert _is_png(plot_histograms(counts, phones, tmp_path / "hist.png"))
    codewords = rng.normal(size=(20, 8))
    units = list(range(2, 18))
    with threadpool_limits(1):  # OpenMP t-SNE crawls on a small shared machine otherwise
        for method in ("pca", "tsne"):
            assert _is_png(plot_codebook_embedding(codewords, counts, phones, units, tmp_path / f"{method}.png",
                                                   method))
    with pytest.raises(ValueError, match="outside the codebook"):
        plot_codebook_embedding(codewords[:5], counts, phones, units, tmp_path / "x.png", "pca")


def test_layerwise(tmp_path):
    metrics = {layer: {"pnmi": 0.1 * layer, "perplexity": 100 + layer} for layer in range(1, 6)}
    assert _is_png(plot_layerwise(metrics, tmp_path / "layers.png"))


def test_espnet_log_parsing_and_curves(tmp_path):
    (tmp_path / "train.log").write_text(TRAIN_LOG)
    log = parse_espnet_log(tmp_path / "train.log")
    assert [(b["epoch"], b["batch"], b["values"]["loss"]) for b in log["batches"]] == [(1, 2, 6.0), (1, 4, 5.0), (2, 4, 4.0)]
    assert log["batches"][0]["values"]["optim0_lr0"] == 1e-5
    first = log["epochs"][0]
    assert first["train"]["loss"] == 5.5 and first["valid"] == {"loss": 5.25, "acc": 0.2, "total_count": 2.0,
                                                                 "gpu_max_cached_mem_GB": 0.0}
    assert "time" not in first["train"]
    assert log["epochs"][1]["valid"] == {"loss": 4.5}
    assert _is_png(plot_training_curves(log, tmp_path / "curves.png", keys=("loss", "acc")))
    (tmp_path / "empty.log").write_text("nothing here\n")
    with pytest.raises(ValueError, match="empty.log"):
        parse_espnet_log(tmp_path / "empty.log")


def test_cli(tmp_path):
    np.savez(tmp_path / "joint.npz", counts=np.array([[4, 0], [2, 2], [0, 2]]), phones=np.array(["aa", "m", "s"]),
             units=np.array([0, 3]))
    np.save(tmp_path / "codebook.npy", np.random.default_rng(0).normal(size=(4, 3)))
    (tmp_path / "l1.json").write_text(json.dumps({"pnmi": 0.2, "perplexity": 50.0}))
    (tmp_path / "l2.json").write_text(json.dumps({"pnmi": 0.4, "perplexity": 80.0, "within": 0.1}))
    (tmp_path / "train.log").write_text(TRAIN_LOG)
    out = tmp_path / "png"
    assert main(["--out-dir", str(out), "--joint", str(tmp_path / "joint.npz"), "--codebook",
                 str(tmp_path / "codebook.npy"), "--embedding", "pca", "--layer-reports",
                 f"1={tmp_path / 'l1.json'}", f"2={tmp_path / 'l2.json'}", "--train-log", str(tmp_path / "train.log")]) == 0
    for name in ("phone_given_code", "histograms", "codebook_pca", "layerwise", "training_curves"):
        assert _is_png(out / f"{name}.png")


@pytest.fixture
def figures(monkeypatch):
    """The Figure of every picture written during the test, drawn (for text extents)."""
    from dinosr_espnet.eval import plots

    saved = []
    original = plots._save

    def keep(fig, path):
        written = original(fig, path)
        saved.append(fig)
        return written

    monkeypatch.setattr(plots, "_save", keep)
    return saved


def _renderer(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # the constrained layout and the text positions as saved
    return canvas.get_renderer()


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _labelled(ax) -> bool:
    return bool(ax.get_xlabel()) and bool(ax.get_ylabel()) and bool(ax.get_title())


def test_phone_given_code_labels_not_covered_by_colour_bar(tmp_path, figures):
    phones = ["aa", "iy", "m", "s", "t", "approximant_like", "l", "SIL"]
    counts = np.random.default_rng(1).integers(0, 20, size=(len(phones), 40))
    plot_phone_given_code(counts, phones, tmp_path / "heat.png", "layer 5 codebook")
    (fig,) = figures
    renderer = _renderer(fig)
    heat, bar = fig.axes[0], fig.axes[-1]
    assert _labelled(heat) and "layer 5" in heat.get_title()
    assert bar.get_xlabel() == "P(phone | code)" or bar.get_ylabel() == "P(phone | code)"
    (classes,) = heat.child_axes  # the class names on the right
    names = [t for t in classes.yaxis.get_ticklabels() if t.get_text()]
    assert {t.get_text() for t in names} >= {"vowel", "nasal", "fricative", "approximant", "silence"}
    bar_box = bar.get_tightbbox(renderer)
    for text in names:
        assert not _overlap(text.get_window_extent(renderer), bar_box), text.get_text()


def test_every_picture_is_labelled_and_names_its_layer(tmp_path, figures):
    rng = np.random.default_rng(0)
    phones = ["aa", "iy", "m", "s"]
    counts = rng.integers(1, 20, size=(len(phones), 6))
    plot_histograms(counts, phones, tmp_path / "h.png", "layer 7 codebook")
    with threadpool_limits(1):
        plot_codebook_embedding(rng.normal(size=(6, 4)), counts, phones, list(range(6)),
                                tmp_path / "t.png", "tsne", title="layer 7 codebook")
    log = {"batches": [{"epoch": 1, "batch": 1, "values": {"loss": 2.0, "acc_0": 0.1}}],
           "epochs": [{"epoch": 1, "valid": {"loss": 1.5, "acc_0": 0.2}}]}
    plot_training_curves(log, tmp_path / "c.png", keys=("loss", "acc_0"))
    hist, tsne, curves = figures
    assert all(_labelled(ax) for ax in hist.axes[:1] + tsne.axes + curves.axes)
    assert hist.axes[1].get_xlabel() and hist.axes[1].get_ylabel()
    assert "layer 7" in hist.axes[0].get_title()
    assert "layer 7" in tsne.axes[0].get_title() and "t-SNE" in tsne.axes[0].get_title()
    assert tsne.axes[0].get_xlabel() == "t-SNE 1"
    assert [ax.get_title() for ax in curves.axes] == ["loss", "accuracy, codebook 0"]


def test_layerwise_titles_baselines_and_no_overlapping_axes(tmp_path, figures):
    metrics = {layer: {"pnmi": 0.1 * layer, "phone_purity": 0.3, "perplexity": 100.0 + layer,
                       "abx_within": 20.0 - layer, "abx_across": 25.0 - layer}
               for layer in range(1, 13)}
    baselines = {"MFCC k-means k=100": {"pnmi": 0.26, "phone_purity": 0.2, "perplexity": 80.0},
                 "MFCC (ABX, cosine)": {"abx_within": 12.0, "abx_across": 18.0}}
    plot_layerwise(metrics, tmp_path / "layers.png", "per layer", baselines)
    (fig,) = figures
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == [
        "PNMI", "phone purity", "codebook perplexity", "ABX within speaker (%)",
        "ABX across speakers (%)"]
    assert all(_labelled(ax) for ax in axes)
    for ax in axes:
        lines = {line.get_label(): line for line in ax.get_lines()}
        base = "MFCC (ABX, cosine)" if ax.get_title().startswith("ABX") else "MFCC k-means k=100"
        assert base in lines, f"no MFCC line in {ax.get_title()}"
        assert np.allclose(lines[base].get_ydata(), 12.0 if "within" in ax.get_title() else
                           lines[base].get_ydata()[0])
    pnmi = axes[0].get_lines()
    assert any(line.get_label() == "MFCC k-means k=100" and line.get_ydata()[0] == 0.26
               for line in pnmi)
    renderer = _renderer(fig)
    boxes = [ax.get_tightbbox(renderer) for ax in axes]  # incl. tick labels and axis labels
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not _overlap(boxes[i], boxes[j]), (axes[i].get_title(), axes[j].get_title())
