"""Tri-stage learning-rate schedule of wav2vec 2.0 / DinoSR pretraining (spec §5).

ESPnet ships ``tristagelr``, but it evaluates the schedule one update ahead (the first update
already runs at ``init + (1 - init) / warmup`` of the peak instead of ``init``) and splits the
phases with ``int(ratio * max_steps)``, which truncates float products such as 0.47 × 400000.
This class follows fairseq's ``tri_stage`` semantics: update ``n`` (0-based) runs at
``peak · scale(n)`` with ``scale(0) = init_lr_scale``. Registered in ESPnet as ``tristage``.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from espnet2.schedulers.abs_scheduler import AbsBatchStepScheduler
from torch.optim.lr_scheduler import LRScheduler


class TriStageLR(LRScheduler, AbsBatchStepScheduler):
    """Linear warm-up, hold, exponential decay; stepped once per optimizer update.

    Args:
        optimizer: wrapped optimizer; its ``lr`` is the peak learning rate.
        max_steps: total updates covered by the three phases (BASE: 400000).
        phase_ratio: fractions of ``max_steps`` for warm-up, hold and decay; sum to 1.
        init_lr_scale: warm-up starts at ``init_lr_scale · peak``.
        final_lr_scale: decay ends at ``final_lr_scale · peak``; held afterwards.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        max_steps: int = 400000,
        phase_ratio: Sequence[float] = (0.03, 0.47, 0.5),
        init_lr_scale: float = 0.01,
        final_lr_scale: float = 0.01,
        last_epoch: int = -1,
    ) -> None:
        if int(max_steps) != max_steps or max_steps < 1:
            raise ValueError(f"scheduler_conf max_steps must be a positive int, got {max_steps!r}")
        if len(phase_ratio) != 3 or any(r < 0 for r in phase_ratio):
            raise ValueError(
                f"scheduler_conf phase_ratio must be 3 non-negative fractions, got {phase_ratio!r}"
            )
        if not math.isclose(sum(phase_ratio), 1.0, abs_tol=1e-6):
            raise ValueError(f"scheduler_conf phase_ratio must sum to 1, got {phase_ratio!r}")
        for name, v in (("init_lr_scale", init_lr_scale), ("final_lr_scale", final_lr_scale)):
            if not 0.0 < v <= 1.0:
                raise ValueError(f"scheduler_conf {name} must be in (0, 1], got {v!r}")
        self.max_steps = int(max_steps)
        self.warmup_steps = round(self.max_steps * phase_ratio[0])
        self.hold_steps = round(self.max_steps * phase_ratio[1])
        self.decay_steps = self.max_steps - self.warmup_steps - self.hold_steps
        self.init_lr_scale = float(init_lr_scale)
        self.final_lr_scale = float(final_lr_scale)
        super().__init__(optimizer, last_epoch)

    def lr_scale(self, step: int) -> float:
        """Multiplier of the peak LR for the update with 0-based index ``step``."""
        if step < self.warmup_steps:
            return self.init_lr_scale + (1.0 - self.init_lr_scale) * step / self.warmup_steps
        step -= self.warmup_steps
        if step < self.hold_steps:
            return 1.0
        step -= self.hold_steps
        if step < self.decay_steps:
            return math.exp(math.log(self.final_lr_scale) * step / self.decay_steps)
        return self.final_lr_scale

    def get_lr(self) -> list[float]:
        scale = self.lr_scale(self.last_epoch)
        return [base_lr * scale for base_lr in self.base_lrs]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(warmup_steps={self.warmup_steps}, "
            f"hold_steps={self.hold_steps}, decay_steps={self.decay_steps}, "
            f"init_lr_scale={self.init_lr_scale}, final_lr_scale={self.final_lr_scale})"
        )
