"""Shared fixtures: a tiny random DinoSR in an ESPnet experiment directory and a tiny corpus.

The corpus is synthetic: each phone is a tone with its own frequency (shifted per speaker), so
features separate phones and the ABX has cells; labels are exact by construction.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from units_fixtures import make_corpus, make_experiment


@pytest.fixture(scope="session")
def experiment(tmp_path_factory) -> Path:
    """``model.pth`` of a random tiny DinoSR (stride 320, 3 layers, 2 codebooks of 8)."""
    return make_experiment(tmp_path_factory.mktemp("exp"))


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """wav.scp, frame phone labels (.phn) and triphone .item of 8 short utterances."""
    return make_corpus(tmp_path_factory.mktemp("corpus"), num_utterances=8)
