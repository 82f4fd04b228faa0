"""Restricted unpickling: data-only checkpoints load, code-running ones are refused unexecuted."""
from __future__ import annotations

import argparse
import fractions
import os
import subprocess

import numpy as np
import pytest
import torch

from dinosr_espnet.bin import import_fairseq as import_cli
from dinosr_espnet.interop.convert import import_fairseq
from dinosr_espnet.interop.safe_load import (
    CorruptCheckpointError, UnsafeCheckpointError, load_checkpoint,
)


class _RunsCommand:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _CallsBuiltin:
    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


class _SpawnsProcess:
    def __init__(self, argv: list[str]) -> None:
        self.argv = argv

    def __reduce__(self):
        return (subprocess.Popen, (self.argv,))


@pytest.mark.parametrize("make_payload", [
    lambda marker: _RunsCommand(f"touch {marker}"),
    lambda marker: _CallsBuiltin(f"open({str(marker)!r}, 'w').close()"),
    lambda marker: _SpawnsProcess(["touch", str(marker)]),
])
@pytest.mark.parametrize("where", ["extra_state", "cfg", "model"])
def test_code_running_pickle_is_refused_and_not_executed(tmp_path, fairseq_ckpt, make_payload,
                                                         where, caplog):
    marker = tmp_path / "pwned"
    ckpt = dict(fairseq_ckpt)
    ckpt[where] = {**ckpt[where], "payload": {"nested": [make_payload(marker)]}}
    path = tmp_path / "evil.pt"
    torch.save(ckpt, path)
    with pytest.raises(UnsafeCheckpointError, match="evil.pt: refused to load.*GLOBAL"):
        load_checkpoint(path)
    with pytest.raises(UnsafeCheckpointError):
        import_fairseq(path, tmp_path / "out")
    assert import_cli.main([str(path), str(tmp_path / "out")]) == 1
    assert "evil.pt: refused to load" in caplog.text
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


def test_allowlisted_data_types_load(tmp_path):
    obj = {"args": argparse.Namespace(normalize=True, lr=[5e-4]),
           "meters": {"loss": np.float64(1.25), "count": np.int64(7), "half": np.float16(0.5)},
           "w": torch.arange(4, dtype=torch.float16)}
    path = tmp_path / "data.pt"
    torch.save(obj, path)
    loaded = load_checkpoint(path)
    assert loaded["args"] == argparse.Namespace(normalize=True, lr=[5e-4])
    assert loaded["meters"] == {"loss": 1.25, "count": 7, "half": 0.5}
    assert type(loaded["meters"]["loss"]) is np.float64
    assert torch.equal(loaded["w"], obj["w"]) and loaded["w"].dtype == torch.float16


def test_arbitrary_class_is_refused(tmp_path):
    path = tmp_path / "cls.pt"
    torch.save({"x": fractions.Fraction(1, 3)}, path)
    with pytest.raises(UnsafeCheckpointError, match="fractions.Fraction"):
        load_checkpoint(path)


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CorruptCheckpointError, match="is a directory, not a checkpoint file"):
        load_checkpoint(tmp_path)
    for name, content, problem in [
            ("zip.pt", b"PK\x03\x04 not really a zip", "corrupt torch checkpoint: broken zip"),
            ("text.pt", b"hello, not a checkpoint", "not a torch checkpoint: a text file")]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CorruptCheckpointError, match=f"{name}: {problem}"):
            load_checkpoint(tmp_path / name)
