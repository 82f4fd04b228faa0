"""Pretrain DinoSR with ESPnet's trainer: ``python -m dinosr_espnet.bin.dinosr_train``.

Takes every ESPnet training option (``--config``, ``--train_data_path_and_name_and_type``,
``--valid_data_path_and_name_and_type``, ``--output_dir``, ``--resume``, ``--ngpu``,
``--multiprocessing_distributed``, ``--accum_grad``, ``--seed``, ...) plus the DinoSR task
options (``--model_conf``, ``--fs``, ``--updates_per_epoch``, ``--max_sample_size``,
``--crop_to_shortest``, the health monitor's ``--health_*``; docs/training_checks.md) and the
trainer's (``--save_every_updates``, ``--exit_with_launcher``; docs/checkpoints.md). Run with
``--help`` for the full list; ``--debug`` shows tracebacks instead of one-line errors.

Example (tiny model on CPU)::

    python -m dinosr_espnet.bin.dinosr_train --config conf/pretrain_tiny.yaml \\
        --train_data_path_and_name_and_type data/train/wav.scp,speech,sound \\
        --valid_data_path_and_name_and_type data/dev/wav.scp,speech,sound \\
        --output_dir exp/dinosr_tiny --ngpu 0
"""
from __future__ import annotations

import sys
from typing import Optional, Sequence

from dinosr_espnet.bin.cli import run_guarded


def main(cmd: Optional[Sequence[str]] = None) -> None:
    """Parse ``cmd`` (default: ``sys.argv``) and run ESPnet training with ``DinoSRTask``."""
    import torch.distributed as dist

    from dinosr_espnet.espnet.config_check import check_training_command
    from dinosr_espnet.espnet.task import DinoSRTask  # imports ESPnet (several seconds)

    check_training_command(DinoSRTask, cmd)
    try:
        DinoSRTask.main(cmd=cmd)
    finally:
        # ESPnet never tears the process group down; without this a rank can abort at exit.
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def cli(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point: ``main`` with one-line user errors (bad config, data or checkpoint,
    a locked experiment, a training process that stopped); ``--debug`` shows the traceback."""
    from torch.multiprocessing import ProcessExitedException

    return run_guarded(main, argv, user_errors=(ProcessExitedException,))


if __name__ == "__main__":
    sys.exit(cli())
