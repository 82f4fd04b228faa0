"""The training-health monitor in real tiny pretraining runs (CPU): alarms in the log and in
tensorboard from the first update; none in healthy or degenerate-but-healthy (decay 0) runs."""
from __future__ import annotations

import logging

import pytest

from pretrain_launch import run_train, train_cmd
from dinosr_espnet.espnet.health import TrainingCollapsed

HEALTH_LOGGER = "dinosr_espnet.espnet.health"


def scalars(exp, tag: str, run: str = "train") -> list[tuple[int, float]]:
    """(step, value) of a tensorboard scalar: ESPnet's trainer writes ``train`` (per
    ``log_interval`` iterations), the health monitor ``health`` (per update)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(exp / "tensorboard" / run))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def health_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == HEALTH_LOGGER and r.levelno >= logging.WARNING]


def test_absurd_learning_rate_raises_the_collapse_alarm_early(tiny_data, tmp_path, caplog):
    """lr 10: both codebooks fall to one codeword at update 3 (measured: perplexity 1.000)."""
    exp = tmp_path / "exp"
    with caplog.at_level(logging.INFO, logger=HEALTH_LOGGER):
        run_train(train_cmd(tiny_data, exp, "--optim_conf", "lr=10.0", "--max_epoch", "2",
                            "--use_tensorboard", "true", "--health_interval", "3"))
    warnings = health_warnings(caplog)
    assert warnings and warnings[0].startswith("codebook_collapse at update 3: codebook 0 uses 1 "
                                               "of 16 codewords, perplexity 1.00")
    assert "likely cause: a learning rate too high" in warnings[0]
    assert len(warnings) >= 2  # repeated while it lasts (6 collapsed batches, interval 3)
    assert "health at update 1: loss " in caplog.text
    flags = scalars(exp, "health_collapse")
    assert flags[0] == (1, 0.0) and (3, 1.0) in flags
    for tag in ("active_cb0", "active_cb1", "ppl_cb0", "ppl_cb1", "acc_0", "acc_1", "loss"):
        assert scalars(exp, tag)[0][0] == 1, tag  # from the first update on
    assert scalars(exp, "active_cb0")[0][1] >= 10 and scalars(exp, "ppl_cb0")[-1][1] < 1.01
    collapse = scalars(exp, "health/collapse", "health")
    assert collapse[0] == (1, 0.0) and (3, 1.0) in collapse
    assert scalars(exp, "health/active_cb1", "health")[-1][1] == 1.0


def test_stop_on_collapse_ends_the_run(tiny_data, tmp_path):
    exp = tmp_path / "exp"
    with pytest.raises(TrainingCollapsed, match=r"^codebook collapse at update 3: .*stopped"):
        run_train(train_cmd(tiny_data, exp, "--optim_conf", "lr=10.0", "--max_epoch", "2",
                            "--health_stop_on_collapse", "true"))
    assert not (exp / "checkpoint.pth").exists() and not (exp / "1epoch.pth").exists()


RUNS = {
    "healthy": [],
    "codebook_decay_0": ["--model_conf", "codebook_decay=0.0"],
    "teacher_decay_0": ["--model_conf", "ema_decay_start=0.0", "--model_conf",
                        "ema_decay_end=0.0"],
}


@pytest.mark.parametrize("epochs", [2, pytest.param(10, marks=pytest.mark.slow)])
@pytest.mark.parametrize("run", list(RUNS))
def test_healthy_and_decay0_runs_raise_no_alarm(run, epochs, tiny_data, tmp_path, caplog):
    exp = tmp_path / "exp"
    with caplog.at_level(logging.INFO, logger=HEALTH_LOGGER):
        run_train(train_cmd(tiny_data, exp, *RUNS[run], "--max_epoch", str(epochs),
                            "--use_tensorboard", "true", "--health_stop_on_collapse", "true",
                            "--log_interval", "50", "--health_interval", "4"))
    assert health_warnings(caplog) == []
    flags = scalars(exp, "health/collapse", "health") + scalars(exp, "health/nonfinite", "health")
    assert all(v == 0.0 for _, v in flags)
    # the monitor's tensorboard starts at update 1 although ESPnet logs every 50 iterations
    steps = [step for step, _ in scalars(exp, "health/ppl_cb0", "health")]
    assert steps == list(range(1, 4 * epochs + 1, 4))
