"""Shared tiny DinoSR configurations for the model tests."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch

from dinosr_espnet.model import DinoSR, DinoSRConfig
from dinosr_tiny import TINY


@pytest.fixture
def tiny_cfg() -> Callable[..., DinoSRConfig]:
    """Factory: the tiny config with keyword overrides."""
    def make(**overrides: Any) -> DinoSRConfig:
        return DinoSRConfig.from_dict({**TINY, **overrides})
    return make


@pytest.fixture
def tiny_model(tiny_cfg) -> Callable[..., DinoSR]:
    """Factory: a seeded tiny DinoSR with keyword config overrides."""
    def make(seed: int = 0, **overrides: Any) -> DinoSR:
        torch.manual_seed(seed)
        return DinoSR(tiny_cfg(**overrides))
    return make
