"""Time our ABX CLI against the legacy ZeroSpeech package (zerospeech-libriabx2, module
``zrc_abx2``), one fresh process per call, side by side in one run; optionally also the plain-loop
reference (tests/eval/abx_reference.py, in this process).

The legacy package must NOT go into the project venv; install it beside it::

    .venv/bin/pip install --target bench/.legacy_abx --no-deps zerospeech-libriabx2 pandas pytz tzdata
    .venv/bin/python bench/bench_abx.py --legacy-target bench/.legacy_abx

Both tools read the same random features (``.npy`` files, float32) and item file from disk,
50 Hz, cosine distance, legacy slicing (the only one the legacy tool has), and run as a user
runs them: a new Python process per call, timed from start to exit (imports, loading, scoring).
``--subsampling standard`` is the protocol's ``max_size_group 10`` / ``max_x_across 5`` (the
legacy tool draws unseeded, ours seeded, so the scores may differ slightly), ``none`` scores
every triplet (the scores must agree). Wall seconds and the CPU seconds of the child process
(user + system, all threads) are reported; CPU is the fairer measure on a shared machine.
``--threads`` sets the torch/numba (ours) and torch (legacy) threads. Before the timed calls our
CLI runs once untimed so that its numba kernels are compiled and cached on disk: that happens
once per installation (``cache=True``; a read-only installation caches under the user's cache
directory, see numba's ``NUMBA_CACHE_DIR``), not once per call.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "eval"))

from abx_reference import random_abx_set, reference_abx  # noqa: E402

NO_LIMIT = 10**6
LIMITS = {"standard": (10, 5), "none": (None, None)}

LEGACY_SNIPPET = """
import json, sys
import torch
from zrc_abx2.eval_ABX import EvalABX, EvalArgs
torch.set_num_threads(int(sys.argv[5]))
data, item, group, across = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
args = EvalArgs(path_data=data, path_item_file=item, file_extension=".npy", feature_size=0.02,
                cuda=False, speaker_mode="all", context_mode="within", distance_mode="cosine",
                max_size_group=group, max_x_across=across, seed=0)
scores = EvalABX().eval_abx(args)
print("LEGACY_RESULT " + json.dumps(scores, default=str))
"""


def _timed_process(command: list[str], env: dict) -> tuple[str, float, float]:
    """Stdout, wall seconds and child CPU seconds (user + system) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, wall, cpu


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


def _env(threads: int, extra_path: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "NUMBA_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, env.get("PYTHONPATH", "")) if p)
    return env


def run_ours(folder: Path, limits: tuple, threads: int) -> tuple[dict, float, float]:
    """One fresh ``python -m dinosr_espnet.bin.abx`` call: scores (fractions), wall, CPU."""
    out = folder / "ours.json"
    group, across = ("none" if v is None else str(v) for v in limits)
    command = [sys.executable, "-m", "dinosr_espnet.bin.abx", "--item", str(folder / "test.item"),
               "--features", str(folder / "feats"), "--slicing", "legacy", "--distance", "cosine",
               "--device", "cpu", "--max-size-group", group, "--max-x-across", across, "--out", str(out)]
    _, wall, cpu = _timed_process(command, _env(threads, str(ROOT)))
    result = json.loads(out.read_text())
    return {"within": result["within"], "across": result["across"]}, wall, cpu


def run_legacy(target: Path, folder: Path, limits: tuple, threads: int) -> tuple[dict, float, float]:
    """One fresh process of the legacy tool: scores (fractions), wall, CPU."""
    group, across = (NO_LIMIT if v is None else v for v in limits)
    command = [sys.executable, "-c", LEGACY_SNIPPET, str(folder / "feats"), str(folder / "test.item"),
               str(group), str(across), str(threads)]
    stdout, wall, cpu = _timed_process(command, _env(threads, str(target)))
    line = next(x for x in stdout.splitlines() if x.startswith("LEGACY_RESULT "))
    scores = {
        s["abx-s-condition"]: float(s["score"])
        for s in json.loads(line[len("LEGACY_RESULT "):]) if s["abx-c-condition"] == "within"
    }
    return {"within": scores.get("within"), "across": scores.get("across")}, wall, cpu


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
    parser.add_argument("--threads", type=int, default=1, help="CPU threads of every run")
    parser.add_argument("--subsampling", nargs="+", choices=tuple(LIMITS), default=["standard", "none"])
    parser.add_argument("--repeats", type=int, default=1, help="timed calls of each tool per setting")
    parser.add_argument("--reference", action="store_true",
                        help="also time the plain-loop reference (minutes beyond a few hundred items)")
    parser.add_argument("--legacy-target", type=Path, help="pip --target folder holding zerospeech-libriabx2")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    features, items = random_abx_set(
        np.random.default_rng(0), speakers=args.speakers, contexts=args.contexts, phones=args.phones,
        utterances=args.utterances, tokens_per_utt=args.tokens_per_utt, dim=args.dim,
    )
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"data: {len(items)} items, {args.speakers} speakers, {args.contexts} contexts, "
          f"{args.phones} phones, dim {args.dim}, CPU, {args.threads} thread(s), one process per call")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = _write_inputs(Path(tmp), features, items)
        run_ours(folder, LIMITS["standard"], args.threads)  # fills the numba cache if empty
        for setting in args.subsampling:
            limits = LIMITS[setting]
            for _ in range(args.repeats):
                if args.legacy_target:
                    rows.append((setting, "zerospeech-libriabx2 (legacy)",
                                 *run_legacy(args.legacy_target, folder, limits, args.threads)))
                rows.append((setting, "dinosr_espnet.bin.abx", *run_ours(folder, limits, args.threads)))
            if args.reference:
                start, cpu = time.perf_counter(), time.process_time()
                scores = reference_abx(items, features, slicing="legacy", max_size_group=limits[0],
                                       max_x_across=limits[1])
                rows.append((setting, "plain-loop reference", scores, time.perf_counter() - start,
                             time.process_time() - cpu))
    print(f"{'subsampling':11s} {'implementation':30s} {'wall s':>8s} {'CPU s':>8s} {'within %':>9s} "
          f"{'across %':>9s} {'legacy/ours wall':>16s} {'legacy/ours CPU':>15s}")
    for setting, name, scores, wall, cpu in rows:
        ratios = ""
        legacy = [r for r in rows if r[0] == setting and r[1].startswith("zerospeech")]
        if legacy and name == "dinosr_espnet.bin.abx":
            base_wall = min(r[3] for r in legacy)
            base_cpu = min(r[4] for r in legacy)
            ratios = f"{base_wall / wall:15.1f}x {base_cpu / cpu:14.1f}x"
        print(f"{setting:11s} {name:30s} {wall:8.2f} {cpu:8.2f} {100 * scores['within']:9.4f} "
              f"{100 * scores['across']:9.4f} {ratios}")


if __name__ == "__main__":
    main()
