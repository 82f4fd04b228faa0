"""Restricted loading of fairseq checkpoints: no code from the file is ever executed (spec §9).

A fairseq ``.pt`` file is a pickle; unpickling it with plain ``pickle``/``torch.load`` would run
whatever callables it names (e.g. a ``__reduce__`` returning ``os.system``). We load with
``torch.load(weights_only=True)``, whose unpickler only builds tensors and plain containers,
plus this explicit allowlist of data-only types that fairseq checkpoints are known to hold:

- ``argparse.Namespace``: the ``args`` entry of older fairseq checkpoints;
- NumPy scalars and their dtypes: values in fairseq's saved training meters (``extra_state``).

Anything else (functions, arbitrary classes, ``omegaconf`` objects) is refused with
``UnsafeCheckpointError`` naming the offending global, before anything is called.
"""
from __future__ import annotations

import argparse
import pickle
import re
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

_NUMPY_DTYPE_CODES = "?bhilqBHILQefd"  # bool, signed/unsigned ints, float16/32/64


def allowed_globals() -> list[Any]:
    """The allowlist passed to ``torch.serialization.safe_globals`` (module docstring)."""
    core = getattr(np, "_core", None) or np.core  # NumPy 2 renamed numpy.core
    scalar = core.multiarray.scalar
    return [
        argparse.Namespace,
        np.dtype,
        scalar,
        (scalar, "numpy.core.multiarray.scalar"),  # the name NumPy 1.x writes
        *(type(np.dtype(code)) for code in _NUMPY_DTYPE_CODES),
    ]


class UnsafeCheckpointError(pickle.UnpicklingError):
    """The file references a type or callable outside the allowlist; nothing was executed."""


_REASON = re.compile(
    r"(Unsupported global:.*|Trying to load unsupported GLOBAL.*|Can only build.*)")


def _reason(message: str) -> str:
    match = _REASON.search(message)
    if match:
        return match.group(1).strip()
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    return lines[-1] if lines else message


def load_checkpoint(path: Union[str, Path]) -> Any:
    """Load a fairseq checkpoint on CPU with the restricted unpickler.

    Raises ``FileNotFoundError`` for a missing file, ``UnsafeCheckpointError`` when the pickle
    names anything outside the allowlist, and ``ValueError`` for a file torch cannot read.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with torch.serialization.safe_globals(allowed_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "Weights only load failed" not in str(e):
            raise ValueError(f"{path}: not a readable torch checkpoint: {e}") from None
        raise UnsafeCheckpointError(
            f"{path}: refused to load: {_reason(str(e)).rstrip('.')}. The file asks the "
            f"unpickler for something other than tensors and plain data; nothing from it was "
            f"executed. "
            f"If the file comes from a source you trust, remove the entry holding this object "
            f"(in a separate environment) and convert again."
        ) from None
    except (RuntimeError, EOFError, KeyError, ValueError) as e:  # corrupt or not a checkpoint
        raise ValueError(f"{path}: not a readable torch checkpoint: {e!r}") from None
