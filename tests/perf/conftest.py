"""Fixtures for the performance-path tests: one torch thread and a tiny DinoSR factory."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch

from dinosr_espnet.model import DinoSR, DinoSRConfig
from perf_tiny import TINY


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # 2 shared cores: avoid OpenMP spin contention


@pytest.fixture
def tiny() -> Callable[..., DinoSR]:
    """Factory: a seeded tiny DinoSR in training mode, with config overrides."""
    def make(seed: int = 0, **overrides: Any) -> DinoSR:
        torch.manual_seed(seed)
        return DinoSR(DinoSRConfig.from_dict({**TINY, **overrides})).train()
    return make
