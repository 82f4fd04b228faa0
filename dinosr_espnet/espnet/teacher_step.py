"""Step the EMA teacher once per optimizer update (Eq. 1, spec §2/§5).

ESPnet's trainer has no per-update hook, and the model's forward runs once per micro-batch.
An optimizer post-step hook fires exactly when ``optimizer.step()`` ran: once per update with
``--accum_grad N``, and not at all when AMP's ``GradScaler`` skips a step on inf/NaN gradients
(or ESPnet skips a non-finite gradient norm), so λ(num_updates) counts real updates.
"""
from __future__ import annotations

from typing import Any

import torch
from torch.utils.hooks import RemovableHandle

from dinosr_espnet.model.dinosr import DinoSR


def register_teacher_step(optimizer: torch.optim.Optimizer, dinosr: DinoSR) -> RemovableHandle:
    """Call ``dinosr.on_optimizer_step()`` after every completed ``optimizer.step()``."""

    def hook(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        dinosr.on_optimizer_step()

    return optimizer.register_step_post_hook(hook)
