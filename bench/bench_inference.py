"""Inference real-time factor of DinoSR through the inference API (``DinoSRInference``).

RTF = processing seconds / audio seconds (below 1 is faster than real time). Two modes per
model size: ``features`` (all hidden states: CNN + student encoder) and ``full`` (also the
teacher's codeword indices and the heads' probabilities: a second encoder pass). Weights are
random: speed does not depend on them.

    python bench/bench_inference.py --sizes tiny base --utterances 2 --seconds 8 \\
        --doc docs/benchmarks.md
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    Timing,
    autocast,
    command_line,
    machine_line,
    markdown_table,
    model_config,
    timed,
    update_doc,
)
from dinosr_espnet.inference import DinoSRInference  # noqa: E402
from dinosr_espnet.model import DinoSR  # noqa: E402

logger = logging.getLogger("bench_inference")
SAMPLE_RATE = 16000
MODES = {"features": dict(codewords=False, head_probs=False),
         "full": dict(codewords=True, head_probs=True)}


def measure(size: str, args: argparse.Namespace, device: torch.device) -> list[list[str]]:
    """Rows (size, mode, parameters, batch, wall RTF, CPU RTF) for one model size."""
    torch.manual_seed(0)
    cfg = model_config(size)
    model = DinoSRInference(DinoSR(cfg), device=device)
    g = torch.Generator().manual_seed(1)
    samples = int(args.seconds * SAMPLE_RATE)
    waves = [torch.randn(samples, generator=g) for _ in range(args.utterances)]
    audio = args.utterances * args.seconds
    params = sum(p.numel() for p in model.model.parameters()) / 1e6
    rows = []
    for mode, flags in MODES.items():
        def call() -> None:
            with autocast(device, args.amp):
                model(waves, batch_size=args.batch_size, **flags)
        call()  # warm-up
        timing = Timing()
        for _ in tqdm(range(args.repeats), desc=f"{size} {mode}", disable=args.quiet):
            timing.add(*timed(call, device)[1:])
        wall, cpu = timing.median()
        rtf = f"{wall / audio:.4f}" + (f" / {cpu / audio:.4f}" if device.type == "cpu" else "")
        rows.append([size, mode, f"{params:.1f} M", str(args.batch_size), rtf,
                     f"{audio / wall:.1f}×"])
    return rows


def run(args: argparse.Namespace) -> str:
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for size in args.sizes:
        rows += measure(size, args, device)
    cpu = device.type == "cpu"
    table = markdown_table(["size", "mode", "parameters (student + teacher)", "batch",
                            "RTF (wall / CPU)" if cpu else "RTF", "speed (wall)"], rows)
    header = (f"`{command_line()}`\n\n{machine_line(device)}. {args.utterances} utterances × "
              f"{args.seconds:g} s of audio, AMP {args.amp}, medians of {args.repeats} runs "
              f"after a warm-up; `features` = all hidden states, `full` = also teacher "
              f"codewords and head probabilities.")
    note = ("\n\nCPU RTF is given for wall time and for process CPU time (all torch threads); "
            "the latter does not depend on other users' load." if cpu else "")
    return f"{header}\n\n{table}{note}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["tiny", "base"],
                        help="tiny, base (conf/pretrain_*.yaml) or YAML files with model_conf")
    parser.add_argument("--utterances", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per utterance")
    parser.add_argument("--batch-size", type=int, default=1, help="utterances per forward")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per mode")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--amp", choices=("none", "bf16", "fp16"), default="none")
    parser.add_argument("--doc", type=Path, help="also write the report into this markdown "
                        "file (e.g. docs/benchmarks.md), replacing the previous one")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if min(args.utterances, args.batch_size, args.repeats) < 1 or args.seconds <= 0:
        parser.error("--utterances, --batch-size, --repeats and --seconds must be positive")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    text = run(args)
    print(text)
    if args.doc:
        device = "gpu" if args.device.startswith("cuda") else f"cpu_{torch.get_num_threads()}t"
        key = f"bench_inference_{device}_{args.amp}"
        update_doc(args.doc, key, text, title=f"Inference real-time factor: "
                   f"{device.replace('_', ', ').replace('t', ' threads')}, AMP {args.amp}")
        logger.info(f"wrote {args.doc} ({key})")


if __name__ == "__main__":
    main()
