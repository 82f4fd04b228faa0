"""Speed against the peers: our DinoSR update vs SpidR's, our feature extraction vs torchaudio's.

In one run, interleaved round by round on the same batch and thread count:

- **training update** (BASE, layerdrop 0 everywhere): our ``DinoSR`` update as the ESPnet
  trainer runs it; SpidR's ``DinoSR`` update as ``spidr/train.py`` runs it (its student,
  teacher, clustering, fused AdamW, EMA); SpidR's student alone; a plain-PyTorch student of
  our shapes with our optimizer (``bench_update.PlainStudent``); and, as a cross-check, our
  update again under SpidR's Python and torch. SpidR needs Python >= 3.12, so it runs in a
  worker process (``bench/peers_worker.py``) in the venv made by ``bench/setup_peers.sh``;
  the worker times its own updates (wall, process CPU, peak resident memory).
- **feature extraction** (all hidden states, eval, no grad): ``DinoSR.extract`` against
  torchaudio's wav2vec 2.0 BASE encoder, both the stock ``wav2vec2_base()`` and a
  ``wav2vec2_model`` of exactly our shapes (LayerNorm CNN, 95-tap positional convolution).
- **memory**: peak working memory of one update at 4, 8 and 16 s of audio per batch, ours
  vs SpidR's (glibc set to return freed memory at once in both processes, so that resident
  memory follows live tensors).

CPU runs use ``--threads`` torch threads in both processes. When CUDA is visible the same
comparisons also run on the GPU in fp32 and bf16 autocast; otherwise the report says that
the GPU part was not run.

    bench/setup_peers.sh
    python bench/bench_peers.py --threads 1 --doc docs/benchmarks.md
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_update import PlainStudent, masked_ce  # noqa: E402
from common import (  # noqa: E402
    PeakMemory,
    Timing,
    autocast,
    command_line,
    machine_line,
    markdown_table,
    model_config,
    recipe_config,
    timed,
    update_doc,
)
from dinosr_espnet.model.masking import compute_span_mask  # noqa: E402
from peers_worker import (  # noqa: E402
    MATCHED,
    OURS_EXTRACT,
    OursUpdate,
    Update,
    extractors,
    hidden_states,
    timed_step,
    waveforms,
)

logger = logging.getLogger("bench_peers")
HERE = Path(__file__).resolve().parent
DEFAULT_PEER_PYTHON = HERE / ".peers_venv" / "bin" / "python"
SAMPLE_RATE = 16000


class PeerError(RuntimeError):
    """The peer worker failed or is missing."""


# ---------------------------------------------------------------------- implementations
class PlainUpdate(Update):
    """``bench_update.PlainStudent`` (stock ``nn.TransformerEncoderLayer`` etc., our shapes)
    with our optimizer and trainer step, cross-entropy on fixed targets at span-masked frames."""

    def __init__(self, cfg: Any, optim_conf: dict[str, Any], batch: int, seconds: float,
                 device: str, amp: str) -> None:
        self.cfg = cfg
        torch.manual_seed(0)
        self.model = PlainStudent(cfg).to(device).train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), **optim_conf)
        self.scaler = torch.amp.GradScaler(torch.device(device).type, enabled=amp == "fp16")
        super().__init__(batch, seconds, device, amp)

    def resize(self, seconds: float) -> None:
        super().resize(seconds)
        t = self.cfg.num_frames(self.source.shape[1])
        g = torch.Generator().manual_seed(2)
        self.targets = torch.randint(0, self.cfg.codebook_size,
                                     (self.cfg.num_codebooks, self.batch, t), generator=g
                                     ).to(self.device)

    def step(self) -> float:
        cfg = self.cfg
        with autocast(self.device, self.amp):
            mask = compute_span_mask(self.batch, self.targets.shape[-1], cfg.mask_prob,
                                     cfg.mask_length, cfg.mask_min_spans, cfg.mask_equalize,
                                     device=self.device)
            loss = masked_ce(self.model(self.source, mask), self.targets, mask,
                             cfg.num_codebooks)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), float("inf"))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    def info(self) -> dict[str, Any]:
        return {"trainable_M": sum(p.numel() for p in self.model.parameters()) / 1e6,
                "frames": self.targets.shape[-1]}


class Local:
    """An implementation in this process, driven like a ``Peer``."""

    def __init__(self, update: Update) -> None:
        self.update = update
        self.info = {**update.info(), "torch": torch.__version__,
                     "python": ".".join(map(str, sys.version_info[:3]))}

    def step(self) -> dict[str, Any]:
        return timed_step(self.update)

    def close(self) -> None:
        self.update = None


class Peer:
    """An implementation in a worker process of another Python (``bench/peers_worker.py``)."""

    def __init__(self, python: Path, impl: str, kwargs: dict[str, Any], threads: int,
                 release: bool = False) -> None:
        if not python.exists():
            raise PeerError(f"no peer Python at {python}: run bench/setup_peers.sh first "
                            f"(or pass --peer-python)")
        env = {**os.environ, "PYTHONPATH": ""}
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        self.impl = impl
        self.process = subprocess.Popen([str(python), str(HERE / "peers_worker.py")],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, env=env)
        self.info = self.call({"cmd": "build", "impl": impl, "kwargs": kwargs,
                               "threads": threads, "release": release})["info"]

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise PeerError(f"peer worker {self.impl!r} exited (code {self.process.wait()}); "
                            "its error is above")
        reply = json.loads(line)
        if not reply.pop("ok"):
            raise PeerError(f"peer worker {self.impl!r}: {reply['error']}")
        return reply

    def step(self) -> dict[str, Any]:
        return self.call({"cmd": "step"})

    def resize(self, seconds: float) -> None:
        self.call({"cmd": "resize", "seconds": seconds})

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.process.stdin.close()
            self.process.wait()


# ---------------------------------------------------------------------- measurements
def ours_kwargs(device: str, amp: str, batch: int, seconds: float) -> dict[str, Any]:
    """``OursUpdate`` arguments: BASE ``model_conf`` (layerdrop 0) and ``optim_conf`` of
    ``conf/pretrain_base.yaml``, i.e. what ESPnet builds from the recipe."""
    recipe = recipe_config("base")
    return {"config": model_config("base", layerdrop=0.0).to_dict(),
            "optim_conf": dict(recipe.get("optim_conf", {})),
            "batch": batch, "seconds": seconds, "device": device, "amp": amp}


def build_updates(args: argparse.Namespace, device: str, amp: str, batch: int,
                  seconds: float) -> dict[str, Any]:
    """Name → Local/Peer of every update variant (see the module docstring)."""
    ours = ours_kwargs(device, amp, batch, seconds)
    common = {"batch": batch, "seconds": seconds, "device": device, "amp": amp}
    cfg = model_config("base", layerdrop=0.0)
    variants = {"ours": Local(OursUpdate(**ours)),
                "plain": Local(PlainUpdate(cfg, ours["optim_conf"], **common))}
    peer = Path(args.peer_python)
    variants["spidr"] = Peer(peer, "spidr", common, args.threads)
    variants["spidr-student"] = Peer(peer, "spidr-student", common, args.threads)
    if args.cross_check:
        variants["ours@peer"] = Peer(peer, "ours", ours, args.threads)
    return variants


def time_updates(variants: dict[str, Any], args: argparse.Namespace) -> dict[str, Timing]:
    """Interleaved rounds (the order rotates each round)."""
    timings = {name: Timing() for name in variants}
    names = list(variants)
    for i in range(args.warmup + args.updates):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            result = variants[name].step()
            logger.info(f"round {i}: {name} {result['wall']:.2f} s wall, {result['cpu']:.2f} "
                        f"s CPU, {result['peak_mib']:.0f} MiB")
            if i >= args.warmup:
                timings[name].add(result["wall"], result["cpu"])
    return timings


def fresh_peak(python: Path, impl: str, kwargs: dict[str, Any], threads: int,
               seconds: list[float]) -> list[float]:
    """Peak working MiB of the second step at each utterance length, in a fresh process that
    returns freed memory at once (so resident memory follows live tensors)."""
    peer = Peer(python, impl, kwargs, threads, release=True)
    try:
        peaks = []
        for s in seconds:
            peer.resize(s)
            peer.step()
            peaks.append(peer.step()["peak_mib"])
            logger.info(f"memory {impl} {kwargs.get('model', '')} {s:g} s: {peaks[-1]:.0f} MiB")
        return peaks
    finally:
        peer.close()


def memory_sweep(args: argparse.Namespace, device: str, amp: str, batch: int
                 ) -> dict[float, dict[str, float]]:
    """Batch audio seconds → {"ours", "spidr"} → peak working MiB of one update."""
    seconds = sorted(args.memory_seconds)
    ours = fresh_peak(Path(sys.executable), "ours",
                      ours_kwargs(device, amp, batch, seconds[0]), args.threads, seconds)
    common = {"batch": batch, "seconds": seconds[0], "device": device, "amp": amp}
    spidr = fresh_peak(Path(args.peer_python), "spidr", common, args.threads, seconds)
    return {s * batch: {"ours": o, "spidr": p} for s, o, p in zip(seconds, ours, spidr)}


def time_extraction(device: torch.device, amp: str, batch: int, seconds: float,
                    args: argparse.Namespace
                    ) -> tuple[dict[str, Timing], dict[str, float], dict[str, int]]:
    """Interleaved eval forwards returning every hidden state (medians, hidden-state counts),
    then each extractor's peak working memory in a fresh process (see ``fresh_peak``)."""
    source = waveforms(batch, seconds, device, seed=3)
    models = {name: m.to(device) for name, m in extractors().items()}
    timings = {name: Timing() for name in models}
    layers = {}
    names = list(models)
    for i in range(args.warmup + args.updates):
        for name in names[i % len(names):] + names[:i % len(names)]:
            with torch.no_grad(), autocast(device, amp):
                hidden, wall, cpu = timed(
                    lambda: hidden_states(name, models[name], source), device)
            layers[name] = len(hidden)
            del hidden
            if i >= args.warmup:
                timings[name].add(wall, cpu)
    del models
    peaks = {}
    for name in names:
        kwargs = {"model": name, "batch": batch, "seconds": seconds, "device": device.type,
                  "amp": amp}
        peaks[name] = fresh_peak(Path(sys.executable), "extract", kwargs, args.threads,
                                 [seconds])[0]
    return timings, peaks, layers


# ---------------------------------------------------------------------- report
LABELS = {
    "ours": "ours: DinoSR update (ESPnet trainer step)",
    "spidr": "SpidR: DinoSR update (spidr/train.py step)",
    "spidr-student": "SpidR: its student alone, same step",
    "plain": "plain PyTorch student, our shapes and step",
    "ours@peer": "ours again, under SpidR's Python and torch",
}


def run_section(args: argparse.Namespace, device: str, amp: str, batch: int, seconds: float
                ) -> str:
    """All comparisons on one device and precision; returns the markdown report."""
    load_before = os.getloadavg()[0] if device == "cpu" else None
    variants = build_updates(args, device, amp, batch, seconds)
    try:
        timings = time_updates(variants, args)
        infos = {name: v.info for name, v in variants.items()}
    finally:
        for v in variants.values():
            v.close()
    del variants
    extraction = time_extraction(torch.device(device), amp, batch, seconds, args)
    memory = memory_sweep(args, device, amp, batch) if args.memory_seconds else {}
    return report(args, torch.device(device), amp, batch, seconds, timings, infos,
                  extraction, memory, load_before)


def report(args: argparse.Namespace, device: torch.device, amp: str, batch: int,
           seconds: float, timings: dict[str, Timing],
           infos: dict[str, dict[str, Any]], extraction: tuple, memory: dict,
           load_before: Optional[float]) -> str:
    cpu = device.type == "cpu"
    med = {name: t.median() for name, t in timings.items()}

    def pair(values: tuple[float, float], fmt: str = "{:.3f}") -> str:
        return fmt.format(values[0]) + (" / " + fmt.format(values[1]) if cpu else "")

    def ratio(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
        return a[0] / b[0], a[1] / b[1]

    unit = "wall / CPU s" if cpu else "s"
    rows = []
    for name in timings:
        info = infos[name]
        rows.append([LABELS[name], f"{info['torch']} (Python {info['python']})",
                     pair(med[name]), pair(ratio(med[name], med["spidr"]), "{:.2f}×"),
                     f"{info['trainable_M']:.2f} M"])
    update_table = markdown_table(["update", "torch", f"median ({unit})", "÷ SpidR update",
                                   "trainable"], rows)

    ours_spidr = ratio(med["ours"], med["spidr"])
    ours_plain = ratio(med["ours"], med["plain"])
    ext_t, ext_peaks, ext_layers = extraction
    ext_med = {name: t.median() for name, t in ext_t.items()}
    ours_ext = OURS_EXTRACT
    ta_names = [n for n in ext_med if n != ours_ext]
    ext_rows = []
    audio = batch * seconds
    for name, m in ext_med.items():
        ext_rows.append([name, pair(m), pair((m[0] / audio, m[1] / audio), "{:.4f}"),
                         pair(ratio(ext_med[ours_ext], m), "{:.2f}×") if name != ours_ext
                         else "", f"{ext_peaks[name]:.0f}", ext_layers[name]])
    ext_table = markdown_table(["extraction", f"median ({unit})", "RTF", "ours ÷ this",
                                "peak working MiB", "hidden states"], ext_rows)
    matched = ratio(ext_med[ours_ext], ext_med[MATCHED])
    stock = [ratio(ext_med[ours_ext], ext_med[n]) for n in ta_names if n != MATCHED]

    basis = 1 if cpu else 0  # CPU time is the robust figure on a loaded CPU

    def verdict(value: tuple[float, float], limit: float) -> str:
        return "met" if value[basis] <= limit else "**missed**"

    target_rows = [
        ["our update ≤ 0.95 × SpidR's", pair(ours_spidr, "{:.2f}×"),
         verdict(ours_spidr, 0.95)],
        ["our extraction ≤ 1.0 × torchaudio's, same shapes", pair(matched, "{:.2f}×"),
         verdict(matched, 1.0)],
        *[["(for information: ÷ stock wav2vec2_base(), a lighter CNN and positional conv)",
           pair(r, "{:.2f}×"), ""] for r in stock],
        ["DinoSR update ≤ 1.10 × plain student", pair(ours_plain, "{:.2f}×"),
         verdict(ours_plain, 1.10)],
    ]
    sections = [f"`{command_line()}`", _header(device, amp, batch, seconds, args, infos,
                                               load_before), update_table]
    extra = [f"- SpidR update ÷ its student alone: "
             f"{pair(ratio(med['spidr'], med['spidr-student']), '{:.2f}×')}; "
             f"ours ÷ plain student: {pair(ours_plain, '{:.2f}×')}"]
    if "ours@peer" in med:
        extra.append(f"- ours under SpidR's torch {infos['ours@peer']['torch']} ÷ SpidR: "
                     f"{pair(ratio(med['ours@peer'], med['spidr']), '{:.2f}×')} (same "
                     f"torch); ours under torch {infos['ours']['torch']} ÷ ours under "
                     f"{infos['ours@peer']['torch']}: "
                     f"{pair(ratio(med['ours'], med['ours@peer']), '{:.2f}×')}")
    extra.append(f"- masked frames: SpidR {100 * infos['spidr']['masked_frac']:.0f} % "
                 f"(its mask generator, equal count per row), ours drawn per update "
                 f"(mask_prob 0.8, span 10)")
    sections += ["\n".join(extra), ext_table]
    if memory:
        mem_rows = []
        for total, peaks_at in memory.items():
            mem_rows.append([f"{batch} × {total / batch:g} s = {total:g} s",
                             f"{peaks_at['ours']:.0f}", f"{peaks_at['spidr']:.0f}",
                             f"{peaks_at['ours'] / peaks_at['spidr']:.2f}×"])
        sections.append(markdown_table(["batch audio", "ours: peak working MiB",
                                        "SpidR: peak working MiB", "ours ÷ SpidR"], mem_rows))
        worst = max(p["ours"] / p["spidr"] for p in memory.values())
        target_rows.append(["peak working memory ≤ SpidR's (each size)", f"{worst:.2f}×",
                            "met" if worst <= 1.0 else "**missed**"])
    sections.append(markdown_table(["target", "measured (wall / CPU)" if cpu else "measured",
                                    "on CPU time" if cpu else ""], target_rows))
    return "\n\n".join(sections)


def _header(device: torch.device, amp: str, batch: int, seconds: float,
            args: argparse.Namespace, infos: dict[str, dict[str, Any]],
            load_before: Optional[float]) -> str:
    line = machine_line(device)
    if load_before is not None:
        line += f" (load average {load_before:.1f} at the start)"
    return (f"{line}. BASE (V=256, N=8, D=768, 12 layers), batch {batch} × {seconds:g} s, "
            f"AMP {amp}, layerdrop 0, eager (no torch.compile); medians of {args.updates} "
            f"updates after {args.warmup} warm-up, variants interleaved round by round (order "
            f"rotating); peer Python {infos['spidr']['python']}, "
            f"{infos['spidr']['threads']} torch thread(s) there too. Peak working MiB (tables "
            f"below): "
            + ("resident memory above the level before the step, in a fresh process per "
               "implementation that returns freed memory at once (peak of the second step at "
               "that size)." if device.type == "cpu"
               else "CUDA allocator peak above the level before the step."))


GPU_NOT_RUN = ("GPU part not run: no CUDA device was visible to torch on this machine. On a "
               "GPU machine the same command also times fp32 and bf16 autocast on CUDA "
               "(`--gpu-batch`, `--gpu-seconds`) and writes those blocks here.")


def has_gpu_results(doc: str) -> bool:
    """Whether ``doc`` already holds GPU figures (a CPU-only run must not erase them)."""
    begin, end = "<!-- bench_peers_gpu_none:begin -->", "<!-- bench_peers_gpu_none:end -->"
    return begin in doc and "|" in doc.split(begin, 1)[1].split(end, 1)[0]


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=2, help="utterances per batch (CPU)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per utterance (CPU)")
    parser.add_argument("--updates", type=int, default=5, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (>= 1)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads in both processes (0: torch's default)")
    parser.add_argument("--memory-seconds", type=float, nargs="*", default=[2.0, 4.0, 8.0],
                        help="utterance lengths of the memory sweep (batch --batch)")
    parser.add_argument("--gpu-batch", type=int, default=8)
    parser.add_argument("--gpu-seconds", type=float, default=15.0)
    parser.add_argument("--no-cpu", action="store_true", help="GPU part only")
    parser.add_argument("--no-cross-check", dest="cross_check", action="store_false",
                        help="skip our update under the peer's Python and torch")
    parser.add_argument("--peer-python", default=str(DEFAULT_PEER_PYTHON),
                        help="Python of the venv with spidr (bench/setup_peers.sh)")
    parser.add_argument("--doc", type=Path, help="also write the report blocks into this "
                        "markdown file (e.g. docs/benchmarks.md)")
    args = parser.parse_args(argv)
    if min(args.updates, args.warmup, args.batch, args.gpu_batch) < 1 or args.seconds <= 0:
        parser.error("--updates, --warmup, --batch and --seconds must be positive")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)

    blocks: dict[str, str] = {}
    try:
        if not args.no_cpu:
            blocks[f"bench_peers_cpu_{torch.get_num_threads()}t"] = run_section(
                args, "cpu", "none", args.batch, args.seconds)
        if torch.cuda.is_available():
            for amp in ("none", "bf16"):
                blocks[f"bench_peers_gpu_{amp}"] = run_section(
                    args, "cuda", amp, args.gpu_batch, args.gpu_seconds)
    except PeerError as e:
        sys.exit(f"bench_peers: {e}")
    gpu_note = None if torch.cuda.is_available() else GPU_NOT_RUN
    for key, text in blocks.items():
        print(f"\n## {key}\n\n{text}")
    if gpu_note:
        print(f"\n{gpu_note}")
    if args.doc:
        for key, text in blocks.items():
            update_doc(args.doc, key, text)
        if gpu_note and not has_gpu_results(args.doc.read_text()):
            update_doc(args.doc, "bench_peers_gpu_none", gpu_note)
        logger.info(f"wrote {args.doc}")


if __name__ == "__main__":
    main()
