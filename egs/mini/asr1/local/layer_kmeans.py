#!/usr/bin/env python3
"""K-means on a DinoSR layer's features (the paper's "DinoSR L5 k-means" row of Table 5).

Reads the units report's kept features (``<units>/work/layer<i>/<uttid>.npy``, written with
``--keep_features``), fits seeded MiniBatchKMeans with each k on them (the demo has no other
set of layer features: the units are fitted on the analysed dev_clean utterances, unlike the
MFCC k-means, which is fitted on the train audio) and writes the PNMI against the 100 Hz
phone labels to ``<units>/layer_kmeans.json``.

    python local/layer_kmeans.py --units exp/ssl_mini_demo/units_dev_clean --layer 3 \\
        --phones corpora/demo/alignments/librispeech/dev_clean.phn --k 64 100
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

from dinosr_espnet.eval.abx.features import NpyDirFeatures
from dinosr_espnet.eval.mfcc_kmeans import assign_units, fit_kmeans
from dinosr_espnet.eval.units import joint_counts, quality_from_counts, read_phone_labels


def layer_kmeans(units_dir: Path, layer: int, phones: Path, ks: Sequence[int], seed: int = 0,
                 n_init: int = 20) -> dict[str, float]:
    """PNMI of k-means units of one layer's features, per k (units at 50 Hz, labels at 100 Hz)."""
    features = {uid: f.astype("float32") for uid, f in NpyDirFeatures(units_dir / "work" / f"layer{layer}").items()}
    labels = read_phone_labels(phones)
    out = {}
    for k in ks:
        model = fit_kmeans(features.values(), k, seed=seed, n_init=n_init)
        counts = joint_counts(assign_units(model, features), labels, repeat=2).counts
        out[str(k)] = round(quality_from_counts(counts).pnmi, 4)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", required=True, type=Path, help="units report dir (kept features)")
    parser.add_argument("--layer", type=int, help="hidden-state index (default: best codebook PNMI)")
    parser.add_argument("--phones", required=True, type=Path, help="100 Hz phone labels (.phn)")
    parser.add_argument("--k", type=int, nargs="+", default=[64, 100])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    report = json.loads((args.units / "report.json").read_text(encoding="utf-8"))
    layer = args.layer
    if layer is None:
        layers = {name: q["pnmi"] for name, q in report["unit_quality"].items() if name.startswith("layer")}
        if not layers:
            raise SystemExit(f"{args.units / 'report.json'}: no codebook layer to choose from")
        layer = int(max(layers, key=layers.get)[len("layer"):])
    result = {"layer": layer, "pnmi": layer_kmeans(args.units, layer, args.phones, args.k, args.seed),
              "fitted_on": "the analysed utterances (dev_clean)"}
    (args.units / "layer_kmeans.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
