"""Shared data fixtures: the CI-size generated corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dinosr_espnet.data.synth.config import resolve_request
from dinosr_espnet.data.synth.generate import generate_corpus


@pytest.fixture(scope="session")
def ci_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Root of a `--size ci --seed 0` corpus (LibriSpeech/, librispeech_finetuning/, babel/,
    alignments/, abx/, lm/, manifest.json), generated once per test session.

    Set DINOSR_CI_CORPUS=DIR to keep it between sessions: it is regenerated only when the
    request (or the generator's configuration) changes.
    """
    out = Path(os.environ.get("DINOSR_CI_CORPUS") or tmp_path_factory.mktemp("ci_corpus"))
    generate_corpus(out, resolve_request("ci", seed=0), nj=2)
    return out
