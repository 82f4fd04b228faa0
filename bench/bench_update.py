"""Time one DinoSR training update against the same student trained alone.

Three variants run on the same batch, interleaved update by update (so that load changes on a
shared machine hit all of them alike):

- ``dinosr``: the full update — student forward, EMA-teacher forward, online clustering
  (assignment, statistics, codebook EMA), loss, backward, AdamW step, teacher EMA step;
- ``student``: our student path alone (CNN, masking, encoder, heads, cross-entropy on fixed
  targets), forward/backward/step, teacher and codebooks unused;
- ``plain``: a plain-PyTorch model of identical shapes (``torch.nn.TransformerEncoderLayer``,
  ``Conv1d``, ``Linear``), forward/backward/step: the lower bound for the student's work.

Also reported: the share of the DinoSR update in online clustering and in the teacher, the
achieved GFLOP/s of the encoder forward against a 2048² fp32 GEMM measured in the same run,
and the peak working memory of one update. Layerdrop is off in every variant so that each
update does the same work.

    python bench/bench_update.py --size base --batch 2 --seconds 4 --updates 3 \\
        --doc docs/benchmarks.md
"""
from __future__ import annotations

import argparse
import logging
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    PeakMemory,
    Timing,
    autocast,
    command_line,
    gemm,
    machine_line,
    markdown_table,
    model_config,
    state_mib,
    timed,
    update_doc,
)
from dinosr_espnet.model import DinoSR, DinoSRConfig  # noqa: E402
from dinosr_espnet.model.masking import compute_span_mask  # noqa: E402

logger = logging.getLogger("bench_update")
SAMPLE_RATE = 16000


# ---------------------------------------------------------------------- plain reference
class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of (B, C, T)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class PlainStudent(nn.Module):
    """The DinoSR student's shapes in stock PyTorch modules (no teacher, no codebooks)."""

    def __init__(self, cfg: DinoSRConfig) -> None:
        super().__init__()
        layers, channels = [], 1
        for out, kernel, stride in cfg.conv_layers:
            layers += [nn.Conv1d(channels, out, kernel, stride, bias=cfg.conv_bias),
                       ChannelLayerNorm(out), nn.GELU()]
            channels = out
        self.cnn = nn.Sequential(*layers)
        self.proj = nn.Sequential(nn.LayerNorm(channels), nn.Linear(channels, cfg.embed_dim))
        self.mask_emb = nn.Parameter(torch.rand(cfg.embed_dim))
        k = cfg.pos_conv_kernel
        pos = []
        for _ in range(cfg.pos_conv_depth):
            pos += [nn.Conv1d(cfg.embed_dim, cfg.embed_dim, k, padding=k // 2,
                              groups=cfg.pos_conv_groups),
                    ChannelLayerNorm(cfg.embed_dim, elementwise_affine=False), nn.GELU()]
        self.pos_conv = nn.Sequential(*pos)
        self.norm = nn.LayerNorm(cfg.embed_dim)
        self.dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList()
        for _ in range(cfg.num_layers):
            layer = nn.TransformerEncoderLayer(cfg.embed_dim, cfg.num_heads, cfg.ffn_dim,
                                               dropout=cfg.dropout, activation="gelu",
                                               batch_first=True, norm_first=False)
            layer.self_attn.dropout = cfg.attention_dropout
            layer.dropout = nn.Dropout(cfg.activation_dropout)  # the FFN's inner dropout
            self.layers.append(layer)
        self.heads = nn.Linear(cfg.embed_dim, cfg.num_codebooks * cfg.codebook_size)

    def forward(self, source: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, L) waveform, (B, T) mask → (B, T, N·V) logits."""
        x = self.proj(self.cnn(source.unsqueeze(1)).transpose(1, 2))
        x = torch.where(mask.unsqueeze(-1), self.mask_emb.to(x.dtype), x)
        x = x + self.pos_conv(x.transpose(1, 2)).transpose(1, 2)
        x = self.dropout(self.norm(x))
        for layer in self.layers:
            x = layer(x)
        return self.heads(x)


def masked_ce(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
              num_codebooks: int) -> torch.Tensor:
    """Mean over masked frames and codebooks of the CE of (B, T, N·V) logits, targets (N, B, T)."""
    logp = logits.float().unflatten(-1, (num_codebooks, -1)).movedim(-2, 0).log_softmax(-1)
    nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return torch.where(mask, nll, 0.0).sum() / (mask.sum() * num_codebooks)


# ---------------------------------------------------------------------- variants
class Variant:
    """A model, its AdamW optimizer and one training update on a batch."""

    def __init__(self, name: str, model: nn.Module, update: Callable[..., torch.Tensor],
                 device: torch.device, amp: str) -> None:
        self.name, self.model, self._update = name, model, update
        self.device, self.amp = device, amp
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.98), eps=1e-6,
                                           weight_decay=0.01)
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")
        self.timing = Timing()
        self.phases: dict[str, Timing] = {}

    def step(self, source: torch.Tensor, targets: torch.Tensor) -> None:
        with autocast(self.device, self.amp):
            loss = self._update(source, targets)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if isinstance(self.model, DinoSR):
            self.model.on_optimizer_step()

    def state(self) -> list[torch.Tensor]:
        """Parameters, gradients-to-be, optimizer state and buffers (teacher, codebooks)."""
        tensors = list(self.model.parameters()) + list(self.model.buffers())
        tensors += [p for p in self.model.parameters() if p.requires_grad]  # gradients
        for s in self.optimizer.state.values():
            tensors += [t for t in s.values() if torch.is_tensor(t)]
        return tensors


def build_variants(cfg: DinoSRConfig, device: torch.device, amp: str) -> list[Variant]:
    """The three variants; each update draws a fresh span mask, as training does."""
    def span_mask(source: torch.Tensor) -> torch.Tensor:
        return compute_span_mask(source.shape[0], cfg.num_frames(source.shape[1]),
                                 cfg.mask_prob, cfg.mask_length, cfg.mask_min_spans,
                                 cfg.mask_equalize, device=source.device)

    torch.manual_seed(0)
    dinosr = DinoSR(cfg).to(device).train()

    def dinosr_update(source, targets):
        return dinosr(source).loss

    torch.manual_seed(0)
    student = DinoSR(cfg).to(device).train()
    student.teacher.requires_grad_(False)

    def student_update(source, targets):
        mask = span_mask(source)
        features, _, _ = student.extract_features(source)
        x = student.dropout_input(features)
        x = torch.where(mask.unsqueeze(-1), student.mask_emb.to(x.dtype), x)
        y = student.encoder(x).hidden_states[-1]
        logits = student.head_logits(y).movedim(0, -2).flatten(-2)
        return masked_ce(logits, targets, mask, cfg.num_codebooks)

    torch.manual_seed(0)
    plain = PlainStudent(cfg).to(device).train()
    if cfg.torch_compile:
        for layer in plain.layers:
            layer.compile()

    def plain_update(source, targets):
        mask = span_mask(source)
        return masked_ce(plain(source, mask), targets, mask, cfg.num_codebooks)

    return [Variant("dinosr", dinosr, dinosr_update, device, amp),
            Variant("student", student, student_update, device, amp),
            Variant("plain", plain, plain_update, device, amp)]


def instrument(model: DinoSR, phases: dict[str, Timing], device: torch.device) -> None:
    """Time the teacher forward and the clustering calls of ``model`` (synchronised)."""
    def wrap(obj: Any, name: str, phase: str) -> None:
        original = getattr(obj, name)

        def timed_call(*args, **kwargs):
            value, wall, cpu = timed(lambda: original(*args, **kwargs), device)
            phases.setdefault(phase, Timing()).add(wall, cpu)
            return value
        setattr(obj, name, timed_call)

    wrap(model.teacher, "targets", "teacher forward")
    wrap(model.codebooks, "assign", "clustering")
    wrap(model.codebooks, "update", "clustering")
    wrap(model, "on_optimizer_step", "teacher EMA step")


# ---------------------------------------------------------------------- measurements
def encoder_efficiency(model: DinoSR, features: torch.Tensor, device: torch.device,
                       amp: str, repeats: int) -> tuple[float, Timing, Timing]:
    """FLOPs of one eval-mode encoder forward on (B, T, D) features, and the timings of that
    forward and of a 2048² fp32 GEMM, interleaved so that both see the same machine load."""
    encoder = model.teacher.encoder  # eval mode, no grad: the teacher pass

    def forward() -> None:
        with torch.no_grad(), autocast(device, amp):
            encoder(features)

    counter = FlopCounterMode(display=False)
    with counter:
        forward()
    matmul, matmul_flops = gemm(device)
    enc, ref = Timing(), Timing()
    for _ in range(repeats):
        enc.add(*timed(forward, device)[1:])
        _, wall, cpu = timed(matmul, device)
        ref.add(wall / matmul_flops, cpu / matmul_flops)  # seconds per FLOP
    return float(counter.get_total_flops()), enc, ref


def trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def make_batch(cfg: DinoSRConfig, args: argparse.Namespace, device: torch.device, seed: int
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Random waveforms (B, L) and, for the student-only variants, fixed targets (N, B, T)."""
    g = torch.Generator().manual_seed(seed)
    samples = int(args.seconds * SAMPLE_RATE)
    source = torch.randn(args.batch, samples, generator=g)
    t = cfg.num_frames(samples)
    targets = torch.randint(0, cfg.codebook_size, (cfg.num_codebooks, args.batch, t), generator=g)
    return source.to(device), targets.to(device)


def run(args: argparse.Namespace) -> str:
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = model_config(args.size, layerdrop=0.0, torch_compile=args.compile,
                       activation_checkpointing=args.activation_checkpointing)
    variants = build_variants(cfg, device, args.amp)
    dinosr = variants[0]
    instrument(dinosr.model, dinosr.phases, device)
    batch = make_batch(cfg, args, device, seed=0)

    flops, peaks = {}, {}
    for i in tqdm(range(args.warmup + args.updates), desc="updates", disable=args.quiet):
        if i == args.warmup:
            dinosr.phases.clear()
        for v in variants:
            counter = FlopCounterMode(display=False)
            with counter if i == 0 and not cfg.torch_compile else nullcontext():
                with PeakMemory(device) as memory:
                    _, wall, cpu = timed(lambda: v.step(*batch), device)
            if i == 0:
                flops[v.name] = float(counter.get_total_flops()) or float("nan")
            if i >= args.warmup:
                v.timing.add(wall, cpu)
                peaks[v.name] = max(peaks.get(v.name, 0.0), memory.peak_mib)
    features = dinosr.model.extract_features(batch[0])[0].detach()
    encoder = encoder_efficiency(dinosr.model, features, device, args.amp, args.repeats)
    return report(args, cfg, device, variants, flops, peaks, encoder)


def report(args: argparse.Namespace, cfg: DinoSRConfig, device: torch.device,
           variants: list[Variant], flops: dict[str, float], peaks: dict[str, float],
           encoder: tuple[float, Timing, Timing]) -> str:
    """Markdown: header with the command and machine, per-variant table, DinoSR parts, ratios.

    On CPU every time is given as wall / process-CPU seconds; ratios and efficiencies use
    both (CPU time is the robust one on a loaded machine)."""
    by_name = {v.name: v for v in variants}
    med = {v.name: v.timing.median() for v in variants}
    cpu = device.type == "cpu"

    def pair(wall: float, cpu_s: float, fmt: str = "{:.3f}") -> str:
        return fmt.format(wall) + (" / " + fmt.format(cpu_s) if cpu else "")

    def ratio(a: str, b: str) -> str:
        return pair(med[a][0] / med[b][0], med[a][1] / med[b][1], "{:.2f}×")

    rows = []
    for name, what in (("dinosr", "DinoSR update (student + teacher + clustering + step + EMA)"),
                       ("student", "our student alone: fwd/bwd/step"),
                       ("plain", "plain PyTorch student, same shapes: fwd/bwd/step")):
        wall, cpu_s = med[name]
        rows.append([what, pair(wall, cpu_s), f"{flops[name] / 1e9:.1f}",
                     pair(flops[name] / wall / 1e9, flops[name] / cpu_s / 1e9, "{:.1f}"),
                     f"{peaks[name]:.0f}", f"{state_mib(by_name[name].state()):.0f}"])
    unit = "wall / CPU s" if cpu else "s"
    table = markdown_table(["variant", f"update ({unit})", "GFLOP (fwd+bwd)",
                            f"GFLOP/s ({'wall / CPU' if cpu else 'wall'})",
                            "peak working MiB", "model state MiB"], rows)

    total_wall, total_cpu = med["dinosr"]
    phase_rows = []
    for phase, timing in by_name["dinosr"].phases.items():
        wall, cpu_s = sum(timing.wall) / args.updates, sum(timing.cpu) / args.updates
        phase_rows.append([phase, pair(wall, cpu_s, "{:.4f}"),
                           pair(100 * wall / total_wall, 100 * cpu_s / total_cpu, "{:.1f} %")])
    phases = markdown_table(["part of the DinoSR update", unit, "share of the update"],
                            phase_rows)

    enc_flops, enc_timing, gemm_timing = encoder
    enc_wall, enc_cpu = enc_timing.median()
    gemm_wall, gemm_cpu = (1e-9 / t for t in gemm_timing.median())
    enc_rate = (enc_flops / enc_wall / 1e9, enc_flops / enc_cpu / 1e9)
    lines = [
        f"- encoder forward (eval, pos-conv + {cfg.num_layers} layers, {args.batch} × "
        f"{args.seconds:g} s): {enc_flops / 1e9:.1f} GFLOP, {pair(enc_wall, enc_cpu)} s = "
        f"**{pair(*enc_rate, '{:.1f}')} GFLOP/s** vs fp32 2048² GEMM "
        f"{pair(gemm_wall, gemm_cpu, '{:.1f}')} GFLOP/s (medians of {args.repeats}, "
        f"interleaved): **"
        + pair(100 * enc_rate[0] / gemm_wall, 100 * enc_rate[1] / gemm_cpu, "{:.0f} %") + "**",
        f"- DinoSR update / plain student: **{ratio('dinosr', 'plain')}**; DinoSR / our student: "
        f"{ratio('dinosr', 'student')}; our student / plain: {ratio('student', 'plain')}",
        "- trainable parameters: DinoSR student "
        + ", plain reference ".join(f"{trainable(by_name[n].model) / 1e6:.2f} M"
                                    for n in ("dinosr", "plain")),
    ]
    if cpu:
        lines.append("- CPU figures: process CPU time over all torch threads (GFLOP/s per CPU "
                     "second); wall time depends on the machine's load")
    size = args.size if args.size in ("tiny", "base") else Path(args.size).name
    header = (f"`{command_line()}`\n\n{machine_line(device)}. Size {size} "
              f"(V={cfg.codebook_size}, N={cfg.num_codebooks}, D={cfg.embed_dim}), batch "
              f"{args.batch} × {args.seconds:g} s, AMP {args.amp}, compile {cfg.torch_compile}, "
              f"activation checkpointing {cfg.activation_checkpointing}, layerdrop 0; medians of "
              f"{args.updates} updates after {args.warmup} warm-up, variants interleaved.")
    return "\n\n".join([header, table, phases, "\n".join(lines)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="base",
                        help="tiny, base (conf/pretrain_*.yaml) or a YAML with model_conf")
    parser.add_argument("--batch", type=int, default=2, help="utterances per batch")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per utterance")
    parser.add_argument("--updates", type=int, default=3, help="timed updates per variant")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed updates per variant (>= 1; the first counts FLOPs)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="encoder forwards and GEMMs timed for the efficiency figure")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--amp", choices=("none", "bf16", "fp16"), default="none",
                        help="autocast dtype (codebooks stay fp32); fp16 uses a GradScaler")
    parser.add_argument("--compile", action="store_true", help="torch.compile the layers")
    parser.add_argument("--activation-checkpointing", action="store_true")
    parser.add_argument("--doc", type=Path, help="also write the report into this markdown "
                        "file (e.g. docs/benchmarks.md), replacing the previous one")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if min(args.updates, args.warmup, args.batch, args.repeats) < 1 or args.seconds <= 0:
        parser.error("--updates, --warmup, --batch and --seconds must be positive")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    text = run(args)
    print(text)
    if args.doc:
        device = "gpu" if args.device.startswith("cuda") else f"cpu_{torch.get_num_threads()}t"
        key = f"bench_update_{Path(args.size).stem}_{device}_{args.amp}"
        update_doc(args.doc, key, text, title=f"Training update: {Path(args.size).stem}, "
                   f"{device.replace('_', ', ').replace('t', ' threads')}, AMP {args.amp}")
        logger.info(f"wrote {args.doc} ({key})")


if __name__ == "__main__":
    main()
