"""The units report: unit quality, ABX and pictures of a DinoSR model on one labelled set.

One pass over the audio writes the teacher codewords of every selected codebook layer, the
layer features (float16 ``.npy``) and head probabilities (float32) of the utterances named in
the ABX item file, and the 39-dim MFCCs (at the model's frame rate) for the baseline. Then:

- unit quality (``eval.units``) per codebook layer and for MFCC k-means (k in ``mfcc_k``),
  fitted on ``mfcc_fit`` utterances when given (HuBERT fits it on training audio, as the DinoSR
  codebooks were learned on training audio), else on the analysed set itself;
- ABX (``eval.abx``): cosine on each selected layer's features, Jensen-Shannon on the head
  probabilities of each codebook layer (the paper's choice), cosine on the MFCCs;
- pictures (``eval.plots``) per codebook layer, the layer-wise figure, training curves;
- ``report.md`` and ``report.json`` in the output directory.

Layer numbers are hidden-state indices (1-based transformer layers; the codebook of layer i
is fed by teacher layer i). Labels at ``label_rate`` are compared with units repeated
``label_rate / frame_rate`` times.
"""
from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import yaml
from tqdm import tqdm

from dinosr_espnet.eval import plots
from dinosr_espnet.eval.abx import ABXConfig, ItemToken, compute_abx, read_item_file
from dinosr_espnet.eval.abx.features import NpyDirFeatures
from dinosr_espnet.eval.extract_io import MatrixWriter, UnitsWriter
from dinosr_espnet.eval.extraction import CorpusExtractor, codebook_layers
from dinosr_espnet.eval.mfcc_kmeans import MFCC_RATE, assign_units, fit_kmeans, mfcc_features
from dinosr_espnet.eval.units import (
    JointCounts, joint_counts, quality_from_counts, read_phone_labels, read_units,
)

logger = logging.getLogger(__name__)

# Reference numbers on LibriSpeech dev (spec §8, evaluation.md), quoted in the report.
PAPER_NOTE = ("Paper (LibriSpeech dev, forced alignments, BASE): layer-5 codebook 217/256 active, "
              "perplexity 179.2, cluster purity 0.19, phone purity 0.58, PNMI 0.57; MFCC k-means "
              "PNMI about 0.26 (k=100) and 0.28 (k=256); ZeroSpeech 2021 ABX average 3.59% "
              "(layer 5).")


@dataclass
class ReportOptions:
    """What to compute; ``layers`` are hidden-state indices (``None``: all K + 1)."""

    layers: Optional[list[int]] = None
    mfcc_k: list[int] = field(default_factory=lambda: [100, 256])
    mfcc_n_init: int = 20
    mfcc_max_frames: Optional[int] = None
    label_rate: float = 100.0
    strip_stress: bool = False
    abx_max_size_group: Optional[int] = 10
    abx_max_x_across: Optional[int] = 5
    abx_slicing: str = "corrected"
    seed: int = 0
    device: str = "cpu"
    embedding: str = "tsne"
    keep_features: bool = False


def _ratio(numerator: float, denominator: float) -> Optional[int]:
    ratio = numerator / denominator
    if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
        return None
    return int(round(ratio))


def report_rates(fs: int, conv_stride: int, label_rate: float = 100.0) -> tuple[int, int]:
    """(label frames, MFCC frames) per model frame; ValueError saying what to change when the
    model's frame rate does not divide the label rate and the 100 Hz MFCC rate."""
    frame_rate = fs / conv_stride
    repeat, mfcc_step = _ratio(label_rate, frame_rate), _ratio(MFCC_RATE, frame_rate)
    if repeat is None or mfcc_step is None:
        raise ValueError(
            f"the units report needs a model frame rate that divides the label rate "
            f"({label_rate:g} Hz) and the MFCC rate ({MFCC_RATE:g} Hz); this model has "
            f"{fs} Hz / conv stride {conv_stride} = {frame_rate:g} Hz: use a model_conf whose "
            f"conv_layers strides multiply to a multiple of {fs / min(label_rate, MFCC_RATE):g} "
            f"samples (conf/pretrain_base.yaml: 320), or run without the units report "
            f"(stop before it; in ssl.sh: no --units_alignments/--units_item)")
    return repeat, mfcc_step


def check_config_rates(config: str | Path, label_rate: float = 100.0) -> tuple[int, int]:
    """``report_rates`` of a pretraining config (ESPnet YAML with ``fs`` and ``model_conf``);
    the error names the file."""
    from dinosr_espnet.model.config import DinoSRConfig

    with open(config, encoding="utf-8") as f:
        cfg = yaml.safe_load(f) or {}
    try:
        model = DinoSRConfig.from_dict(cfg.get("model_conf") or {})
        return report_rates(int(cfg.get("fs", 16000)), model.conv_stride, label_rate)
    except ValueError as e:
        raise ValueError(f"{config}: {e}") from None


class UnitsReport:
    """Computes and writes the report (module docstring) into ``out_dir``."""

    def __init__(self, extractor: CorpusExtractor, out_dir: Path, options: ReportOptions) -> None:
        self.inference = extractor.inference
        self.extractor = extractor
        self.out = Path(out_dir)
        self.opts = options
        cfg = self.inference.config
        self.frame_rate = self.inference.fs / cfg.conv_stride
        self.repeat, self.mfcc_step = report_rates(self.inference.fs, cfg.conv_stride,
                                                   options.label_rate)
        books = codebook_layers(self.inference)
        self.layers = options.layers if options.layers is not None else list(range(cfg.num_layers + 1))
        self.unit_layers = {i: books[i] for i in self.layers if i in books}
        self.results: dict[str, Any] = {"unit_quality": {}, "abx": {}, "figures": []}

    # ------------------------------------------------------------------ extraction pass
    def _extract(self, entries: Mapping[str, str], load: Callable[[str, str], np.ndarray],
                 abx_uids: set[str]) -> dict[str, np.ndarray]:
        """Write codewords / features / probs; return MFCC features per utterance."""
        mfcc: dict[str, np.ndarray] = {}
        work = self.out / "work"
        with ExitStack() as stack:
            units = {i: stack.enter_context(UnitsWriter(self.out / "codewords" / f"layer{i}.txt"))
                     for i in self.unit_layers}
            feats = {i: stack.enter_context(MatrixWriter(work / f"layer{i}", "npy", "float16"))
                     for i in self.layers}
            probs = {i: stack.enter_context(MatrixWriter(work / f"probs{i}", "npy", "float32"))
                     for i in self.unit_layers}

            def loaded(uid: str, entry: str) -> np.ndarray:
                wave = load(uid, entry)
                mfcc[uid] = mfcc_features(wave, self.inference.fs, self.mfcc_step)
                return wave

            for uid, r in self.extractor.iterate(dict(entries), loaded, desc="units report"):
                for i, k in self.unit_layers.items():
                    units[i].write(uid, r.codeword_indices[k].numpy())
                if uid in abx_uids:
                    for i in self.layers:
                        feats[i].write(uid, r.hidden_states[i].numpy())
                    for i, k in self.unit_layers.items():
                        probs[i].write(uid, r.head_probs[k].numpy())
        return mfcc

    # ------------------------------------------------------------------ measures
    def _quality(self, name: str, units: Mapping[str, np.ndarray], labels: Mapping[str, list[str]],
                 repeat: int, codebook_size: int) -> JointCounts:
        joint = joint_counts(units, labels, repeat=repeat)
        (self.out / "joint").mkdir(exist_ok=True)
        joint.save(self.out / "joint" / f"{name}.npz")
        quality = quality_from_counts(joint.counts)
        self.results["unit_quality"][name] = {
            **quality.to_dict(), "codebook_size": codebook_size,
            "num_utterances": joint.num_utterances, "mismatch_frames": joint.mismatch_frames,
            "max_mismatch": joint.max_mismatch, "skipped_utterances": joint.skipped}
        logger.info("%s: PNMI %.3f, phone purity %.3f, perplexity %.1f", name, quality.pnmi,
                    quality.phone_purity, quality.perplexity)
        return joint

    def _abx(self, name: str, items: Sequence[ItemToken], features: Mapping[str, np.ndarray],
             distance: str) -> None:
        config = ABXConfig(frame_rate=self.frame_rate, distance=distance, slicing=self.opts.abx_slicing,
                           max_size_group=self.opts.abx_max_size_group,
                           max_x_across=self.opts.abx_max_x_across, seed=self.opts.seed,
                           device=self.opts.device)
        self.results["abx"][name] = compute_abx(items, features, config).to_dict()

    def _figure(self, path: Path) -> None:
        self.results["figures"].append(str(path.relative_to(self.out)))

    # ------------------------------------------------------------------ driver
    def _fit_mfcc(self, entries: Mapping[str, str], load: Callable[[str, str], np.ndarray]
                  ) -> dict[str, np.ndarray]:
        """MFCC features of the utterances the k-means baseline is fitted on."""
        return {uid: mfcc_features(load(uid, entry), self.inference.fs, self.mfcc_step)
                for uid, entry in tqdm(entries.items(), desc="MFCC k-means fit set", unit="utt",
                                       disable=None)}

    def run(self, entries: Mapping[str, str], load: Callable[[str, str], np.ndarray],
            phones: Path, item: Path, train_log: Optional[Path] = None,
            mfcc_fit: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
        """Everything; returns the ``report.json`` content. ``mfcc_fit``: the utterances
        (uttid → wav.scp entry) to fit the MFCC k-means on; ``None``: ``entries``."""
        self.out.mkdir(parents=True, exist_ok=True)
        labels = read_phone_labels(phones, strip_stress=self.opts.strip_stress)
        all_items = read_item_file(item)
        items = [t for t in all_items if t.file in entries]
        if len(items) < len(all_items):
            logger.warning("ABX: %d of %d item tokens name utterances missing from the wav.scp; "
                           "skipped", len(all_items) - len(items), len(all_items))
        if not items:
            raise ValueError(f"{item}: no token names an utterance of the wav.scp")
        mfcc = self._extract(entries, load, {t.file for t in items})
        metrics: dict[int, dict[str, float]] = {}
        self._codebook_quality(labels, metrics)
        fit_features = mfcc if mfcc_fit is None else self._fit_mfcc(mfcc_fit, load)
        for k in self.opts.mfcc_k:
            model = fit_kmeans(fit_features.values(), k, seed=self.opts.seed,
                               max_frames=self.opts.mfcc_max_frames, n_init=self.opts.mfcc_n_init)
            self._quality(f"mfcc_k{k}", assign_units(model, mfcc), labels, self.repeat, k)
        self._all_abx(items, mfcc, metrics)
        self._figure(plots.plot_layerwise(metrics, self.out / "layerwise.png",
                                          "DinoSR units and features per layer",
                                          self._mfcc_baselines()))
        if train_log is not None:
            log = plots.parse_espnet_log(train_log)
            self._figure(plots.plot_training_curves(log, self.out / "training_curves.png",
                                                    _log_keys(log)))
        if not self.opts.keep_features:
            shutil.rmtree(self.out / "work")
        cfg = self.inference.config
        self.results.update(
            num_utterances=len(entries), frame_rate=self.frame_rate, label_rate=self.opts.label_rate,
            codebook_size=cfg.codebook_size, layers=self.layers,
            codebook_of_layer={str(i): k for i, k in self.unit_layers.items()},
            abx_tokens=len(items), options=asdict(self.opts), phones=str(phones), item=str(item),
            mfcc_fit=("the analysed utterances" if mfcc_fit is None
                      else f"{len(fit_features)} utterances of another set (--mfcc_fit_wav_scp)"),
            train_log=str(train_log) if train_log else None)
        (self.out / "report.json").write_text(json.dumps(self.results, indent=2) + "\n", encoding="utf-8")
        (self.out / "report.md").write_text(render_markdown(self.results), encoding="utf-8")
        return self.results

    def _codebook_quality(self, labels: Mapping[str, list[str]],
                          metrics: dict[int, dict[str, float]]) -> None:
        """Unit quality and pictures of every selected codebook layer."""
        size = self.inference.config.codebook_size
        centroids = self.inference.model.codebooks.centroids().cpu().numpy()
        for i, k in self.unit_layers.items():
            units = read_units(self.out / "codewords" / f"layer{i}.txt")
            joint = self._quality(f"layer{i}", units, labels, self.repeat, size)
            title = f"layer {i} codebook"
            self._figure(plots.plot_phone_given_code(joint.counts, joint.phones,
                                                     self.out / f"phone_given_code_layer{i}.png", title))
            self._figure(plots.plot_histograms(joint.counts, joint.phones,
                                               self.out / f"histograms_layer{i}.png", title))
            self._figure(plots.plot_codebook_embedding(
                centroids[k], joint.counts, joint.phones, joint.units,
                self.out / f"codebook_{self.opts.embedding}_layer{i}.png", self.opts.embedding,
                self.opts.seed, title))
            q = self.results["unit_quality"][f"layer{i}"]
            metrics.setdefault(i, {}).update(pnmi=q["pnmi"], phone_purity=q["phone_purity"],
                                             perplexity=q["perplexity"])

    def _mfcc_baselines(self) -> dict[str, dict[str, float]]:
        """The MFCC numbers of the layer-wise figure: unit quality per k, ABX of the MFCCs."""
        baselines = {}
        for name, q in self.results["unit_quality"].items():
            if name.startswith("mfcc_k"):
                baselines[f"MFCC k-means k={name[6:]}"] = {
                    "pnmi": q["pnmi"], "phone_purity": q["phone_purity"], "perplexity": q["perplexity"]}
        abx = self.results["abx"].get("mfcc/cosine", {})
        baselines["MFCC (ABX, cosine)"] = {f"abx_{c}": 100 * abx[c] for c in ("within", "across")
                                           if abx.get(c) is not None}
        return baselines

    def _all_abx(self, items: Sequence[ItemToken], mfcc: Mapping[str, np.ndarray],
                 metrics: dict[int, dict[str, float]]) -> None:
        """Cosine ABX per layer, JS ABX per codebook layer's head, cosine ABX on MFCCs."""
        work = self.out / "work"
        for i in self.layers:
            self._abx(f"layer{i}/cosine", items, NpyDirFeatures(work / f"layer{i}"), "cosine")
            r = self.results["abx"][f"layer{i}/cosine"]
            metrics.setdefault(i, {}).update(
                {f"abx_{c}": 100 * r[c] for c in ("within", "across") if r[c] is not None})
        for i in self.unit_layers:
            self._abx(f"layer{i}/js", items, NpyDirFeatures(work / f"probs{i}"), "js")
        self._abx("mfcc/cosine", items, mfcc, "cosine")


def _log_keys(log: Mapping[str, list[dict]]) -> list[str]:
    """Training-curve panels: loss, first head accuracy, first codebook perplexity (if logged)."""
    seen = {key for entry in log["batches"] for key in entry["values"]}
    seen |= {key for e in log["epochs"] for section in ("train", "valid") for key in e.get(section, {})}
    keys = [k for k in ("loss", "acc_0", "ppl_cb0", "pred_ppl") if k in seen]
    return keys or sorted(seen)[:1]


def _pct(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def render_markdown(results: Mapping[str, Any]) -> str:
    """``report.md`` from the ``report.json`` content."""
    lines = ["# DinoSR units report", "",
             "## Setup", "",
             f"- utterances: {results['num_utterances']}; frame rate {results['frame_rate']:g} Hz; "
             f"labels {results['label_rate']:g} Hz (`{results['phones']}`)",
             f"- layers: {', '.join(map(str, results['layers']))} (hidden-state index; codebook of "
             f"layer i: {results['codebook_of_layer']}); codebook size {results['codebook_size']}",
             f"- ABX items: `{results['item']}`, {results['abx_tokens']} tokens; "
             f"{results['options']['abx_slicing']} slicing, seed {results['options']['seed']}",
             f"- MFCC k-means fitted on {results['mfcc_fit']}", "",
             "## Unit quality", "",
             "| units | active | perplexity | cluster purity | phone purity | PNMI | frame mismatch |",
             "|---|---|---|---|---|---|---|"]
    for name, q in results["unit_quality"].items():
        label = (f"layer {name[5:]} codebook" if name.startswith("layer")
                 else f"MFCC k-means k={name.split('_k')[1]}")
        lines.append(f"| {label} | {q['active_codewords']}/{q['codebook_size']} | {q['perplexity']:.1f} | "
                     f"{q['cluster_purity']:.3f} | {q['phone_purity']:.3f} | {q['pnmi']:.3f} | "
                     f"{q['mismatch_frames']} (max {q['max_mismatch']}) |")
    lines += ["", PAPER_NOTE, "", "## ABX", "",
              "Error rates in % (chance 50), within context.", "",
              "| features | distance | within speaker | across speaker | tokens skipped |",
              "|---|---|---|---|---|"]
    for name, r in results["abx"].items():
        source, distance = name.split("/")
        source = f"layer {source[5:]}" + (" head probs" if distance == "js" else "") \
            if source.startswith("layer") else "MFCC (39-dim)"
        lines.append(f"| {source} | {distance} | {_pct(r['within'])} | {_pct(r['across'])} | "
                     f"{r['num_skipped_tokens']} |")
    lines += ["", "## Figures", ""]
    lines += [f"![{Path(f).stem}]({f})" for f in results["figures"]]
    lines += ["", "Definitions of every number: `docs/units.md`.", ""]
    return "\n".join(lines)
