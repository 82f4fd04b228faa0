"""Restricted loading of fairseq checkpoints: no code from the file is ever executed (spec §9).

A fairseq ``.pt`` file is a pickle; unpickling it with plain ``pickle``/``torch.load`` would run
whatever callables it names (e.g. a ``__reduce__`` returning ``os.system``). We load with
``torch.load(weights_only=True)``, whose unpickler only builds tensors and plain containers,
plus an explicit allowlist of data-only types that fairseq checkpoints are known to hold:

- ``argparse.Namespace`` (the ``args`` of older fairseq checkpoints), through a subclass whose
  state must be a dict with string keys;
- NumPy scalars (fairseq's saved training meters), through wrappers that build bool/int/float
  ones from their raw bytes only: an object-dtype scalar (a pointer read from raw bytes) and
  a dtype with a non-standard pickled state are refused. A bare dtype loads as a placeholder.

Every failure is one ``ValueError`` subclass naming the file: ``UnsafeCheckpointError`` when
the pickle asks for anything outside the allowlist (nothing from it was executed) and
``CorruptCheckpointError`` when the file is not a readable torch checkpoint at all (a text or
audio file, a truncated archive, a malformed pickle, an opcode torch's unpickler does not
support), with torch's own reason kept.
"""
from __future__ import annotations

import argparse
import pickle
import pickletools
import re
import zipfile
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

_NUMPY_DTYPE_CODES = "?bhilqBHILQefd"  # bool, signed/unsigned ints, float16/32/64
_ALLOWED_DTYPES = frozenset(np.dtype(code) for code in _NUMPY_DTYPE_CODES)
_NUMPY_CORE = getattr(np, "_core", None) or np.core  # NumPy 2 renamed numpy.core
# Markers of torch's weights-only messages that mean "the pickle asked for a forbidden object".
_UNSAFE_MARKERS = ("Unsupported global", "unsupported GLOBAL", "Trying to call reduce",
                   "Can only build", "Can only create new object", "must be imported to load")
_HEAD_BYTES = 512


class CheckpointError(ValueError):
    """The checkpoint file cannot be imported; the message names the file and the problem."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """The pickle references a type or callable outside the allowlist; nothing was executed."""


class CorruptCheckpointError(CheckpointError):
    """The file is not a readable torch checkpoint (wrong format, truncated, malformed)."""


class _Refused(Exception):
    """Raised inside the unpickler by the allowlist wrappers (kept apart from torch's errors)."""


class SafeNamespace(argparse.Namespace):
    """``argparse.Namespace`` whose pickled state may only be a dict with string keys."""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise _Refused(f"an argparse.Namespace with state of type {type(state).__name__} "
                           f"(expected a dict with string keys)")
        self.__dict__.update(state)


class _DtypeSpec:
    """A numpy dtype named by the file. numpy's own ``__setstate__`` is never handed the
    file's state: it must equal the standard state of that dtype."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype

    def __setstate__(self, state: Any) -> None:
        if state != self.dtype.__reduce__()[2]:
            raise _Refused(f"numpy dtype {self.dtype} with a non-standard pickled state")


def _safe_dtype(spec: Any, *args: Any) -> _DtypeSpec:
    if not isinstance(spec, str) or len(spec) > 8:
        raise _Refused(f"numpy dtype from {type(spec).__name__} (only type codes are data)")
    try:
        dtype = np.dtype(spec)
    except (TypeError, ValueError) as e:
        raise _Refused(f"numpy dtype {spec!r}: {e}") from None
    if dtype not in _ALLOWED_DTYPES:
        raise _Refused(f"numpy dtype {spec!r} (only bool, integer and float scalars are data)")
    return _DtypeSpec(dtype)


def _safe_scalar(spec: Any, data: Any = None) -> np.generic:
    if not isinstance(spec, _DtypeSpec):
        raise _Refused(f"a numpy scalar of dtype {type(spec).__name__} (only bool, integer and "
                       f"float scalars are data)")
    if not isinstance(data, bytes) or len(data) != spec.dtype.itemsize:
        raise _Refused(f"a numpy {spec.dtype} scalar from {type(data).__name__} data (expected "
                       f"{spec.dtype.itemsize} raw bytes)")
    return np.frombuffer(data, dtype=spec.dtype)[0].copy()


def allowed_globals() -> list[Any]:
    """The allowlist passed to ``torch.serialization.safe_globals`` (module docstring)."""
    return [
        (SafeNamespace, "argparse.Namespace"),
        (_safe_dtype, "numpy.dtype"),
        (_safe_scalar, "numpy.core.multiarray.scalar"),  # the name NumPy 1.x writes
        (_safe_scalar, "numpy._core.multiarray.scalar"),  # NumPy 2
        _DtypeSpec,  # receives the dtype's pickled state (BUILD)
    ]


def describe_content(head: bytes) -> str:
    """What a file that is not a torch checkpoint looks like, from its first bytes."""
    if not head:
        return "the file is empty"
    signatures = [(b"RIFF", "a RIFF/WAV audio file"), (b"fLaC", "a FLAC audio file"),
                  (b"OggS", "an Ogg audio file"), (b"ID3", "an MP3 audio file"),
                  (b"\x1f\x8b", "a gzip file"), (b"\x93NUMPY", "a NumPy .npy file"),
                  (b"\x89HDF", "an HDF5 file")]
    for magic, what in signatures:
        if head.startswith(magic):
            return what
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"unrecognised binary content (first bytes {head[:8].hex(' ')})"
    first = text.strip().splitlines()[0][:40] if text.strip() else ""
    return f"a text file (starts with {first!r})"


def _check_format(path: Path) -> None:
    """Refuse files that are neither torch's zip format nor a legacy torch pickle."""
    with path.open("rb") as f:
        head = f.read(_HEAD_BYTES)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                packed = [i.filename for i in archive.infolist()
                          if i.compress_type != zipfile.ZIP_STORED]
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise CorruptCheckpointError(f"{path}: corrupt torch checkpoint: broken zip "
                                         f"archive ({e})") from None
        if packed:
            raise CorruptCheckpointError(
                f"{path}: corrupt torch checkpoint: compressed record {packed[0]} (torch.save "
                f"stores records uncompressed)")
        return
    if head[:1] in (b"\x80", b"\x8a"):  # pickle protocol >= 2, or protocol 1's magic number
        return
    raise CorruptCheckpointError(f"{path}: not a torch checkpoint: {describe_content(head)}")


def _torch_reason(message: str) -> str:
    """torch's own reason from its weights-only message (without its boilerplate)."""
    boilerplate = ("In PyTorch", "Check the documentation", "Please file", "(1)", "(2)")
    for line in message.split("WeightsUnpickler error:")[-1].splitlines():
        line = line.strip().removeprefix("Weights only load failed.").strip()
        if line and not line.startswith(boilerplate):
            return line.rstrip(".")
    return " ".join(message.split())[:200]


def _name_opcode(reason: str) -> str:
    """``Unsupported operand 130`` → ``... 130 (pickle opcode EXT1)``."""
    match = re.fullmatch(r"Unsupported operand (\d+)", reason)
    if match:
        code = chr(int(match.group(1))).encode("latin-1")
        names = [op.name for op in pickletools.opcodes if op.code.encode("latin-1") == code]
        if names:
            return f"{reason} (pickle opcode {names[0]}, not used by torch.save)"
    return reason


def load_checkpoint(path: Union[str, Path]) -> Any:
    """Load a fairseq checkpoint on CPU with the restricted unpickler.

    Raises ``FileNotFoundError`` for a missing file, ``UnsafeCheckpointError`` when the pickle
    names anything outside the allowlist and ``CorruptCheckpointError`` for anything else
    torch cannot read (module docstring). Only torch's restricted unpickler and the
    allowlisted constructors run, so any exception it raises is a property of the file.
    """
    path = Path(path)
    if path.is_dir():
        raise CorruptCheckpointError(f"{path}: is a directory, not a checkpoint file")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    _check_format(path)
    try:
        with torch.serialization.safe_globals(allowed_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except _Refused as e:
        raise UnsafeCheckpointError(f"{path}: refused to load: {e}; nothing from the file was "
                                    f"executed") from None
    except pickle.UnpicklingError as e:
        reason = _torch_reason(str(e))
        if any(marker in reason for marker in _UNSAFE_MARKERS):
            raise UnsafeCheckpointError(
                f"{path}: refused to load: {reason}. The file asks the unpickler for something "
                f"other than tensors and plain data; nothing from it was executed. If the file "
                f"comes from a source you trust, remove the entry holding this object (in a "
                f"separate environment) and convert again") from None
        raise CorruptCheckpointError(f"{path}: corrupt torch checkpoint (malformed pickle): "
                                     f"{_name_opcode(reason)}") from None
    except Exception as e:  # noqa: BLE001 - any other failure of the restricted reader
        reason = " ".join(str(e).split())[:200] or "no detail"
        raise CorruptCheckpointError(f"{path}: corrupt torch checkpoint (unreadable archive or "
                                     f"pickle): {type(e).__name__}: {reason}") from None
