"""Helpers for the ESPnet pretraining tests: config path and an in-process launcher."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

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
