"""Training updates of DinoSR implementations and feature extractions, timed one at a time.

``bench/bench_peers.py`` starts this file as a subprocess in another Python (SpidR's venv made
by ``bench/setup_peers.sh``: SpidR needs Python >= 3.12 and its own torch) and drives it
update by update, interleaved with the implementations it runs itself. The same classes run
our update in the benchmark's own process.

Protocol: one JSON object per line on stdin, one answer per line on stdout (``ok`` false and
``error`` on failure); everything else this process prints goes to stderr.

    {"cmd": "build", "impl": "spidr", "kwargs": {...}}  -> {"ok": true, "info": {...}}
    {"cmd": "step"}                                     -> {"ok": true, "wall": s, "cpu": s,
                                                            "peak_mib": MiB, "loss": float}
    {"cmd": "resize", "seconds": 8.0}                   -> new batch, same model
    {"cmd": "quit"}

Implementations: ``ours`` (``dinosr_espnet``'s ``DinoSR`` and the step of its ESPnet
trainer), ``spidr`` (SpidR's ``DinoSR`` and the step of ``spidr/train.py``),
``spidr-student`` (SpidR's student alone on fixed targets, same step, no teacher) and
``extract`` (one eval forward returning every hidden state: ours or torchaudio's wav2vec 2.0,
see ``extractors``). ``"release": true`` in ``build`` calls ``common.release_freed_memory``
first (memory runs).
"""
from __future__ import annotations

import json
import os
import platform
import sys
import traceback
from pathlib import Path
from typing import Any, Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PeakMemory, autocast, release_freed_memory, timed  # noqa: E402

SAMPLE_RATE = 16000


def waveforms(batch: int, seconds: float, device: torch.device, seed: int = 0) -> torch.Tensor:
    """Seeded random (batch, samples) audio; speed does not depend on the values."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, int(seconds * SAMPLE_RATE), generator=g).to(device)


def trainable_millions(model: torch.nn.Module) -> float:
    return sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6


class Update:
    """One implementation's model, optimizer and batch; ``step`` is one training update."""

    def __init__(self, batch: int, seconds: float, device: str, amp: str) -> None:
        self.batch, self.device, self.amp = batch, torch.device(device), amp
        self.resize(seconds)

    def resize(self, seconds: float) -> None:
        self.seconds = seconds
        self.source = waveforms(self.batch, seconds, self.device)

    def step(self) -> float:
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        raise NotImplementedError


class OursUpdate(Update):
    """Our ``DinoSR`` update as the ESPnet trainer runs it: forward (span mask, student,
    teacher, clustering, loss), backward, gradient norm (ESPnet computes it every update to
    skip non-finite ones; ``grad_clip: inf`` in the recipes), optimizer step built from the
    recipe's ``optim_conf``, teacher EMA step."""

    def __init__(self, config: dict[str, Any], optim_conf: dict[str, Any], batch: int,
                 seconds: float, device: str, amp: str) -> None:
        from dinosr_espnet.model import DinoSR, DinoSRConfig

        torch.manual_seed(0)
        self.model = DinoSR(DinoSRConfig.from_dict(config)).to(device).train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), **optim_conf)
        self.scaler = torch.amp.GradScaler(torch.device(device).type, enabled=amp == "fp16")
        super().__init__(batch, seconds, device, amp)

    def step(self) -> float:
        with autocast(self.device, self.amp):
            loss = self.model(self.source).loss
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), float("inf"))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.model.on_optimizer_step()
        return float(loss.detach())

    def info(self) -> dict[str, Any]:
        return {"trainable_M": trainable_millions(self.model),
                "frames": self.model.cfg.num_frames(self.source.shape[1])}


class SpidRUpdate(Update):
    """SpidR's ``DinoSR`` update as ``spidr/train.py`` runs it: autocast forward with the
    data loader's span mask indices, loss summed and divided by the masked-frame count,
    backward, gradient clipping (max norm 10), its AdamW (fused) and LR scheduler step, then
    ``update_ema``. Masks are drawn by SpidR's ``MaskGenerator`` before the timed update, as
    its data loader does in worker processes. Layerdrop is set to 0 (as for ours)."""

    def __init__(self, batch: int, seconds: float, device: str, amp: str,
                 student_only: bool = False) -> None:
        from spidr.config import DinoSRConfig, MaskingConfig, OptimizerConfig
        from spidr.data.masks import MaskGenerator
        from spidr.models import DinoSR
        from spidr.optimizer import build_optimizer

        self.cfg = DinoSRConfig(encoder_layer_drop=0.0)
        torch.manual_seed(0)
        self.model = DinoSR(self.cfg).to(device).train()
        dtype = {"none": "float32", "bf16": "bfloat16", "fp16": "float16"}[amp]
        self.opt_cfg = OptimizerConfig(dtype=dtype)
        self.optimizer, self.scaler, self.scheduler = build_optimizer(self.model, self.opt_cfg)
        self.masks = MaskGenerator(MaskingConfig())
        self.student_only = student_only
        self.updates = 0
        super().__init__(batch, seconds, device, amp)

    def frames(self, samples: int) -> int:
        for _, kernel, stride in self.cfg.extractor_conv_layer_config:
            samples = (samples - kernel) // stride + 1
        return samples

    def resize(self, seconds: float) -> None:
        super().resize(seconds)
        t = self.frames(self.source.shape[1])
        g = torch.Generator().manual_seed(1)
        indices, _ = self.masks(torch.zeros(self.batch, t, dtype=torch.bool), generator=g)
        self.mask_indices = indices.to(self.device)
        codebooks, size = self.cfg.num_codebooks, self.cfg.codebook_size
        self.targets = torch.randint(0, size, (codebooks, indices.numel()), generator=g
                                     ).to(self.device)

    def student_loss(self) -> torch.Tensor:
        """SpidR's student path of ``DinoSR.forward`` on fixed targets (no teacher)."""
        from spidr.models.components import mask_from_index, select_masked

        m = self.model
        x = m.projection_dropout(m.feature_projection(m.feature_extractor(self.source)))
        mask = mask_from_index(self.mask_indices, x.shape[1])
        x = torch.where(mask.unsqueeze(-1), m.mask_embedding.to(x.dtype).expand_as(x), x)
        x = select_masked(m.student(x, None), self.mask_indices)
        nll = [-m.heads[i](x).gather(-1, self.targets[i].unsqueeze(-1)).squeeze(-1)
               for i in range(m.num_codebooks)]
        return torch.stack(nll).sum(0) / m.num_codebooks

    def step(self) -> float:
        with torch.autocast(self.device.type, self.opt_cfg_dtype(),
                            enabled=self.opt_cfg.mixed_precision):
            if self.student_only:
                losses = self.student_loss()
            else:
                losses, _ = self.model(self.source, mask_indices=self.mask_indices)
        loss = losses.sum() / self.mask_indices.numel()
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.opt_cfg.max_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.updates += 1
        if not self.student_only:
            self.model.update_ema(self.updates)
        return float(loss.detach())

    def opt_cfg_dtype(self) -> torch.dtype:
        return {"float32": torch.float32, "float16": torch.float16,
                "bfloat16": torch.bfloat16}[self.opt_cfg.dtype]

    def info(self) -> dict[str, Any]:
        t = self.frames(self.source.shape[1])
        return {"trainable_M": trainable_millions(self.model), "frames": t,
                "masked_frac": self.mask_indices.shape[1] / t}


def torchaudio_extractors() -> dict[str, torch.nn.Module]:
    """torchaudio's stock ``wav2vec2_base()`` and a ``wav2vec2_model`` of exactly our BASE
    shapes (LayerNorm in every CNN block, one 95-tap positional convolution = our 5 × 19
    taps); random weights, which speed does not depend on."""
    from torchaudio.models import wav2vec2_base, wav2vec2_model

    from common import model_config

    cfg = model_config("base")
    matched = wav2vec2_model(
        extractor_mode="layer_norm", extractor_conv_layer_config=cfg.conv_layers,
        extractor_conv_bias=cfg.conv_bias, encoder_embed_dim=cfg.embed_dim,
        encoder_projection_dropout=cfg.dropout_input,
        encoder_pos_conv_kernel=cfg.pos_conv_kernel * cfg.pos_conv_depth,
        encoder_pos_conv_groups=cfg.pos_conv_groups, encoder_num_layers=cfg.num_layers,
        encoder_num_heads=cfg.num_heads, encoder_attention_dropout=cfg.attention_dropout,
        encoder_ff_interm_features=cfg.ffn_dim, encoder_ff_interm_dropout=cfg.activation_dropout,
        encoder_dropout=cfg.dropout, encoder_layer_norm_first=False,
        encoder_layer_drop=cfg.layerdrop, aux_num_out=None)
    return {"torchaudio wav2vec2_base()": wav2vec2_base(), MATCHED: matched}


OURS_EXTRACT = "ours: DinoSR.extract"
MATCHED = "torchaudio wav2vec2_model, our shapes"


def extractors(names: Optional[list[str]] = None) -> dict[str, torch.nn.Module]:
    """Name → eval-mode model: ours (BASE ``DinoSR``) and torchaudio's (see above)."""
    from common import model_config
    from dinosr_espnet.model import DinoSR

    models: dict[str, torch.nn.Module] = {}
    if names is None or OURS_EXTRACT in names:
        torch.manual_seed(0)
        models[OURS_EXTRACT] = DinoSR(model_config("base"))
    if names is None or any(n != OURS_EXTRACT for n in names):
        models.update((k, v) for k, v in torchaudio_extractors().items()
                      if names is None or k in names)
    return {k: v.eval() for k, v in models.items()}


def hidden_states(name: str, model: torch.nn.Module, source: torch.Tensor
                  ) -> list[torch.Tensor]:
    """Every hidden state of ``source`` (ours: K + 1 with the input; torchaudio: K)."""
    if name == OURS_EXTRACT:
        return model.extract(source, codewords=False, head_probs=False).hidden_states
    return model.extract_features(source)[0]


class Extraction(Update):
    """One extractor's eval forward, no grad, returning every hidden state."""

    def __init__(self, model: str, batch: int, seconds: float, device: str, amp: str) -> None:
        self.name = model
        self.model = extractors([model])[model].to(device)
        super().__init__(batch, seconds, device, amp)

    def step(self) -> float:
        with torch.no_grad(), autocast(self.device, self.amp):
            return float(len(hidden_states(self.name, self.model, self.source)))

    def info(self) -> dict[str, Any]:
        return {"parameters_M": sum(p.numel() for p in self.model.parameters()) / 1e6}


def build(impl: str, kwargs: dict[str, Any]) -> Update:
    if impl == "extract":
        return Extraction(**kwargs)
    if impl == "ours":
        return OursUpdate(**kwargs)
    if impl == "spidr":
        return SpidRUpdate(**kwargs)
    if impl == "spidr-student":
        return SpidRUpdate(**kwargs, student_only=True)
    raise ValueError(f"unknown implementation {impl!r} (ours, spidr, spidr-student)")


def timed_step(update: Update) -> dict[str, Any]:
    """Wall and CPU seconds and peak working memory (MiB above the level before) of one update."""
    with PeakMemory(update.device) as memory:
        loss, wall, cpu = timed(update.step, update.device)
    return {"wall": wall, "cpu": cpu, "peak_mib": memory.peak_mib, "loss": loss}


def environment() -> dict[str, str]:
    return {"torch": torch.__version__, "python": platform.python_version()}


def serve(answer: Any) -> None:
    """Answer the commands on stdin until ``quit`` or end of input."""
    update: Optional[Update] = None
    for line in sys.stdin:
        request = json.loads(line)
        try:
            cmd = request["cmd"]
            if cmd == "quit":
                break
            if cmd == "build":
                torch.set_num_threads(request.get("threads") or torch.get_num_threads())
                update = None
                if request.get("release"):
                    release_freed_memory()
                update = build(request["impl"], request["kwargs"])
                reply = {"info": {**update.info(), **environment(),
                                  "threads": torch.get_num_threads()}}
            elif update is None:
                raise ValueError(f"{cmd!r} before a successful 'build'")
            elif cmd == "step":
                reply = timed_step(update)
            elif cmd == "resize":
                update.resize(float(request["seconds"]))
                reply = {"info": update.info()}
            else:
                raise ValueError(f"unknown command {cmd!r}")
            answer({"ok": True, **reply})
        except Exception as e:  # reported to the benchmark, which stops with the message
            traceback.print_exc(file=sys.stderr)
            answer({"ok": False, "error": f"{type(e).__name__}: {e}"})


def main() -> None:
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not break the protocol
    serve(lambda reply: print(json.dumps(reply), file=protocol, flush=True))


if __name__ == "__main__":
    main()
