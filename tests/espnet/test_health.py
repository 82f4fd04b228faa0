"""Training-health monitor: every alarm provoked, none on healthy or decay-0 batches."""
from __future__ import annotations

import logging
import math

import pytest
import torch

from dinosr_espnet.espnet.health import (
    BatchHealth,
    HealthConfig,
    HealthMonitor,
    TrainingCollapsed,
)

V = 16


def healthy(loss: float = 2.5, ppl: float = 11.0, active: float = 14.0) -> BatchHealth:
    return BatchHealth(loss=loss, accuracy=[0.2, 0.3], active=[active, 15.0],
                       perplexity=[ppl, 12.0])


def run(monitor: HealthMonitor, batches, first_update: int = 1) -> list[dict[str, float]]:
    return [monitor.observe(first_update + i, b) for i, b in enumerate(batches)]


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_healthy_batches_raise_no_alarm_and_log_from_the_first_update(caplog):
    monitor = HealthMonitor(V, HealthConfig(interval=10))
    with caplog.at_level(logging.INFO):
        flags = run(monitor, [healthy(ppl=9.0 + (i % 4)) for i in range(25)])
    assert all(f == {"health_collapse": 0.0, "health_nonfinite": 0.0} for f in flags)
    assert warnings(caplog) == []
    lines = [r.getMessage() for r in caplog.records if "health at update" in r.getMessage()]
    assert [line.split(":")[0] for line in lines] == [
        "health at update 1", "health at update 11", "health at update 21"]
    assert lines[0] == ("health at update 1: loss 2.5000, accuracy 0.200, 0.300, active "
                        "codewords 14/16, 15/16, codebook perplexity 9.00, 12.00")


@pytest.mark.parametrize("batch", [healthy(active=1.0, ppl=1.0), healthy(active=1.0, ppl=9.0)],
                         ids=["one-codeword", "few-active"])
def test_low_codeword_usage_warns_with_the_likely_cause(batch, caplog):
    monitor = HealthMonitor(V)
    with caplog.at_level(logging.WARNING):
        flags = run(monitor, [healthy(), batch])
    assert [f["health_collapse"] for f in flags] == [0.0, 1.0]
    (message,) = warnings(caplog)
    assert message.startswith("codebook_collapse at update 2: codebook 0 uses 1 of 16 codewords")
    assert "likely cause: a learning rate too high" in message
    assert "ema_decay_" in message


def test_perplexity_far_below_its_peak_warns(caplog):
    """10 of 16 codewords used, but the perplexity fell from 12 to 1.1: collapse."""
    monitor = HealthMonitor(V)
    with caplog.at_level(logging.WARNING):
        flags = run(monitor, [healthy(ppl=12.0), healthy(ppl=6.0), healthy(ppl=1.1, active=10)])
    assert [f["health_collapse"] for f in flags] == [0.0, 0.0, 1.0]
    assert "perplexity 1.10 (peak 12.00)" in warnings(caplog)[0]


def test_collapse_warning_repeats_while_it_lasts_and_its_end_is_logged(caplog):
    monitor = HealthMonitor(V, HealthConfig(interval=5))
    collapsed = healthy(active=1.0, ppl=1.0)
    with caplog.at_level(logging.INFO):
        flags = run(monitor, [healthy()] + [collapsed] * 12 + [healthy()])
    assert [f["health_collapse"] for f in flags] == [0.0] + [1.0] * 12 + [0.0]
    assert [m.split(":")[0] for m in warnings(caplog)] == [
        "codebook_collapse at update 2", "codebook_collapse at update 7",
        "codebook_collapse at update 12"]
    assert "codebook_collapse ended at update 14" in caplog.text


@pytest.mark.parametrize("loss", [math.nan, math.inf, -math.inf])
def test_nonfinite_loss_warns_every_interval_even_without_updates(loss, caplog):
    """ESPnet skips the update of a non-finite batch: the update number stays, the warning
    still repeats (counted in batches)."""
    monitor = HealthMonitor(V, HealthConfig(interval=3))
    with caplog.at_level(logging.WARNING):
        flags = [monitor.observe(5, healthy(loss=loss)) for _ in range(7)]
    assert all(f["health_nonfinite"] == 1.0 and f["health_collapse"] == 0.0 for f in flags)
    messages = warnings(caplog)
    assert len(messages) == 3 and messages[0].startswith(f"nonfinite_loss at update 5: "
                                                         f"training loss is {loss}")
    assert "likely cause: a learning rate too high, fp16 overflow" in messages[0]


def test_stop_on_collapse_raises_a_one_line_error():
    monitor = HealthMonitor(V, HealthConfig(stop_on_collapse=True))
    run(monitor, [healthy()])
    with pytest.raises(TrainingCollapsed, match=r"^codebook collapse at update 2: codebook 0 "
                                                r"uses 1 of 16.*stopped \(--health_stop_on_"
                                                r"collapse true\)$") as err:
        monitor.observe(2, healthy(active=1.0, ppl=1.0))
    assert isinstance(err.value, ValueError) and "\n" not in str(err.value)


def test_stop_on_collapse_leaves_healthy_runs_alone():
    """Including a batch without masked frames (no codeword used, perplexity 1)."""
    monitor = HealthMonitor(V, HealthConfig(stop_on_collapse=True))
    flags = run(monitor, [healthy(ppl=p) for p in (12.0, 8.0, 5.0, 9.0)] + [
        BatchHealth(loss=0.0, accuracy=[0.0, 0.0], active=[0.0, 0.0], perplexity=[1.0, 1.0])])
    assert all(f["health_collapse"] == 0.0 for f in flags)
