"""Training-health monitor: codebook usage, perplexity, accuracy and loss, with alarms.

DinoSR can fail silently: when the teacher's targets become (nearly) constant, every frame maps
to one codeword, the loss drops towards 0 and the run looks fine (spec §5). The monitor reads
the statistics the model already computes for each training batch (codewords used, assignment
perplexity, accuracy and loss per codebook: no extra passes over the data) and

* logs a health line at the first batch and every ``interval`` training batches, and writes
  the same values to tensorboard (``tensorboard_dir``, tags ``health/*``, step = update),
  whatever ESPnet's ``log_interval``;
* warns ``codebook_collapse`` when a codebook uses fewer than ``active_fraction`` of its
  codewords in a batch or its perplexity falls ``perplexity_drop`` times below its peak;
* warns ``nonfinite_loss`` when the loss is NaN or infinite;
* repeats a warning every ``interval`` batches while its condition lasts (counted in batches,
  as ESPnet skips the updates of batches with non-finite gradients), logs when it ends, and
  with ``stop_on_collapse`` ends the run with ``TrainingCollapsed``.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Optional, Sequence

logger = logging.getLogger(__name__)

COLLAPSE_CAUSE = (
    "the teacher's targets have become (nearly) constant, which makes the loss trivially low; "
    "likely cause: a learning rate too high for the batch (optim_conf lr, scheduler warm-up) "
    "or a teacher that follows the student too closely (model_conf ema_decay_*)"
)
NONFINITE_CAUSE = (
    "ESPnet skips updates with non-finite gradients; likely cause: a learning rate too high, "
    "fp16 overflow (try use_amp false or a lower lr), or NaN/inf input audio (dump the data "
    "with dump_audio, which skips such utterances)"
)


class TrainingCollapsed(ValueError):
    """Codebook collapse with ``--health_stop_on_collapse true``."""


@dataclass(frozen=True)
class HealthConfig:
    """Alarm thresholds (task options ``--health_*``)."""

    active_fraction: float = 0.1
    perplexity_drop: float = 10.0
    interval: int = 100
    stop_on_collapse: bool = False


@dataclass(frozen=True)
class BatchHealth:
    """One training batch: loss (nats) and, per codebook, accuracy, codewords used in the
    batch and assignment perplexity."""

    loss: float
    accuracy: Sequence[float]
    active: Sequence[float]
    perplexity: Sequence[float]


class HealthMonitor:
    """Watches the batches of one training run (``observe`` once per training forward)."""

    def __init__(self, codebook_size: int, config: HealthConfig = HealthConfig(),
                 tensorboard_dir: Optional[str] = None) -> None:
        self.codebook_size = codebook_size
        self.config = config
        self.tensorboard_dir = tensorboard_dir
        self._writer = None
        self.peaks: list[float] = []
        self.batches = 0
        self._last_line: Optional[int] = None
        self._alarms: dict[str, Optional[int]] = {"codebook_collapse": None,
                                                  "nonfinite_loss": None}

    def observe(self, update: int, batch: BatchHealth) -> dict[str, float]:
        """Check one batch of update ``update`` (1-based); returns the 0/1 alarm flags
        (``health_collapse``, ``health_nonfinite``) to report. May raise TrainingCollapsed."""
        self.batches += 1
        if not self.peaks:
            self.peaks = [0.0] * len(batch.perplexity)
        for k, ppl in enumerate(batch.perplexity):
            if math.isfinite(ppl):
                self.peaks[k] = max(self.peaks[k], ppl)
        report = self._last_line is None or self.batches - self._last_line >= self.config.interval
        if report:
            self._last_line = self.batches
            logger.info(f"health at update {update}: {self.summary(batch)}")
        collapsed = self.collapsed_codebooks(batch)
        collapse = self._alarm("codebook_collapse", update, bool(collapsed),
                               lambda: self._collapse_text(collapsed, batch))
        nonfinite = self._alarm("nonfinite_loss", update, not math.isfinite(batch.loss),
                                lambda: f"training loss is {batch.loss} ({NONFINITE_CAUSE})")
        if report or collapse or nonfinite:
            self._write(update, batch, collapse, nonfinite)
        if collapse and self.config.stop_on_collapse:
            raise TrainingCollapsed(
                f"codebook collapse at update {update}: {self._collapse_text(collapsed, batch)}; "
                "stopped (--health_stop_on_collapse true)")
        return {"health_collapse": float(collapse), "health_nonfinite": float(nonfinite)}

    def collapsed_codebooks(self, batch: BatchHealth) -> list[int]:
        """Codebooks below the usage or perplexity threshold in this batch (a batch without
        masked frames, 0 codewords used, says nothing)."""
        low_usage = self.config.active_fraction * self.codebook_size
        return [k for k, (active, ppl) in enumerate(zip(batch.active, batch.perplexity))
                if active > 0 and (active < low_usage
                                   or ppl < self.peaks[k] / self.config.perplexity_drop)]

    def summary(self, batch: BatchHealth) -> str:
        v = self.codebook_size
        active = ", ".join(f"{a:.0f}/{v}" for a in batch.active)
        ppl = ", ".join(f"{p:.2f}" for p in batch.perplexity)
        acc = ", ".join(f"{a:.3f}" for a in batch.accuracy)
        return (f"loss {batch.loss:.4f}, accuracy {acc}, active codewords {active}, "
                f"codebook perplexity {ppl}")

    def _collapse_text(self, collapsed: list[int], batch: BatchHealth) -> str:
        parts = [f"codebook {k} uses {batch.active[k]:.0f} of {self.codebook_size} codewords, "
                 f"perplexity {batch.perplexity[k]:.2f} (peak {self.peaks[k]:.2f})"
                 for k in collapsed]
        limits = (f"alarm below {self.config.active_fraction:.0%} of the codewords or "
                  f"{self.config.perplexity_drop:g}x below the peak perplexity")
        return f"{'; '.join(parts)} ({limits}): {COLLAPSE_CAUSE}"

    def _write(self, update: int, batch: BatchHealth, collapse: bool, nonfinite: bool) -> None:
        """The batch's values as tensorboard scalars ``health/*`` (when a directory is set)."""
        if self.tensorboard_dir is None:
            return
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(self.tensorboard_dir)
        values = {"loss": batch.loss, "collapse": float(collapse), "nonfinite": float(nonfinite)}
        for k, (acc, active, ppl) in enumerate(zip(batch.accuracy, batch.active,
                                                   batch.perplexity)):
            values.update({f"acc_{k}": acc, f"active_cb{k}": active, f"ppl_cb{k}": ppl})
        for tag, value in values.items():
            self._writer.add_scalar(f"health/{tag}", value, update)
        self._writer.flush()

    def _alarm(self, name: str, update: int, active: bool, text) -> bool:
        """Warn when ``active`` starts and every ``interval`` batches while it lasts."""
        last = self._alarms[name]
        if not active:
            if last is not None:
                logger.info(f"{name} ended at update {update}")
                self._alarms[name] = None
            return False
        if last is None or self.batches - last >= self.config.interval:
            self._alarms[name] = self.batches
            logger.warning(f"{name} at update {update}: {text()}")
        return True
