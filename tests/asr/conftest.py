"""Fixtures for the fine-tuning tests."""
from __future__ import annotations

import pytest
import torch
from asr_fixtures import PRETRAIN_TINY

from dinosr_espnet.espnet.asr_encoder import read_pretrain_dinosr_conf


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_conf() -> dict:
    """``model_conf`` of conf/pretrain_tiny.yaml (stride 80, receptive field 85, D = 64)."""
    return read_pretrain_dinosr_conf(PRETRAIN_TINY)
