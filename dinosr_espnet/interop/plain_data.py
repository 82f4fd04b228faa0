"""A checkpoint's ``cfg`` as bounded plain data (so it can be checked, kept in YAML, exported).

fairseq writes ``cfg`` with ``OmegaConf.to_container``: dicts, lists, strings, numbers,
booleans and ``None``. The importer keeps that ``cfg`` next to the imported model, so anything
else (a tensor, a ``Namespace``, bytes) and absurd structures (nesting deeper than
``MAX_DEPTH``, more than ``MAX_ITEMS`` values, a string longer than ``MAX_STRING``) are
errors naming where they are; NumPy scalars become the equal Python number and tuples lists.
"""
from __future__ import annotations

import argparse
from typing import Any

import numpy as np

MAX_DEPTH = 16
MAX_ITEMS = 100_000
MAX_STRING = 100_000


def plain_data(value: Any, where: str) -> Any:
    """A copy of ``value`` made of plain YAML types; ``ValueError`` naming ``where[...]``."""
    count = [0]

    def walk(v: Any, path: str, depth: int) -> Any:
        count[0] += 1
        if count[0] > MAX_ITEMS:
            raise ValueError(f"{where} holds more than {MAX_ITEMS} values")
        if depth > MAX_DEPTH:
            raise ValueError(f"{path} is nested more than {MAX_DEPTH} levels deep")
        if v is None or isinstance(v, (bool, int, float)):
            return v
        if isinstance(v, str):
            if len(v) > MAX_STRING:
                raise ValueError(f"{path} is a string of {len(v)} characters (at most "
                                 f"{MAX_STRING})")
            return v
        if isinstance(v, (np.bool_, np.integer, np.floating)):
            return v.item()
        if isinstance(v, (list, tuple)):
            return [walk(x, f"{path}[{i}]", depth + 1) for i, x in enumerate(v)]
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if not isinstance(k, str):
                    raise ValueError(f"{path} has a key of type {type(k).__name__} (a cfg "
                                     f"has string keys)")
                out[k] = walk(x, f"{path}[{k[:40]!r}]", depth + 1)
            return out
        kind = "an argparse.Namespace" if isinstance(v, argparse.Namespace) else (
            f"a {type(v).__name__}")
        raise ValueError(f"{path} is {kind}, not plain configuration data (strings, numbers, "
                         f"booleans, null, lists, dicts)")

    return walk(value, where, 0)
