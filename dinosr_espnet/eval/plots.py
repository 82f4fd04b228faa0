"""Unit-analysis pictures (spec §7): P(phone|code), histograms, codebook map, layer-wise
metrics, ESPnet training curves. PNG files through matplotlib's Agg canvas (no display, no
pyplot state).

Phones are grouped by class (vowels, nasals, stops, affricates, fricatives, approximants,
silence, other) with a mapping that understands ARPAbet (stress digits ignored), IPA / espeak-ng
symbols (stress, length and combining marks ignored) and the usual silence labels; anything else
goes to "other".
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional, Union

import numpy as np
from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]
PHONE_CLASSES = ("vowel", "nasal", "stop", "affricate", "fricative", "approximant", "silence", "other")
CLASS_COLOURS = dict(zip(PHONE_CLASSES, ("C0", "C1", "C2", "C3", "C4", "C5", "C7", "C8")))

_ARPABET = {
    **dict.fromkeys("aa ae ah ao aw ax axr ay eh er ey ih ix iy ow oy uh uw ux".split(), "vowel"),
    **dict.fromkeys("m n ng em en eng nx".split(), "nasal"),
    **dict.fromkeys("p b t d k g dx q".split(), "stop"),
    **dict.fromkeys("ch jh".split(), "affricate"),
    **dict.fromkeys("f v th dh s z sh zh hh".split(), "fricative"),
    **dict.fromkeys("l r w y el".split(), "approximant"),
}
_SILENCE = {"sil", "sp", "spn", "<sil>", "pau", "h#", "<eps>", "|", "_"}
_IPA_VOWELS = set("aeiouyæɑɒɐəɘɚɛɜɝɞɤɨɪʊʌɔøœɵɯʉʏɶ@")
_IPA_SINGLE = {
    **dict.fromkeys("mnŋɲɳɴɱ", "nasal"),
    **dict.fromkeys("pbtdkgɡqʔɖʈɟcɾɽ", "stop"),
    **dict.fromkeys("ʧʤ", "affricate"),
    **dict.fromkeys("fvθðszʃʒhxɣχʁçʝɸβɦʂʐɕʑɬ", "fricative"),
    **dict.fromkeys("lrɹɻjwɥɫʎʋɭɰ", "approximant"),
}
_IPA_AFFRICATES = {"tʃ", "dʒ", "ts", "dz", "tɕ", "dʑ", "pf", "tʂ", "dʐ"}
_MODIFIERS = set("ˈˌːˑʰʲʷˠˤ̚")


_NAMES = {
    "pnmi": "PNMI", "phone_purity": "phone purity", "cluster_purity": "cluster purity",
    "perplexity": "codebook perplexity", "abx_within": "ABX within speaker (%)",
    "abx_across": "ABX across speakers (%)", "within": "ABX within speaker",
    "across": "ABX across speakers", "loss": "loss", "pred_ppl": "prediction perplexity",
    "grad_norm": "gradient norm", "cer_ctc": "CER (CTC)", "wer_ctc": "WER (CTC)",
    "optim0_lr0": "learning rate",
}
_NUMBERED = {"acc": "accuracy, codebook {}", "ppl_cb": "perplexity, codebook {}",
             "active_cb": "active codewords, codebook {}"}


def human_name(key: str) -> str:
    """Title for a metric or log key: ``pnmi`` -> "PNMI", ``acc_0`` -> "accuracy, codebook 0"."""
    if key in _NAMES:
        return _NAMES[key]
    match = re.fullmatch(r"([a-z0-9_]*?)_?(\d+)", key)
    if match and match[1] in _NUMBERED:
        return _NUMBERED[match[1]].format(match[2])
    return key.replace("_", " ")


def _strip_marks(symbol: str) -> str:
    decomposed = unicodedata.normalize("NFD", symbol)  # ã -> a + combining tilde
    return "".join(ch for ch in decomposed if ch not in _MODIFIERS and not unicodedata.combining(ch))


def phone_class(symbol: str) -> str:
    """Articulatory class of a phone symbol (ARPAbet, IPA/espeak-ng or silence), else "other"."""
    key = re.sub(r"\d+$", "", symbol).lower()
    if key in _SILENCE:
        return "silence"
    if key in _ARPABET:
        return _ARPABET[key]
    plain = _strip_marks(symbol)
    if not plain:
        return "other"
    if plain in _IPA_AFFRICATES:
        return "affricate"
    if plain[0] in _IPA_VOWELS:
        return "vowel"
    if len(plain) == 1 and plain in _IPA_SINGLE:
        return _IPA_SINGLE[plain]
    return "other"


def order_phones(phones: Sequence[str]) -> list[int]:
    """Indices of ``phones`` grouped by class (``PHONE_CLASSES`` order), then by name."""
    return sorted(range(len(phones)), key=lambda i: (PHONE_CLASSES.index(phone_class(phones[i])), phones[i]))


def order_codes(counts: np.ndarray, phone_order: Sequence[int]) -> list[int]:
    """Columns of the active codes sorted by the position of their most likely phone in
    ``phone_order``, sharper codes (higher P(phone|code)) first, then by column."""
    counts = np.asarray(counts, dtype=np.float64)
    rank = np.empty(len(phone_order), dtype=np.int64)
    rank[np.asarray(phone_order)] = np.arange(len(phone_order))
    totals = counts.sum(0)
    active = np.flatnonzero(totals > 0)
    given = counts[:, active] / totals[active]
    best = given.argmax(0)
    keys = sorted(zip(rank[best], -given.max(0), active))
    return [int(column) for _, _, column in keys]


def _class_spans(phones: Sequence[str], order: Sequence[int]) -> list[tuple[str, int, int]]:
    spans: list[tuple[str, int, int]] = []
    for position, index in enumerate(order):
        name = phone_class(phones[index])
        if spans and spans[-1][0] == name:
            spans[-1] = (name, spans[-1][1], position + 1)
        else:
            spans.append((name, position, position + 1))
    return spans


def _save(fig: Figure, path: PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def plot_phone_given_code(counts: np.ndarray, phones: Sequence[str], path: PathLike, title: str = "") -> Path:
    """Heat map of P(phone | code): phones grouped by class (named on the right), codes by most
    likely phone; the colour bar sits below so that nothing overlaps the class names."""
    counts = np.asarray(counts, dtype=np.float64)
    phone_order = order_phones(phones)
    code_order = order_codes(counts, phone_order)
    given = counts[np.ix_(phone_order, code_order)] / counts[:, code_order].sum(0)
    fig = Figure(figsize=(max(6.0, len(code_order) * 0.04 + 3), max(4.5, len(phones) * 0.18 + 2)),
                 layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(given, aspect="auto", interpolation="nearest", cmap="viridis", vmin=0, vmax=1)
    ax.set_yticks(range(len(phone_order)), [phones[i] for i in phone_order], fontsize=6)
    spans = _class_spans(phones, phone_order)
    for _, start, _ in spans[1:]:
        ax.axhline(start - 0.5, color="white", linewidth=0.6)
    classes = ax.secondary_yaxis("right")
    classes.set_yticks([(start + stop - 1) / 2 for _, start, stop in spans],
                       [name for name, _, _ in spans], fontsize=7)
    classes.set_ylabel("phone class")
    ax.set_xlabel(f"codeword ({len(code_order)} active, sorted by most likely phone)")
    ax.set_ylabel("phone")
    ax.set_title(f"{title}: P(phone | code)" if title else "P(phone | code)")
    bar = fig.colorbar(image, ax=ax, location="bottom", shrink=0.6, aspect=40)
    bar.set_label("P(phone | code)")
    return _save(fig, path)


def plot_histograms(counts: np.ndarray, phones: Sequence[str], path: PathLike, title: str = "") -> Path:
    """Frames per phone (grouped by class) and per codeword (sorted, log scale)."""
    counts = np.asarray(counts, dtype=np.float64)
    phone_order = order_phones(phones)
    fig = Figure(figsize=(10, 6), layout="constrained")
    top, bottom = fig.subplots(2, 1)
    per_phone = counts.sum(1)[phone_order]
    colours = [CLASS_COLOURS[phone_class(phones[i])] for i in phone_order]
    top.bar(range(len(phone_order)), per_phone / per_phone.sum(), color=colours)
    top.set_xticks(range(len(phone_order)), [phones[i] for i in phone_order], rotation=90, fontsize=6)
    top.set_xlabel("phone (grouped by class)")
    top.set_ylabel("share of frames")
    top.set_title(f"{title}: frames per phone and per codeword" if title
                  else "frames per phone and per codeword")
    per_code = np.sort(counts.sum(0))[::-1]
    bottom.bar(range(len(per_code)), per_code / per_code.sum(), width=1.0, color="C0")
    bottom.set_yscale("log")
    bottom.set_xlabel("codeword (sorted by usage)")
    bottom.set_ylabel("share of frames")
    return _save(fig, path)


def plot_codebook_embedding(
    codewords: np.ndarray,
    counts: np.ndarray,
    phones: Sequence[str],
    units: Sequence[int],
    path: PathLike,
    method: str = "tsne",
    seed: int = 0,
    title: str = "",
) -> Path:
    """2-D map (t-SNE or PCA) of the codewords, coloured by their dominant phone's class;
    ``title`` names the codebook (e.g. "layer 5 codebook").

    ``counts`` columns belong to codeword ids ``units``; codewords never used are grey.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    codewords = np.asarray(codewords, dtype=np.float64)
    if method == "tsne":
        perplexity = float(min(30, max(2, len(codewords) // 4)))
        points = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(codewords)
    elif method == "pca":
        points = PCA(2, random_state=seed).fit_transform(codewords)
    else:
        raise ValueError(f"method must be 'tsne' or 'pca', got {method!r}")
    classes = ["unused"] * len(codewords)
    counts = np.asarray(counts)
    for column, unit in enumerate(units):
        if not 0 <= unit < len(codewords):
            raise ValueError(f"unit {unit} outside the codebook of {len(codewords)} codewords")
        if counts[:, column].sum() > 0:
            classes[unit] = phone_class(phones[int(counts[:, column].argmax())])
    fig = Figure(figsize=(6.5, 5), layout="constrained")
    ax = fig.add_subplot()
    for name in (*PHONE_CLASSES, "unused"):
        chosen = [i for i, c in enumerate(classes) if c == name]
        if chosen:
            ax.scatter(points[chosen, 0], points[chosen, 1], s=10, label=name,
                       color=CLASS_COLOURS.get(name, "lightgrey"))
    map_name = "PCA" if method == "pca" else "t-SNE"
    axis = "PC" if method == "pca" else "t-SNE"
    ax.legend(fontsize=7, markerscale=1.5, title="dominant phone class", title_fontsize=7,
              loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_xlabel(f"{axis} 1")
    ax.set_ylabel(f"{axis} 2")
    ax.set_title(f"{title or 'codebook'}: {map_name} map of the codewords")
    return _save(fig, path)


_LAYERWISE_ORDER = ("pnmi", "phone_purity", "cluster_purity", "perplexity", "abx_within", "abx_across")


def plot_layerwise(
    metrics: Mapping[int, Mapping[str, float]],
    path: PathLike,
    title: str = "",
    baselines: Optional[Mapping[str, Mapping[str, float]]] = None,
) -> Path:
    """One panel per metric (e.g. pnmi, perplexity, abx_within) against the layer, with each
    baseline (name -> metric values, e.g. "MFCC k-means k=100") as a dashed line."""
    baselines = baselines or {}
    layers = sorted(metrics)
    present = {name for layer in layers for name in metrics[layer]}
    names = [n for n in _LAYERWISE_ORDER if n in present] + sorted(present - set(_LAYERWISE_ORDER))
    if not names:
        raise ValueError("no metric to plot")
    columns = min(len(names), 3)
    rows = -(-len(names) // columns)
    fig = Figure(figsize=(4.2 * columns, 3.3 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False).ravel())
    styles = ("--", ":", "-.")
    for ax, name in zip(axes, names):
        xs = [layer for layer in layers if name in metrics[layer]]
        ax.plot(xs, [metrics[layer][name] for layer in xs], marker="o", label="DinoSR")
        drawn = [(base, values[name]) for base, values in baselines.items() if name in values]
        for (base, value), style in zip(drawn, styles * len(drawn)):
            ax.axhline(value, color="grey", linestyle=style, linewidth=1, label=base)
        ax.set_xlabel("layer")
        ax.set_ylabel(human_name(name))
        ax.set_title(human_name(name))
        ax.set_xticks(xs)
        if drawn:
            ax.legend(fontsize=7)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


_BATCH_LINE = re.compile(r"(\d+)epoch:train:(\d+)-(\d+)batch:\s*(.*)$")
_EPOCH_LINE = re.compile(r"(\d+)epoch results:\s*(.*)$")
_VALUE = re.compile(r"([A-Za-z_]\w*)=([-+0-9.eEinfa]+)\s*(?=,|$)")


def _values(text: str) -> dict[str, float]:
    found = {}
    for key, value in _VALUE.findall(text):
        try:
            found[key] = float(value)
        except ValueError:
            continue
    return found


def parse_espnet_log(path: PathLike) -> dict[str, list[dict]]:
    """Training statistics from an ESPnet ``train.log``.

    ``batches``: ``{"epoch", "batch", "values"}`` from ``Nepoch:train:A-Bbatch: k=v, ...`` lines
    (``batch`` = B); ``epochs``: ``{"epoch", "<section>": values}`` from ``Nepoch results:
    [train] k=v, ... [valid] k=v, ...`` lines.
    """
    batches, epochs = [], []
    with Path(path).open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if match := _BATCH_LINE.search(line):
                batches.append({"epoch": int(match[1]), "batch": int(match[3]), "values": _values(match[4])})
            elif match := _EPOCH_LINE.search(line):
                entry: dict = {"epoch": int(match[1])}
                for section, body in re.findall(r"\[(\w+)\]\s*(.*?)(?=\s*\[\w+\]|$)", match[2]):
                    entry[section] = _values(body)
                epochs.append(entry)
    if not batches and not epochs:
        raise ValueError(f"{path}: no ESPnet training statistics found")
    return {"batches": batches, "epochs": epochs}


def plot_training_curves(
    log: Mapping[str, list[dict]], path: PathLike, keys: Sequence[str] = ("loss",)
) -> Path:
    """Per-batch train values (x = fractional epoch) with per-epoch train/valid summaries."""
    last_batch: dict[int, int] = {}
    for entry in log["batches"]:
        last_batch[entry["epoch"]] = max(last_batch.get(entry["epoch"], 0), entry["batch"])
    fig = Figure(figsize=(5 * len(keys), 3.5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(keys)))
    for ax, key in zip(axes, keys):
        points = [(e["epoch"] - 1 + e["batch"] / last_batch[e["epoch"]], e["values"][key])
                  for e in log["batches"] if key in e["values"]]
        if points:
            ax.plot(*zip(*points), linewidth=0.8, alpha=0.6, label="train (batches)")
        for section, style in (("train", "o-"), ("valid", "s-")):
            summary = [(e["epoch"], e[section][key]) for e in log["epochs"] if key in e.get(section, {})]
            if summary:
                ax.plot(*zip(*summary), style, label=f"{section} (epoch)")
        ax.set_xlabel("epoch")
        ax.set_ylabel(human_name(key))
        ax.set_title(human_name(key))
        ax.legend(fontsize=7)
    return _save(fig, path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dinosr_espnet.eval.plots",
        description="Unit-analysis pictures from unit_quality --joint files, codebooks, "
        "per-layer reports and ESPnet train.log files.",
    )
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--joint", type=Path, help="joint counts .npz (bin.unit_quality --joint)")
    parser.add_argument("--codebook", type=Path, help="(V, D) .npy codewords for the embedding map")
    parser.add_argument("--embedding", choices=("tsne", "pca"), default="tsne")
    parser.add_argument("--layer-reports", nargs="+", metavar="LAYER=JSON",
                        help="per-layer JSON reports (unit_quality / abx --out) for the layer-wise figure")
    parser.add_argument("--layer-metrics", nargs="+", default=["pnmi", "perplexity", "within", "across"])
    parser.add_argument("--train-log", type=Path, help="ESPnet train.log")
    parser.add_argument("--log-keys", nargs="+", default=["loss"])
    return parser


def _layer_metrics(reports: Sequence[str], wanted: Sequence[str]) -> dict[int, dict[str, float]]:
    metrics: dict[int, dict[str, float]] = {}
    for spec in reports:
        layer, _, file = spec.partition("=")
        if not file or not layer.isdigit():
            raise ValueError(f"--layer-reports expects LAYER=JSON, got {spec!r}")
        report = json.loads(Path(file).read_text())
        values = {k: float(report[k]) for k in wanted if isinstance(report.get(k), (int, float))}
        metrics.setdefault(int(layer), {}).update(values)
    return metrics


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    written = []
    if args.joint:
        data = np.load(args.joint)
        counts = data["counts"]
        phones, units = [str(p) for p in data["phones"]], [int(u) for u in data["units"]]
        written.append(plot_phone_given_code(counts, phones, args.out_dir / "phone_given_code.png"))
        written.append(plot_histograms(counts, phones, args.out_dir / "histograms.png"))
        if args.codebook:
            target = args.out_dir / f"codebook_{args.embedding}.png"
            written.append(plot_codebook_embedding(
                np.load(args.codebook), counts, phones, units, target, args.embedding
            ))
    if args.layer_reports:
        written.append(plot_layerwise(_layer_metrics(args.layer_reports, args.layer_metrics),
                                      args.out_dir / "layerwise.png"))
    if args.train_log:
        written.append(plot_training_curves(
            parse_espnet_log(args.train_log), args.out_dir / "training_curves.png", args.log_keys
        ))
    if not written:
        raise SystemExit("nothing to plot: give --joint, --layer-reports and/or --train-log")
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
