"""Pretraining throughput: updates/s, audio-seconds/s, and the online-clustering share.

One update = forward (student, teacher, codebooks, heads), backward, AdamW step and the teacher
EMA step, on random standardised audio of a fixed batch shape. The codebook assignment (Eq. 2)
and update (Eq. 3) are timed separately by wrapping ``OnlineCodebooks.assign`` / ``.update``.

    python bench/bench_pretrain.py                       # tiny and BASE on CPU
    python bench/bench_pretrain.py --models base --device cuda --batch base=8x16 --updates 20
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import yaml
from tqdm import tqdm

from dinosr_espnet.espnet.teacher_step import register_teacher_step
from dinosr_espnet.model import DinoSR, DinoSRConfig

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {"tiny": REPO / "conf" / "pretrain_tiny.yaml", "base": REPO / "conf" / "pretrain_base.yaml"}
DEFAULT_BATCH = {"tiny": (4, 2.0), "base": (2, 4.0)}  # (utterances, seconds)
DEFAULT_UPDATES = {"tiny": 20, "base": 3}


def timed(fn: Callable, clock: list[float], sync: Callable[[], None]) -> Callable:
    """Wrap ``fn`` so that its (synchronised) wall time is added to ``clock[0]``."""
    def wrapper(*args, **kwargs):
        sync()
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        sync()
        clock[0] += time.perf_counter() - start
        return out
    return wrapper


def bench(name: str, batch: tuple[int, float], updates: int, warmup: int, device: str
          ) -> dict[str, float]:
    """Time ``updates`` training updates after ``warmup`` untimed ones."""
    conf = yaml.safe_load(CONFIGS[name].read_text())
    torch.manual_seed(0)
    model = DinoSR(DinoSRConfig.from_dict(conf["model_conf"])).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), **conf["optim_conf"])
    register_teacher_step(opt, model)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    clock = [0.0]
    model.codebooks.assign = timed(model.codebooks.assign, clock, sync)
    model.codebooks.update = timed(model.codebooks.update, clock, sync)
    utts, seconds = batch
    source = torch.nn.functional.layer_norm(torch.randn(utts, int(seconds * 16000)), (int(seconds * 16000),))
    source = source.to(device)

    def update() -> None:
        model(source).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(warmup):
        update()
    clock[0] = 0.0
    sync()
    start = time.perf_counter()
    for _ in tqdm(range(updates), desc=name, leave=False):
        update()
    sync()
    elapsed = time.perf_counter() - start
    return {"updates_per_s": updates / elapsed, "audio_s_per_s": updates * utts * seconds / elapsed,
            "cluster_share": clock[0] / elapsed, "s_per_update": elapsed / updates}


def parse_batch(spec: str) -> tuple[str, tuple[int, float]]:
    """``name=BxS``: B utterances of S seconds."""
    try:
        name, shape = spec.split("=")
        b, s = shape.lower().split("x")
        return name, (int(b), float(s))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--batch expects NAME=BxS (e.g. base=2x4), got {spec!r}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=sorted(CONFIGS), default=["tiny", "base"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--batch", type=parse_batch, action="append", default=[],
                        help="NAME=BxS batch shape override, e.g. base=2x4")
    parser.add_argument("--updates", type=int, default=None,
                        help=f"timed updates per model (default {DEFAULT_UPDATES})")
    parser.add_argument("--warmup", type=int, default=1, help="untimed updates first")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    batches = {**DEFAULT_BATCH, **dict(args.batch)}
    rows = []
    for name in args.models:
        n = args.updates or DEFAULT_UPDATES[name]
        r = bench(name, batches[name], n, args.warmup, args.device)
        b, s = batches[name]
        rows.append(f"| {name} | {args.device} ({torch.get_num_threads()} thr) | {b} × {s:g} s "
                    f"| {n} | {r['s_per_update']:.3f} | {r['updates_per_s']:.2f} "
                    f"| {r['audio_s_per_s']:.1f} | {100 * r['cluster_share']:.1f} % |")
    print(f"\nCommand: python {' '.join(sys.argv)}\n")
    print("| model | device | batch | updates | s/update | updates/s | audio s/s | "
          "online clustering |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
