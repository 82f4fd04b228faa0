"""Run ``dinosr_train`` whose ``STALL_AT``-th save of ``STALL_FILE`` stops half-way.

Test harness for killing a real training process while it writes a checkpoint: the save
writes half of the serialised bytes, fsyncs them, creates ``STALL_MARKER`` and sleeps until
the test SIGKILLs the process.

    python stalled_save_train.py STALL_FILE STALL_AT STALL_MARKER -- <dinosr_train options>
"""
from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

import torch

from dinosr_espnet.espnet import atomic_io


def main() -> int:
    name, stall_at, marker = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    assert sys.argv[4] == "--"
    real_save = atomic_io._ORIGINAL_TORCH_SAVE
    seen = []

    def stalling_save(obj, f, *args, **kwargs):
        if not Path(str(getattr(f, "name", ""))).name.startswith(f".{name}."):
            return real_save(obj, f, *args, **kwargs)
        seen.append(name)
        if len(seen) < stall_at:
            return real_save(obj, f, *args, **kwargs)
        data = io.BytesIO()
        torch.serialization.save(obj, data, *args, **kwargs)
        f.write(data.getvalue()[: len(data.getvalue()) // 2])
        f.flush()
        os.fsync(f.fileno())
        marker.touch()
        while True:
            time.sleep(1)

    atomic_io._ORIGINAL_TORCH_SAVE = stalling_save
    from dinosr_espnet.bin.dinosr_train import cli

    return cli(sys.argv[5:])


if __name__ == "__main__":
    sys.exit(main())
