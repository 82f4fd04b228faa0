"""ESPnet ASR encoder: the pretrained DinoSR student, fine-tuned with CTC (spec §3, §7).

Raw 16 kHz speech (ESPnet ``frontend: null``, ``input_size: 1``, ``normalize: null``) is
standardised per utterance over its valid samples (``layer_norm``, eps 1e-5, as in
pretraining), then CNN → post_extract_norm → post_extract_proj → (training only) time and
channel masks → transformer encoder → (B, T, D). Only the student is part of the ASR model:
``DinoSRStudent`` ignores the teacher, codebooks, heads and update counter of a pretraining
checkpoint, so ``--init_param <pretrain_exp>/<N>epoch.pth:dinosr:encoder.dinosr`` works as is.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch
import yaml
from espnet2.asr.encoder.abs_encoder import AbsEncoder
from torch import nn

from dinosr_espnet.model.config import DinoSRConfig
from dinosr_espnet.model.encoder import TransformerEncoder
from dinosr_espnet.model.feature_extractor import FeatureExtractor
from dinosr_espnet.model.masking import compute_span_mask

logger = logging.getLogger(__name__)

WAVEFORM_NORM_EPS = 1e-5
PRETRAIN_ONLY_PREFIXES = ("teacher.", "codebooks.", "heads.")
PRETRAIN_ONLY_KEYS = ("num_updates",)


def standardize_padded(speech: torch.Tensor, lengths: torch.Tensor,
                       eps: float = WAVEFORM_NORM_EPS) -> torch.Tensor:
    """Per-utterance ``layer_norm`` of (B, L) speech over its first ``lengths[b]`` samples.

    Equals ``F.layer_norm(x[:n], (n,), eps=eps)`` for every row (biased variance, no affine,
    fp32); padded samples become 0.
    """
    x = speech.float()
    valid = torch.arange(x.shape[1], device=x.device) < lengths.unsqueeze(1)
    n = lengths.clamp(min=1).to(x.dtype).unsqueeze(1)
    mean = torch.where(valid, x, 0.0).sum(1, keepdim=True) / n
    centred = torch.where(valid, x - mean, 0.0)
    var = centred.square().sum(1, keepdim=True) / n
    return centred * torch.rsqrt(var + eps)


class DinoSRStudent(nn.Module):
    """The DinoSR student alone; sub-module names match ``DinoSR`` (model contract), so a
    pretraining state dict loads into it. Pretraining-only entries (teacher, codebooks,
    heads, ``num_updates``) are dropped on load and counted in the log."""

    def __init__(self, cfg: DinoSRConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.feature_extractor = FeatureExtractor.from_config(cfg)
        self.post_extract_norm = nn.LayerNorm(cfg.conv_dim)
        self.post_extract_proj = nn.Linear(cfg.conv_dim, cfg.embed_dim)
        self.dropout_input = nn.Dropout(cfg.dropout_input)
        self.mask_emb = nn.Parameter(torch.rand(cfg.embed_dim))
        self.encoder = TransformerEncoder(cfg)
        self.register_load_state_dict_pre_hook(_drop_pretrain_only)


def _drop_pretrain_only(module: nn.Module, state_dict: dict, prefix: str, *args: Any) -> None:
    """Remove the pretraining-only tensors of a ``DinoSR`` state dict before a strict load."""
    dropped = [k for k in list(state_dict) if k.startswith(prefix) and (
        k[len(prefix):].startswith(PRETRAIN_ONLY_PREFIXES)
        or k[len(prefix):] in PRETRAIN_ONLY_KEYS)]
    for k in dropped:
        del state_dict[k]
    if dropped:
        logger.info(f"DinoSR student: ignored {len(dropped)} pretraining-only tensors "
                    f"(teacher, codebooks, heads, num_updates) under '{prefix}'")


def read_pretrain_dinosr_conf(path: Union[str, Path]) -> dict[str, Any]:
    """The ``DinoSRConfig`` mapping of a pretraining experiment (its ``model_conf``), validated.

    ``path`` is the ``config.yaml`` written by ``dinosr_train`` or the experiment directory.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"encoder_conf pretrain_config: {path} does not exist")
    with path.open(encoding="utf-8") as f:
        conf = yaml.safe_load(f)
    model_conf = conf.get("model_conf") if isinstance(conf, Mapping) else None
    if not isinstance(model_conf, Mapping):
        raise ValueError(f"{path}: no 'model_conf' mapping (not a DinoSR pretraining config)")
    try:
        return DinoSRConfig.from_dict(model_conf).to_dict()
    except ValueError as e:
        raise ValueError(f"{path}: model_conf: {e}") from None


class DinoSREncoder(AbsEncoder):
    """DinoSR student as an ESPnet ASR encoder (wav2vec 2.0-style CTC fine-tuning, spec §7).

    Args:
        input_size: must be 1 (raw waveform; ``frontend: null``, ``input_size: 1``).
        dinosr_conf: the pretrained model's ``DinoSRConfig`` mapping (sizes; its dropout and
            masking keys are overridden by the arguments below).
        pretrain_config: instead of ``dinosr_conf``: a pretraining ``config.yaml`` or its
            experiment directory (``DinoSRASRTask`` inlines it as ``dinosr_conf``).
        freeze_feature_extractor: keep the CNN frozen (no gradient, as wav2vec 2.0's
            ``feature_grad_mult: 0``).
        freeze_encoder_updates: for this many optimizer updates the whole student runs
            without gradient and only the CTC head learns (counted by ``on_optimizer_step``).
        mask_prob, mask_length, mask_min_spans: time masking (span starts ``mask_prob``·T/
            ``mask_length``), masked frames replaced by the pretrained ``mask_emb``.
        mask_channel_prob, mask_channel_length, mask_channel_min_spans: channel masking,
            masked channels zeroed for the whole utterance.
        mask_equalize: subsample every row's mask to the batch's smallest masked count.
        dropout, attention_dropout, activation_dropout, dropout_input, layerdrop: override
            the pretrained config's regularisation for fine-tuning.
    """

    def __init__(
        self,
        input_size: int,
        dinosr_conf: Optional[Mapping[str, Any]] = None,
        pretrain_config: Optional[str] = None,
        freeze_feature_extractor: bool = True,
        freeze_encoder_updates: int = 0,
        mask_prob: float = 0.65,
        mask_length: int = 10,
        mask_min_spans: int = 1,
        mask_channel_prob: float = 0.5,
        mask_channel_length: int = 64,
        mask_channel_min_spans: int = 0,
        mask_equalize: bool = True,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        activation_dropout: float = 0.1,
        dropout_input: float = 0.0,
        layerdrop: float = 0.1,
    ) -> None:
        super().__init__()
        if input_size != 1:
            raise ValueError(f"DinoSREncoder reads raw waveforms: set 'input_size: 1' and "
                             f"'frontend: null' (got input_size={input_size})")
        if (dinosr_conf is None) == (pretrain_config is None):
            raise ValueError("encoder_conf: give exactly one of 'dinosr_conf' and "
                             "'pretrain_config'")
        if dinosr_conf is None:
            dinosr_conf = read_pretrain_dinosr_conf(pretrain_config)
        for name, p in (("mask_prob", mask_prob), ("mask_channel_prob", mask_channel_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"encoder_conf '{name}' must be in [0, 1], got {p}")
        for name, n in (("mask_length", mask_length),
                        ("mask_channel_length", mask_channel_length)):
            if n < 1:
                raise ValueError(f"encoder_conf '{name}' must be >= 1, got {n}")
        if freeze_encoder_updates < 0:
            raise ValueError(f"encoder_conf 'freeze_encoder_updates' must be >= 0, "
                             f"got {freeze_encoder_updates}")
        try:
            cfg = DinoSRConfig.from_dict(dinosr_conf)
        except ValueError as e:
            raise ValueError(f"encoder_conf dinosr_conf: {e}") from None
        try:
            self.cfg = dataclasses.replace(
                cfg, dropout=dropout, attention_dropout=attention_dropout,
                activation_dropout=activation_dropout, dropout_input=dropout_input,
                layerdrop=layerdrop,
            )
        except ValueError as e:
            raise ValueError(f"encoder_conf: {e}") from None
        self.dinosr = DinoSRStudent(self.cfg)
        self.freeze_feature_extractor = freeze_feature_extractor
        if freeze_feature_extractor:
            self.dinosr.feature_extractor.requires_grad_(False)
        self.freeze_encoder_updates = freeze_encoder_updates
        self.mask_prob = mask_prob
        self.mask_length = mask_length
        self.mask_min_spans = mask_min_spans
        self.mask_channel_prob = mask_channel_prob
        self.mask_channel_length = mask_channel_length
        self.mask_channel_min_spans = mask_channel_min_spans
        self.mask_equalize = mask_equalize
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))
        self._updates = 0  # host mirror of num_updates: no device sync per forward
        self.register_load_state_dict_post_hook(_sync_updates)

    def output_size(self) -> int:
        return self.cfg.embed_dim

    @property
    def encoder_frozen(self) -> bool:
        """True while fewer than ``freeze_encoder_updates`` optimizer updates are done."""
        return self._updates < self.freeze_encoder_updates

    def on_optimizer_step(self) -> None:
        """Count one optimizer update (``DinoSRASRTask`` calls it from a post-step hook)."""
        self.num_updates.add_(1)
        self._updates += 1

    def forward(self, xs_pad: torch.Tensor, ilens: torch.Tensor,
                prev_states: Optional[torch.Tensor] = None
                ) -> tuple[torch.Tensor, torch.Tensor, None]:
        """(B, L) or (B, L, 1) speech, (B,) sample counts → (B, T, D), (B,) frame counts.

        Frame counts follow the CNN formula ``floor((L − k) / s) + 1`` per layer (spec §3).
        """
        if xs_pad.dim() == 3 and xs_pad.shape[-1] == 1:
            xs_pad = xs_pad.squeeze(-1)
        if xs_pad.dim() != 2:
            raise ValueError(f"DinoSREncoder expects (batch, samples) speech, got shape "
                             f"{tuple(xs_pad.shape)}: use 'frontend: null' and 'input_size: 1'")
        xs_pad = xs_pad[:, : int(ilens.max())]
        frames = self.cfg.num_frames(ilens)
        if bool((frames < 1).any()):
            i = int((frames < 1).nonzero()[0])
            raise ValueError(f"utterance {i} of the batch has {int(ilens[i])} samples, fewer "
                             f"than the CNN receptive field ({self.cfg.receptive_field})")
        source = standardize_padded(xs_pad, ilens).to(self.dinosr.mask_emb.dtype)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.encoder_frozen):
            with torch.set_grad_enabled(torch.is_grad_enabled()
                                        and not self.freeze_feature_extractor):
                x = self.dinosr.feature_extractor(source)
            x = self.dinosr.post_extract_proj(self.dinosr.post_extract_norm(x))
            x = self.dinosr.dropout_input(x)
            t = x.shape[1]
            pad = torch.arange(t, device=x.device) >= frames.to(x.device).unsqueeze(1)
            has_pad = bool(pad.any())
            if self.training:
                x = self._apply_masks(x, frames.tolist(), pad)
            x = self.dinosr.encoder(x, pad if has_pad else None).hidden_states[-1]
        return x, frames.to(x.device), None

    def _apply_masks(self, x: torch.Tensor, lengths: list[int], pad: torch.Tensor
                     ) -> torch.Tensor:
        """Time spans → ``mask_emb``, then channel spans → 0 (wav2vec 2.0 / data2vec order)."""
        b, t, c = x.shape
        if self.mask_prob > 0:
            mask = compute_span_mask(b, t, self.mask_prob, self.mask_length,
                                     self.mask_min_spans, self.mask_equalize,
                                     lengths=lengths, device=x.device) & ~pad
            x = torch.where(mask.unsqueeze(-1), self.dinosr.mask_emb.to(x.dtype), x)
        if self.mask_channel_prob > 0:
            channels = compute_span_mask(b, c, self.mask_channel_prob, self.mask_channel_length,
                                         self.mask_channel_min_spans, self.mask_equalize,
                                         device=x.device)
            x = x.masked_fill(channels.unsqueeze(1), 0.0)
        return x


def _sync_updates(module: DinoSREncoder, incompatible_keys: Any) -> None:
    """Refresh the host mirror of ``num_updates`` after loading a state dict (resume)."""
    module._updates = int(module.num_updates)
