"""``AbsESPnetModel`` adapter: ESPnet's ``(speech, speech_lengths)`` batch → DinoSR loss.

ESPnet's trainer re-weights the returned loss by ``weight`` across data-parallel workers and
multiplies by the world size before DDP averages gradients, so the adapter returns this
rank's mean CE over its masked frames with ``weight`` = its masked-frame count: the gradient is
then the global mean over masked frames (Eq. 4, spec §2). The teacher is *not* stepped here
(see ``teacher_step.py``): forward passes do not equal updates under gradient accumulation.
"""
from __future__ import annotations

import logging
from typing import Optional

import torch
from espnet2.torch_utils.device_funcs import force_gatherable
from espnet2.train.abs_espnet_model import AbsESPnetModel

from dinosr_espnet.model.config import DinoSRConfig
from dinosr_espnet.model.dinosr import DinoSR

logger = logging.getLogger(__name__)


class ESPnetDinoSRModel(AbsESPnetModel):
    """Wraps ``DinoSR`` as ``model.dinosr`` (checkpoint keys are ``dinosr.<contract name>``).

    Args:
        cfg: the model configuration (``model_conf`` in the YAML).
        collapse_loss_threshold: a training loss below this (nats) flags a collapsed teacher
            (constant targets make the task trivial, spec §5); logged as the ``teacher_collapse``
            stat and as a warning. Healthy BASE training stays above 1.0.
        collapse_warmup_updates: no alarm before this many updates.
    """

    def __init__(self, cfg: DinoSRConfig, collapse_loss_threshold: float = 0.1,
                 collapse_warmup_updates: int = 100) -> None:
        super().__init__()
        self.dinosr = DinoSR(cfg)
        self.collapse_loss_threshold = collapse_loss_threshold
        self.collapse_warmup_updates = collapse_warmup_updates
        self._last_collapse_warning: Optional[int] = None

    def forward(self, speech: torch.Tensor, speech_lengths: torch.Tensor, **kwargs
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        """``speech`` (B, L) standardised waveform, ``speech_lengths`` (B,).

        Returns ``(loss, stats, weight)``: local mean CE over masked frames, detached scalars
        for ESPnet's reporter, and the number of masked frames.
        """
        padding_mask = None
        if bool((speech_lengths < speech.shape[1]).any()):
            padding_mask = (torch.arange(speech.shape[1], device=speech.device)
                            >= speech_lengths.unsqueeze(1))
        out = self.dinosr(speech, padding_mask=padding_mask)
        loss = out.loss_sum / out.num_masked.clamp(min=1).to(out.loss_sum.dtype)
        stats = {k: (v.detach().float() if torch.is_tensor(v) else float(v))
                 for k, v in out.stats.items()}
        if self.training:
            stats["teacher_collapse"] = self._check_collapse(stats["loss"])
        return force_gatherable((loss, stats, out.num_masked), loss.device)

    def _check_collapse(self, loss: torch.Tensor) -> float:
        updates = self.dinosr._updates
        if updates < self.collapse_warmup_updates or not loss < self.collapse_loss_threshold:
            return 0.0
        if self._last_collapse_warning is None or updates - self._last_collapse_warning >= 100:
            self._last_collapse_warning = updates
            logger.warning(
                f"teacher_collapse: training loss {float(loss):.4f} < "
                f"{self.collapse_loss_threshold} nats at update {updates}; a constant teacher "
                f"makes the targets trivial (check ema_decay_*, codebook perplexity ppl_cb*)"
            )
        return 1.0

    def collect_feats(self, speech: torch.Tensor, speech_lengths: torch.Tensor, **kwargs
                      ) -> dict[str, torch.Tensor]:
        """ESPnet's stats stage: the raw waveform is the model's input feature."""
        return {"feats": speech, "feats_lengths": speech_lengths}
