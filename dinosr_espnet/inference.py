"""Inference API for trained DinoSR models: the one entry point for every downstream tool.

    model = DinoSRInference.from_pretrained("exp/dinosr/valid.loss.best.pth")
    results = model([wav_a, wav_b], layers=[5, 12])
    results[0].hidden_states[5]      # (T, D) output of transformer layer 5
    results[0].codeword_indices      # (N, T) teacher codewords, codebook k ↔ layer
                                     #   model.target_layers[k] + 1 in hidden-state numbering
    results[0].head_probs            # (N, T, V) student predictions

Waveforms are 16 kHz mono (the model's ``fs``), standardised per file exactly as in training
(``dinosr_espnet.espnet.collate.standardize``), batched with zero padding and a padding mask.
Hidden-state index 0 is the transformer input (projected CNN features), i the output of layer i.
"""
from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
import yaml

from dinosr_espnet.espnet.collate import standardize
from dinosr_espnet.interop.espnet_dir import resolve_model_file
from dinosr_espnet.model.config import DinoSRConfig
from dinosr_espnet.model.dinosr import DinoSR

logger = logging.getLogger(__name__)

Waveform = Union[np.ndarray, torch.Tensor]
ESPNET_PREFIX = "dinosr."


@dataclass
class DinoSRResult:
    """Outputs for one utterance, on CPU, restricted to its ``num_frames`` valid frames.

    ``hidden_states``: requested layer index → (T, D) float tensor. ``codeword_indices``:
    (N, T) long, or None if not requested. ``head_probs``: (N, T, V) float, or None.
    """

    num_frames: int
    hidden_states: dict[int, torch.Tensor]
    codeword_indices: Optional[torch.Tensor]
    head_probs: Optional[torch.Tensor]


def load_checkpoint(path: Union[str, Path]) -> dict:
    """Any ESPnet ``*.pth`` loaded with ``weights_only=True`` (no code execution).

    ``checkpoint.pth`` also holds ESPnet's reporter state, which needs NumPy scalar/dtype and
    ``datetime`` types: exactly those are allowed.
    """
    allowed = [np.dtype, datetime.timedelta, datetime.datetime, np._core.multiarray.scalar]
    allowed += [type(np.dtype(t)) for t in ("float64", "float32", "int64", "int32", "bool")]
    with torch.serialization.safe_globals(allowed):
        return torch.load(path, map_location="cpu", weights_only=True)


def load_state_dict(model_file: Union[str, Path]) -> dict[str, torch.Tensor]:
    """DinoSR weights (contract names) from an ESPnet ``*.pth`` or a ``checkpoint.pth``."""
    state = load_checkpoint(model_file)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{model_file}: not a DinoSR state dict or ESPnet checkpoint")
    if all(k.startswith(ESPNET_PREFIX) for k in state):
        state = {k[len(ESPNET_PREFIX):]: v for k, v in state.items()}
    return state


def load_config(config_file: Union[str, Path]) -> tuple[DinoSRConfig, int]:
    """``(DinoSRConfig, fs)`` from an ESPnet ``config.yaml`` (its ``model_conf`` and ``fs``)."""
    with open(config_file, encoding="utf-8") as f:
        conf = yaml.safe_load(f)
    if not isinstance(conf, dict) or "model_conf" not in conf:
        raise ValueError(f"{config_file}: no 'model_conf' section (not a DinoSR config.yaml)")
    try:
        cfg = DinoSRConfig.from_dict(conf["model_conf"])
    except ValueError as e:
        raise ValueError(f"{config_file}: model_conf: {e}") from None
    return cfg, int(conf.get("fs", 16000))


class DinoSRInference:
    """Frozen DinoSR (eval mode) with batched, padded feature extraction.

    Args:
        model: a ``DinoSR`` with loaded weights.
        device: where to run (``"cpu"``, ``"cuda"``, ``"cuda:1"``...).
        fs: the sample rate the model was trained on (informational; inputs must match).
    """

    def __init__(self, model: DinoSR, device: Union[str, torch.device] = "cpu",
                 fs: int = 16000) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.fs = fs

    @classmethod
    def from_pretrained(cls, model_file: Union[str, Path],
                        config_file: Optional[Union[str, Path]] = None,
                        device: Union[str, torch.device] = "cpu") -> "DinoSRInference":
        """Load ``model_file`` (``*epoch.pth``, ``valid.loss.best.pth``, ``checkpoint.pth``, or
        an experiment directory such as an ``import_fairseq`` output) with the ``config.yaml``
        ESPnet wrote next to it (or ``config_file``)."""
        model_file = resolve_model_file(model_file)
        config_file = Path(config_file) if config_file else model_file.parent / "config.yaml"
        if not config_file.is_file():
            raise FileNotFoundError(f"{model_file}: no config.yaml next to it (looked for "
                                    f"{config_file}); pass config_file=")
        cfg, fs = load_config(config_file)
        model = DinoSR(cfg)
        missing, unexpected = model.load_state_dict(load_state_dict(model_file), strict=False)
        if missing or unexpected:
            raise ValueError(f"{model_file} does not match {config_file}: missing keys "
                             f"{missing[:5]}, unexpected keys {unexpected[:5]}")
        logger.info(f"Loaded DinoSR from {model_file} ({int(model.num_updates)} updates)")
        return cls(model, device, fs)

    @property
    def config(self) -> DinoSRConfig:
        return self.model.cfg

    @property
    def target_layers(self) -> list[int]:
        """0-indexed transformer layer of each codebook (hidden-state index = layer + 1)."""
        return self.config.target_layers

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for a waveform of ``num_samples``."""
        return self.config.num_frames(num_samples)

    @torch.inference_mode()
    def __call__(self, waveforms: Sequence[Waveform], layers: Optional[Sequence[int]] = None,
                 batch_size: int = 8, codewords: bool = True, head_probs: bool = True
                 ) -> list[DinoSRResult]:
        """Features for each waveform, in input order.

        ``layers``: hidden-state indices to return (0..K; default all K+1). Utterances are
        grouped by length into batches of ``batch_size`` to limit padding.
        """
        num_states = self.config.num_layers + 1
        layers = list(range(num_states)) if layers is None else list(layers)
        for i in layers:
            if not 0 <= i < num_states:
                raise ValueError(f"layer {i} out of range 0..{num_states - 1}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        wavs = []
        for i, w in enumerate(waveforms):
            try:
                wavs.append(standardize(w.detach().cpu() if torch.is_tensor(w) else w))
            except ValueError as e:
                raise ValueError(f"waveform {i}: {e}") from None
            if self.num_frames(len(wavs[-1])) < 1:
                raise ValueError(f"waveform {i} has {len(wavs[-1])} samples, fewer than the "
                                 f"receptive field ({self.config.receptive_field})")
        order = sorted(range(len(wavs)), key=lambda i: len(wavs[i]))
        results: list[Optional[DinoSRResult]] = [None] * len(wavs)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            for i, r in zip(idx, self._batch([wavs[i] for i in idx], layers, codewords,
                                             head_probs)):
                results[i] = r
        return results

    def _batch(self, wavs: list[torch.Tensor], layers: list[int], codewords: bool,
               head_probs: bool) -> list[DinoSRResult]:
        lengths = [len(w) for w in wavs]
        source = torch.zeros(len(wavs), max(lengths))
        for i, w in enumerate(wavs):
            source[i, : len(w)] = w
        padding_mask = torch.arange(source.shape[1]) >= torch.tensor(lengths).unsqueeze(1)
        feats = self.model.extract(source.to(self.device), padding_mask.to(self.device),
                                   codewords=codewords, head_probs=head_probs)
        out = []
        for b, n in enumerate(lengths):
            t = self.num_frames(n)
            out.append(DinoSRResult(
                num_frames=t,
                hidden_states={i: feats.hidden_states[i][b, :t].float().cpu() for i in layers},
                codeword_indices=(feats.codeword_indices[:, b, :t].cpu()
                                  if feats.codeword_indices is not None else None),
                head_probs=(feats.head_probs[:, b, :t].float().cpu()
                            if feats.head_probs is not None else None),
            ))
        return out
