"""Time the batched ABX against the plain-loop reference (tests/eval/abx_reference.py) and,
when available, the legacy ZeroSpeech package (zerospeech-libriabx2, module ``zrc_abx2``).

The legacy package must NOT go into the project venv; install it beside it::

    .venv/bin/pip install --target /tmp/libriabx_target --no-deps zerospeech-libriabx2 pandas pytz tzdata
    .venv/bin/python bench/bench_abx.py --legacy-target /tmp/libriabx_target

All runs use the same random features and items, 50 Hz, cosine distance, legacy slicing (the
only one the legacy tool has) and no subsampling (so that every tool scores the same triplets);
the scores are printed next to the times.
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

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "eval"))

from abx_reference import random_abx_set, reference_abx  # noqa: E402
from dinosr_espnet.eval.abx import ABXConfig, compute_abx  # noqa: E402

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
    shared machine; with one torch thread it is the work done)."""
    start, cpu = time.perf_counter(), time.process_time()
    value = function()
    return value, time.perf_counter() - start, time.process_time() - cpu


def _write_legacy_inputs(folder: Path, features, items) -> Path:
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--speakers", type=int, default=4)
    parser.add_argument("--contexts", type=int, default=2)
    parser.add_argument("--phones", type=int, default=4)
    parser.add_argument("--utterances", type=int, default=3)
    parser.add_argument("--tokens-per-utt", type=int, default=24)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 = fair vs the loops)")
    parser.add_argument("--skip-reference", action="store_true", help="only time the batched ABX")
    parser.add_argument("--legacy-target", type=Path, help="pip --target folder holding zerospeech-libriabx2")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rate = 50.0
    features, items = random_abx_set(
        np.random.default_rng(0), speakers=args.speakers, contexts=args.contexts, phones=args.phones,
        utterances=args.utterances, tokens_per_utt=args.tokens_per_utt, dim=args.dim,
    )
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"data: {len(items)} items, {args.speakers} speakers, {args.contexts} contexts, "
          f"{args.phones} phones, dim {args.dim}, device {args.device}, torch threads {args.threads}")
    common = dict(slicing="legacy", max_size_group=None, max_x_across=None, device=args.device)
    rows = []
    ours, seconds, cpu = _timed(lambda: compute_abx(items, features, ABXConfig(dtype="float32", **common)))
    rows.append(("batched (float32)", seconds, cpu, ours.within, ours.across))
    ours64, seconds64, cpu64 = _timed(
        lambda: compute_abx(items, features, ABXConfig(dtype="float64", **common))
    )
    rows.append(("batched (float64)", seconds64, cpu64, ours64.within, ours64.across))
    if not args.skip_reference:
        expected, ref_seconds, ref_cpu = _timed(lambda: reference_abx(
            items, features, slicing="legacy", max_size_group=None, max_x_across=None))
        rows.append(("plain-loop reference", ref_seconds, ref_cpu, expected["within"], expected["across"]))
    if args.legacy_target:
        with tempfile.TemporaryDirectory() as tmp:
            folder = _write_legacy_inputs(Path(tmp), features, items)
            cuda = args.device.startswith("cuda")
            legacy = _run_legacy(args.legacy_target, folder, rate, cuda, args.threads)
        rows.append(("zerospeech-libriabx2 (legacy)", legacy["seconds"], legacy["cpu"], legacy["within"],
                     legacy["across"]))
    print(f"{'implementation':30s} {'wall s':>7s} {'CPU s':>7s} {'within %':>9s} {'across %':>9s} "
          f"{'CPU / batched':>14s}")
    for name, secs, cpu_secs, within, across in rows:
        print(f"{name:30s} {secs:7.2f} {cpu_secs:7.2f} {100 * within:9.4f} {100 * across:9.4f} "
              f"{cpu_secs / cpu:13.1f}x")


if __name__ == "__main__":
    main()
