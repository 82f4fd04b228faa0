"""Shared fixtures: a fairseq-layout checkpoint on disk and its import (done once)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from dinosr_espnet.bin import import_fairseq
from fairseq_writer import make_fairseq_checkpoint


@pytest.fixture(scope="session")
def fairseq_ckpt() -> dict[str, Any]:
    """The in-memory fairseq checkpoint (do not mutate: copy first)."""
    return make_fairseq_checkpoint(seed=0)


@pytest.fixture(scope="session")
def fairseq_file(fairseq_ckpt, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fairseq") / "dinosr_small.pt"
    torch.save(fairseq_ckpt, path)
    return path


@pytest.fixture(scope="session")
def imported_dir(fairseq_file, tmp_path_factory) -> Path:
    """``import_fairseq`` CLI output for ``fairseq_file`` (imports ESPnet once)."""
    out = tmp_path_factory.mktemp("imported") / "exp"
    import_fairseq.main([str(fairseq_file), str(out)])
    return out
