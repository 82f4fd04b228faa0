"""Helpers for the ESPnet pretraining tests: config path, an in-process launcher and a
bit-exact comparison of saved training states."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / "conf" / "pretrain_tiny.yaml"


def train_cmd(data: dict[str, Path], output_dir: Path, *extra: str,
              config: Path = TINY_CONFIG) -> list[str]:
    """Launcher arguments for the tiny config on CPU with the given data dirs."""
    return [
        "--config", str(config), "--ngpu", "0", "--output_dir", str(output_dir),
        "--train_data_path_and_name_and_type", f"{data['train']}/wav.scp,speech,sound",
        "--valid_data_path_and_name_and_type", f"{data['dev']}/wav.scp,speech,sound",
        "--train_shape_file", str(data["train"] / "speech_shape"),
        "--valid_shape_file", str(data["dev"] / "speech_shape"),
        *extra,
    ]


def run_train(cmd: Sequence[str]) -> None:
    """Run ``python -m dinosr_espnet.bin.dinosr_train`` in this process (saves the import)."""
    from dinosr_espnet.bin.dinosr_train import main

    main(list(cmd))


def assert_same_states(a: Any, b: Any, path: str = "") -> None:
    """Nested dicts/lists of tensors and plain values are equal bit for bit."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same_states(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_states(x, y, f"{path}/{i}")
    else:
        assert a == b, path
