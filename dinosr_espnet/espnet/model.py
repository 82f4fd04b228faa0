"""``AbsESPnetModel`` adapter: ESPnet's ``(speech, speech_lengths)`` batch → DinoSR loss.

ESPnet's trainer re-weights the returned loss by ``weight`` across data-parallel workers and
multiplies by the world size before DDP averages gradients, so the adapter returns this
rank's mean CE over its masked frames with ``weight`` = its masked-frame count: the gradient is
then the global mean over masked frames (Eq. 4, spec §2). The teacher is *not* stepped here
(see ``teacher_step.py``): forward passes do not equal updates under gradient accumulation.
"""
from __future__ import annotations

from typing import Optional

import torch
from espnet2.torch_utils.device_funcs import force_gatherable
from espnet2.train.abs_espnet_model import AbsESPnetModel

from dinosr_espnet.espnet.health import BatchHealth, HealthConfig, HealthMonitor
from dinosr_espnet.model.config import DinoSRConfig
from dinosr_espnet.model.dinosr import DinoSR


class ESPnetDinoSRModel(AbsESPnetModel):
    """Wraps ``DinoSR`` as ``model.dinosr`` (checkpoint keys are ``dinosr.<contract name>``).

    Args:
        cfg: the model configuration (``model_conf`` in the YAML).
        health: thresholds of the training-health monitor (``health.py``), which checks every
            training batch from the first update on.
        health_tensorboard_dir: where the monitor writes its ``health/*`` scalars (created at
            the first training batch; None: log only).
    """

    def __init__(self, cfg: DinoSRConfig, health: HealthConfig = HealthConfig(),
                 health_tensorboard_dir: Optional[str] = None) -> None:
        super().__init__()
        self.dinosr = DinoSR(cfg)
        self.health = HealthMonitor(cfg.codebook_size, health, health_tensorboard_dir)

    def forward(self, speech: torch.Tensor, speech_lengths: torch.Tensor, **kwargs
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        """``speech`` (B, L) standardised waveform, ``speech_lengths`` (B,).

        Returns ``(loss, stats, weight)``: local mean CE over masked frames, detached scalars
        for ESPnet's reporter (plus the monitor's alarm flags in training), and the number of
        masked frames.
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
            stats.update(self.health.observe(self.dinosr._updates + 1, self._batch_health(stats)))
        return force_gatherable((loss, stats, out.num_masked), loss.device)

    def _batch_health(self, stats: dict[str, torch.Tensor]) -> BatchHealth:
        """The monitor's inputs from the reported stats, in one device-to-host copy."""
        n = self.dinosr.cfg.num_codebooks
        keys = (["loss"] + [f"acc_{k}" for k in range(n)] + [f"active_cb{k}" for k in range(n)]
                + [f"ppl_cb{k}" for k in range(n)])
        values = torch.stack([stats[k] for k in keys]).tolist()
        return BatchHealth(loss=values[0], accuracy=values[1:1 + n],
                           active=values[1 + n:1 + 2 * n], perplexity=values[1 + 2 * n:])

    def collect_feats(self, speech: torch.Tensor, speech_lengths: torch.Tensor, **kwargs
                      ) -> dict[str, torch.Tensor]:
        """ESPnet's stats stage: the raw waveform is the model's input feature."""
        return {"feats": speech, "feats_lengths": speech_lengths}
