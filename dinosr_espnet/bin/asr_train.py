"""CTC fine-tuning with ESPnet's ASR trainer: ``python -m dinosr_espnet.bin.asr_train``.

ESPnet's ``asr_train`` with ``DinoSRASRTask``: every ESPnet ASR option (``--config``,
``--token_list``, ``--train_data_path_and_name_and_type``, ``--init_param``, ``--resume``,
``--ngpu``, ``--multiprocessing_distributed``, ``--accum_grad``, ...) plus ``encoder: dinosr``
and the ``tristage`` scheduler, ``--updates_per_epoch``, ``--save_every_updates`` and
``--exit_with_launcher`` (docs/checkpoints.md). Run with ``--help`` for the full list;
``--debug`` shows tracebacks instead of one-line errors.

Example (fine-tune a pretrained model on 10 h, see docs/finetuning.md)::

    python -m dinosr_espnet.bin.asr_train --config conf/finetune_10h.yaml \\
        --encoder_conf pretrain_config=exp/dinosr_base/config.yaml \\
        --init_param exp/dinosr_base/valid.loss.ave.pth:dinosr:encoder.dinosr \\
        --token_list data/token_list/char/tokens.txt \\
        --train_data_path_and_name_and_type dump/train_10h/wav.scp,speech,sound \\
        --train_data_path_and_name_and_type dump/train_10h/text,text,text \\
        --train_shape_file exp/asr_stats/train/speech_shape \\
        --train_shape_file exp/asr_stats/train/text_shape.char \\
        --valid_data_path_and_name_and_type dump/dev_other/wav.scp,speech,sound \\
        --valid_data_path_and_name_and_type dump/dev_other/text,text,text \\
        --valid_shape_file exp/asr_stats/valid/speech_shape \\
        --valid_shape_file exp/asr_stats/valid/text_shape.char \\
        --output_dir exp/asr_10h --ngpu 1
"""
from __future__ import annotations

import sys
from typing import Optional, Sequence

from dinosr_espnet.bin.cli import run_guarded


def main(cmd: Optional[Sequence[str]] = None) -> None:
    """Parse ``cmd`` (default: ``sys.argv``) and run ESPnet ASR training with DinoSR."""
    from dinosr_espnet.espnet.config_check import check_training_command
    from dinosr_espnet.espnet.asr_task import DinoSRASRTask  # imports ESPnet (seconds)

    check_training_command(DinoSRASRTask, cmd)
    DinoSRASRTask.main(cmd=cmd)


def cli(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point: ``main`` with one-line user errors (bad config, data or checkpoint,
    a locked experiment, a training process that stopped); ``--debug`` shows the traceback."""
    from torch.multiprocessing import ProcessExitedException

    return run_guarded(main, argv, user_errors=(ProcessExitedException,))


if __name__ == "__main__":
    sys.exit(cli())
