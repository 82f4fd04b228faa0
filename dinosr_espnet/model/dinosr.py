"""DinoSR: student, EMA teacher, online codebooks and prediction heads (spec §2–§5).

Data flow: waveform → CNN → post_extract_norm → post_extract_proj = ``features``.
Teacher: ``features`` unmasked → FFN outputs of layers K−N..K−1 → instance norm → codeword
indices (targets). Student: dropout_input(``features``) with masked frames replaced by
``mask_emb`` → encoder → N heads on the final layer → cross-entropy at masked frames (Eq. 4).
Everything is computed densely over (B, T) with the mask as weights: no host syncs or
data-dependent shapes in the training step unless the batch is padded or ``mask_seed`` is set
(``tests/perf`` checks this on the meta device, where any host read of a tensor fails).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F

from dinosr_espnet.model.codebook import OnlineCodebooks, assignment_perplexity
from dinosr_espnet.model.config import DinoSRConfig
from dinosr_espnet.model.encoder import TransformerEncoder
from dinosr_espnet.model.feature_extractor import FeatureExtractor
from dinosr_espnet.model.masking import compute_span_mask, seeded_span_mask, utterance_seeds
from dinosr_espnet.model.teacher import EMATeacher, teacher_decay


@dataclass
class DinoSROutput:
    """``loss``: CE summed over this rank's masked frames, divided by the masked-frame count
    of all data-parallel ranks and multiplied by the world size, so that DDP's gradient
    averaging yields the global mean (training only; in eval mode and on one process it is the
    local mean).
    ``loss_sum``: this rank's differentiable CE sum (for trainers that normalise themselves).
    ``num_masked``: this rank's masked-frame count (0-dim long). ``stats``: detached scalars."""

    loss: torch.Tensor
    loss_sum: torch.Tensor
    num_masked: torch.Tensor
    stats: dict[str, torch.Tensor | float]


@dataclass
class DinoSRFeatures:
    """Eval-mode outputs of ``DinoSR.extract``.

    ``hidden_states``: (B, T, D) tensors (transformer input, then each layer's output, or the
    requested subset); ``frame_padding_mask`` (B, T) bool, True = padding; ``codeword_indices``
    (N, B, T) long from the teacher (−1 at padding); ``head_probs`` (N, B, T, V) from the
    student's heads. The last two are None when not requested.
    """

    hidden_states: list[torch.Tensor]
    frame_padding_mask: torch.Tensor
    codeword_indices: Optional[torch.Tensor]
    head_probs: Optional[torch.Tensor]


def masked_instance_norm(z: torch.Tensor, padding_mask: Optional[torch.Tensor],
                         eps: float) -> torch.Tensor:
    """Normalise (…, B, T, D) over T per utterance and channel, no affine, fp32.

    Statistics use only frames where ``padding_mask`` (B, T) is False (biased variance, as
    ``F.instance_norm``).
    """
    z = z.float()
    if padding_mask is None:
        var, mean = torch.var_mean(z, dim=-2, unbiased=False, keepdim=True)
    else:
        valid = (~padding_mask).unsqueeze(-1).float()
        n = valid.sum(-2, keepdim=True).clamp(min=1.0)
        mean = (z * valid).sum(-2, keepdim=True) / n
        var = ((z - mean).square() * valid).sum(-2, keepdim=True) / n
    return (z - mean) * torch.rsqrt(var + eps)


class DinoSR(nn.Module):
    """The DinoSR model; sub-module names follow ``docs/architecture.md`` (Model contract)."""

    def __init__(self, cfg: DinoSRConfig) -> None:
        super().__init__()
        self.cfg = cfg
        dim = cfg.embed_dim
        self.feature_extractor = FeatureExtractor.from_config(cfg)
        self.post_extract_norm = nn.LayerNorm(cfg.conv_dim)
        self.post_extract_proj = nn.Linear(cfg.conv_dim, dim)
        self.dropout_input = nn.Dropout(cfg.dropout_input)
        self.mask_emb = nn.Parameter(torch.rand(dim))
        self.encoder = TransformerEncoder(cfg)
        self.teacher = EMATeacher(self.encoder)
        self.codebooks = OnlineCodebooks(
            cfg.num_codebooks, cfg.codebook_size, dim, cfg.codebook_decay, cfg.codebook_update,
            cfg.codebook_freeze_inactive, cfg.codebook_init, cfg.codebook_init_std,
        )
        self.heads = nn.ModuleList(nn.Linear(dim, cfg.codebook_size)
                                   for _ in range(cfg.num_codebooks))
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))
        self._updates = 0  # host mirror of num_updates (no device sync per step)
        self.register_load_state_dict_post_hook(_sync_num_updates)

    # ------------------------------------------------------------------ schedule
    @property
    def feature_extractor_frozen(self) -> bool:
        after = self.cfg.freeze_feature_extractor_after
        return after is not None and self._updates >= after

    def on_optimizer_step(self) -> None:
        """Eq. 1 teacher step with λ(num_updates), then ``num_updates += 1``.

        Call exactly once per optimizer update, after ``optimizer.step()``. Also applies the
        optional real freeze of CNN + post-extract LayerNorm/projection.
        """
        self.teacher.step(self.encoder, teacher_decay(self._updates, self.cfg))
        self.num_updates.add_(1)
        self._updates += 1
        self._apply_freeze()

    def _apply_freeze(self) -> None:
        if not self.feature_extractor_frozen:
            return
        for module in (self.feature_extractor, self.post_extract_norm, self.post_extract_proj):
            for p in module.parameters():
                p.requires_grad_(False)
                p.grad = None

    # ------------------------------------------------------------------ features
    def frame_padding_mask(self, padding_mask: Optional[torch.Tensor], num_frames: int
                           ) -> tuple[Optional[torch.Tensor], Optional[list[int]]]:
        """Frame-level padding (B, T) and per-row frame counts from a sample-level mask.

        Returns ``(None, None)`` when no row is padded. Costs one device→host copy.
        """
        if padding_mask is None:
            return None, None
        lengths = self.cfg.num_frames((~padding_mask).sum(-1)).clamp(max=num_frames)
        host = lengths.tolist()
        for i, n in enumerate(host):
            if n == 0:
                raise ValueError(
                    f"utterance {i} of the batch has {int((~padding_mask[i]).sum())} samples, "
                    f"fewer than the receptive field ({self.cfg.receptive_field}): no frames"
                )
        if all(n == num_frames for n in host):
            return None, None
        pad = torch.arange(num_frames, device=lengths.device) >= lengths.unsqueeze(-1)
        return pad, host

    def extract_features(self, source: torch.Tensor, padding_mask: Optional[torch.Tensor] = None
                         ) -> tuple[torch.Tensor, Optional[torch.Tensor], Optional[list[int]]]:
        """Projected CNN features (B, T, D) (teacher input), frame padding mask, frame counts."""
        if source.dim() != 2:
            raise ValueError(f"source must be (batch, samples), got shape {tuple(source.shape)}")
        if padding_mask is not None and padding_mask.shape != source.shape:
            raise ValueError(f"padding_mask shape {tuple(padding_mask.shape)} != source shape "
                             f"{tuple(source.shape)}")
        if self.cfg.num_frames(source.shape[1]) == 0:
            raise ValueError(f"input of {source.shape[1]} samples is shorter than the receptive "
                             f"field ({self.cfg.receptive_field}): no frames")
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.feature_extractor_frozen):
            x = self.feature_extractor(source)
            x = self.post_extract_proj(self.post_extract_norm(x))
        pad, lengths = self.frame_padding_mask(padding_mask, x.shape[1])
        return x, pad, lengths

    def span_mask(self, source: torch.Tensor, padding_mask: Optional[torch.Tensor],
                  num_frames: int, lengths: Optional[list[int]]) -> torch.Tensor:
        """(B, T) span mask (spec §4) on ``source``'s device.

        ``cfg.mask_seed`` None: global RNG, drawn on the device without host syncs (release).
        An int: per-utterance seeded masks (``masking.seeded_span_mask``); in training the
        equalisation count is the minimum over all data-parallel ranks, so a DDP run and one
        process on the same global batch mask identically.
        """
        cfg = self.cfg
        if cfg.mask_seed is None:
            return compute_span_mask(source.shape[0], num_frames, cfg.mask_prob,
                                     cfg.mask_length, cfg.mask_min_spans, cfg.mask_equalize,
                                     lengths=lengths, device=source.device)
        seeds = utterance_seeds(source, padding_mask, cfg.mask_seed, self._updates)
        reduce_min = None
        if self.training and dist.is_available() and dist.is_initialized():
            def reduce_min(count: int) -> int:
                value = torch.tensor(count, device=source.device)
                dist.all_reduce(value, op=dist.ReduceOp.MIN)
                return int(value)
        return seeded_span_mask(seeds, num_frames, cfg.mask_prob, cfg.mask_length,
                                cfg.mask_min_spans, cfg.mask_equalize, lengths=lengths,
                                reduce_min=reduce_min, device=source.device)

    def teacher_targets(self, features: torch.Tensor, pad: Optional[torch.Tensor]) -> torch.Tensor:
        """Instance-normalised teacher FFN outputs (N, B, T, D), fp32 (spec §3)."""
        ffn = self.teacher.targets(features.detach(), pad, self.cfg.target_layers)
        return masked_instance_norm(torch.stack(ffn), pad, self.cfg.target_norm_eps)

    def head_logits(self, x: torch.Tensor) -> torch.Tensor:
        """All N heads in one matmul: (B, T, D) → (N, B, T, V) fp32 logits."""
        weight = torch.cat([h.weight for h in self.heads])
        bias = torch.cat([h.bias for h in self.heads])
        logits = F.linear(x, weight, bias).float()
        n, v = self.cfg.num_codebooks, self.cfg.codebook_size
        return logits.unflatten(-1, (n, v)).movedim(-2, 0)

    # ------------------------------------------------------------------ training
    def forward(self, source: torch.Tensor, padding_mask: Optional[torch.Tensor] = None,
                mask_indices: Optional[torch.Tensor] = None) -> DinoSROutput:
        """Masked prediction loss (Eq. 4); updates the codebooks when ``self.training``.

        ``source`` (B, L) standardised waveform; ``padding_mask`` (B, L) bool, True = padding;
        ``mask_indices`` (B, T) bool overrides the random span mask (padded frames dropped).
        """
        features, pad, lengths = self.extract_features(source, padding_mask)
        b, t, _ = features.shape
        if mask_indices is None:
            mask = self.span_mask(source, padding_mask, t, lengths)
        else:
            if mask_indices.shape != (b, t):
                raise ValueError(f"mask_indices shape {tuple(mask_indices.shape)} != "
                                 f"(batch, frames) = {(b, t)}")
            mask = mask_indices.to(device=features.device, dtype=torch.bool)
        if pad is not None:
            mask = mask & ~pad

        x = self.dropout_input(features)
        x = torch.where(mask.unsqueeze(-1), self.mask_emb.to(x.dtype), x)
        student = self.encoder(x, pad).hidden_states[-1]

        z = self.teacher_targets(features, pad)  # (N, B, T, D)
        n = self.cfg.num_codebooks
        targets = self.codebooks.assign(z.flatten(1, 2))  # (N, B·T)
        flat_mask = mask.flatten()
        if self.training:
            cb_counts = self.codebooks.update(z.flatten(1, 2), targets, flat_mask)
        else:
            cb_counts = self.codebooks.batch_statistics(z.flatten(1, 2), targets, flat_mask)[1]
        targets = targets.view(n, b, t)

        logits = self.head_logits(student)  # (N, B, T, V) fp32
        logp = logits.log_softmax(-1)
        nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (N, B, T)
        loss_sum = torch.where(mask, nll, 0.0).sum() / n
        num_masked = mask.sum()

        total = num_masked.float()
        world = 1
        if self.training and dist.is_available() and dist.is_initialized():
            world = dist.get_world_size()
            if world > 1:
                total = total.clone()
                dist.all_reduce(total, op=dist.ReduceOp.SUM)
        loss = loss_sum * world / total.clamp(min=1.0)

        stats = self._stats(loss_sum, num_masked, mask, pad, logits, logp, targets, cb_counts)
        return DinoSROutput(loss=loss, loss_sum=loss_sum, num_masked=num_masked, stats=stats)

    @torch.no_grad()
    def _stats(self, loss_sum: torch.Tensor, num_masked: torch.Tensor, mask: torch.Tensor,
               pad: Optional[torch.Tensor], logits: torch.Tensor, logp: torch.Tensor,
               targets: torch.Tensor, cb_counts: torch.Tensor) -> dict[str, Any]:
        """Per-update log values (spec §5), as detached 0-dim tensors or floats."""
        denom = num_masked.clamp(min=1).float()
        maskf = mask.float()
        valid = mask.numel() if pad is None else (~pad).sum()
        stats: dict[str, Any] = {
            "loss": (loss_sum / denom).detach(),
            "masked_frac": num_masked.float() / valid,
            "ema_decay": teacher_decay(self._updates, self.cfg),
            "codebook_decay": self.cfg.codebook_decay,
        }
        correct = (logits.argmax(-1) == targets).float() * maskf
        acc = correct.flatten(1).sum(-1) / denom
        ppl = assignment_perplexity(cb_counts)
        active = (cb_counts > 0).sum(-1)
        for k in range(self.cfg.num_codebooks):
            stats[f"acc_{k}"] = acc[k]
            stats[f"ppl_cb{k}"] = ppl[k]
            stats[f"active_cb{k}"] = active[k].float()
        mean_probs = (logp.exp() * maskf.unsqueeze(-1)).flatten(1, 2).sum(1) / denom
        stats["pred_ppl"] = assignment_perplexity(mean_probs).mean()
        return stats

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def extract(self, source: torch.Tensor, padding_mask: Optional[torch.Tensor] = None,
                layers: Optional[Sequence[int]] = None, codewords: bool = True,
                head_probs: bool = True) -> DinoSRFeatures:
        """Eval-mode, unmasked features (no codebook update); the module's mode is restored.

        ``layers`` selects indices into the K+1 hidden states (0 = transformer input).
        """
        was_training = self.training
        self.eval()
        try:
            features, pad, _ = self.extract_features(source, padding_mask)
            b, t, _ = features.shape
            all_hidden = self.encoder(features, pad).hidden_states
            hidden = all_hidden if layers is None else [all_hidden[i] for i in layers]
            indices = probs = None
            if codewords:
                z = self.teacher_targets(features, pad)
                indices = self.codebooks.assign(z.flatten(1, 2)).view(-1, b, t)
                if pad is not None:
                    indices = indices.masked_fill(pad, -1)
            if head_probs:
                probs = self.head_logits(all_hidden[-1]).softmax(-1)
            if pad is None:
                pad = torch.zeros(b, t, dtype=torch.bool, device=features.device)
            return DinoSRFeatures(hidden, pad, indices, probs)
        finally:
            self.train(was_training)


def _sync_num_updates(module: DinoSR, incompatible_keys: Any) -> None:
    """Refresh the host mirror of ``num_updates`` (and the CNN freeze) after loading."""
    module._updates = int(module.num_updates)
    module._apply_freeze()
