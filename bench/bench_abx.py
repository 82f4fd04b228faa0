"""Time our ABX against the legacy ZeroSpeech package (zerospeech-libriabx2, module ``zrc_abx2``)
and, optionally, the plain-loop reference (tests/eval/abx_reference.py).

The legacy package must NOT go into the project venv; install it beside it::

    .venv/bin/pip install --target /tmp/libriabx_target --no-deps zerospeech-libriabx2 pandas pytz tzdata
    .venv/bin/python bench/bench_abx.py --legacy-target /tmp/libriabx_target

All runs read the same random features (``.npy`` files, float32) and item file from disk (both
tools' times include the loading), 50 Hz, cosine distance, legacy slicing (the only one the
legacy tool has) and no subsampling (so that every tool scores the same triplets); the scores
are printed next to the times. ``--threads`` sets the torch and numba threads of every run (the
legacy DTW itself is single-threaded Cython). Our first call in a process also loads the
compiled numba kernels (cached on disk after the very first run, which compiles them); it is
timed separately from a second, steady-state call.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "eval"))

from abx_reference import random_abx_set, reference_abx  # noqa: E402
from dinosr_espnet.eval.abx import ABXConfig, compute_abx, load_features  # noqa: E402

NO_LIMIT = 10**6

LEGACY_SNIPPET = """
import json, sys, time
import torch
from zrc_abx2.eval_ABX import EvalABX, EvalArgs
torch.set_num_threads({threads})
data, item, size, cuda = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4] == "1"
args = EvalArgs(path_data=data, path_item_file=item, file_extension=".npy", feature_size=size,
                cuda=cuda, speaker_mode="all", context_mode="within", distance_mode="cosine",
                max_size_group={limit}, max_x_across={limit}, seed=0)
start, cpu = time.perf_counter(), time.process_time()
scores = EvalABX().eval_abx(args)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
print("LEGACY_RESULT " + json.dumps({{"seconds": seconds, "cpu": cpu, "scores": scores}}, default=str))
"""


def _timed(function):
    """Value, wall seconds and CPU seconds of this process (CPU time is the fairer measure on a
    shared machine; it counts the work of every thread)."""
    start, cpu = time.perf_counter(), time.process_time()
    value = function()
    return value, time.perf_counter() - start, time.process_time() - cpu


def _write_inputs(folder: Path, features, items) -> Path:
    (folder / "feats").mkdir()
    for uttid, matrix in features.items():
        np.save(folder / "feats" / f"{uttid}.npy", matrix.astype(np.float32))
    lines = ["#file onset offset #phone prev-phone next-phone speaker"]
    lines += [
        f"{t.file} {t.onset} {t.offset} {t.phone} {t.prev_phone} {t.next_phone} {t.speaker}"
        for t in items
    ]
    (folder / "test.item").write_text("\n".join(lines) + "\n")
    return folder


def _run_legacy(target: Path, folder: Path, rate: float, cuda: bool, threads: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(target)}
    snippet = LEGACY_SNIPPET.format(limit=NO_LIMIT, threads=threads)
    command = [sys.executable, "-c", snippet, str(folder / "feats"), str(folder / "test.item"),
               str(1.0 / rate), "1" if cuda else "0"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("LEGACY_RESULT "))
    result = json.loads(line[len("LEGACY_RESULT "):])
    scores = {
        s["abx-s-condition"]: float(s["score"])
        for s in result["scores"] if s["abx-c-condition"] == "within"
    }
    return {"seconds": result["seconds"], "cpu": result["cpu"], "within": scores.get("within"),
            "across": scores.get("across")}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--speakers", type=int, default=8)
    parser.add_argument("--contexts", type=int, default=4)
    parser.add_argument("--phones", type=int, default=6)
    parser.add_argument("--utterances", type=int, default=4, help="utterances per speaker")
    parser.add_argument("--tokens-per-utt", type=int, default=100)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtw", default="numba", choices=("numba", "torch"), help="our DTW backend")
    parser.add_argument("--threads", type=int, default=1, help="torch and numba CPU threads")
    parser.add_argument("--reference", action="store_true",
                        help="also time the plain-loop reference (minutes beyond a few hundred items)")
    parser.add_argument("--legacy-target", type=Path, help="pip --target folder holding zerospeech-libriabx2")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    rate = 50.0
    features, items = random_abx_set(
        np.random.default_rng(0), speakers=args.speakers, contexts=args.contexts, phones=args.phones,
        utterances=args.utterances, tokens_per_utt=args.tokens_per_utt, dim=args.dim,
    )
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"data: {len(items)} items, {args.speakers} speakers, {args.contexts} contexts, "
          f"{args.phones} phones, dim {args.dim}, device {args.device}, {args.threads} thread(s)")
    common = dict(slicing="legacy", max_size_group=None, max_x_across=None, device=args.device, dtw=args.dtw)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = _write_inputs(Path(tmp), features, items)

        def ours(dtype: str):
            config = ABXConfig(dtype=dtype, **common)
            return compute_abx(folder / "test.item", load_features(folder / "feats"), config)

        for name, dtype in (("ours float32, 1st call", "float32"), ("ours float32", "float32"),
                            ("ours float64", "float64")):
            result, seconds, cpu = _timed(lambda: ours(dtype))
            rows.append((name, seconds, cpu, result.within, result.across))
        if args.reference:
            expected, seconds, cpu = _timed(lambda: reference_abx(
                items, features, slicing="legacy", max_size_group=None, max_x_across=None))
            rows.append(("plain-loop reference", seconds, cpu, expected["within"], expected["across"]))
        if args.legacy_target:
            cuda = args.device.startswith("cuda")
            legacy = _run_legacy(args.legacy_target, folder, rate, cuda, args.threads)
            rows.append(("zerospeech-libriabx2 (legacy)", legacy["seconds"], legacy["cpu"], legacy["within"],
                         legacy["across"]))
    base_wall, base_cpu = (rows[-1][1], rows[-1][2]) if args.legacy_target else (None, None)
    print(f"{'implementation':30s} {'wall s':>7s} {'CPU s':>7s} {'within %':>9s} {'across %':>9s} "
          f"{'legacy/this wall':>16s} {'legacy/this CPU':>15s}")
    for name, secs, cpu_secs, within, across in rows:
        ratios = f"{base_wall / secs:15.1f}x {base_cpu / cpu_secs:14.1f}x" if base_wall else ""
        print(f"{name:30s} {secs:7.2f} {cpu_secs:7.2f} {100 * within:9.4f} {100 * across:9.4f} {ratios}")


if __name__ == "__main__":
    main()
