"""Fixtures for the ESPnet pretraining tests: synthetic data dirs, one torch thread."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from espnet_audio import write_data_dir


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # 2 shared cores: avoid OpenMP spin contention


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> dict[str, Path]:
    """8 training utterances (1.0–2.0 s, ~12 s in all) and 2 validation utterances."""
    root = tmp_path_factory.mktemp("data")
    train = write_data_dir(root / "train", [1.0, 1.2, 1.5, 1.8, 2.0, 1.1, 1.3, 1.6], 0, "tr")
    dev = write_data_dir(root / "dev", [1.0, 1.5], 1, "dv")
    return {"train": train, "dev": dev}
