"""``DinoSRTask``: ESPnet task for DinoSR pretraining (data wiring, model, optimizer hook).

Built on ``AbsTask`` (not ``SSLTask``, whose ``ema`` util needs CUDA at build time). Importing
this module registers the ``tristage`` LR scheduler in ESPnet's scheduler choices.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable, Collection, Optional

import numpy as np
import torch
import torch.distributed as dist
from espnet2.tasks import abs_task
from espnet2.tasks.abs_task import AbsTask
from espnet2.utils.nested_dict_action import NestedDictAction
from espnet2.utils.types import int_or_none, str2bool

from dinosr_espnet.espnet import update_schedule
from dinosr_espnet.espnet.collate import DinoSRCollateFn
from dinosr_espnet.espnet.data_checks import DinoSRPreprocessor, check_speech_lengths
from dinosr_espnet.espnet.health import HealthConfig
from dinosr_espnet.espnet.model import ESPnetDinoSRModel
from dinosr_espnet.espnet.run_guard import one_line_errors_in_spawned_worker, training_run
from dinosr_espnet.espnet.scheduler import TriStageLR
from dinosr_espnet.espnet.teacher_step import register_teacher_step
from dinosr_espnet.espnet.trainer import DinoSRTrainer
from dinosr_espnet.model.config import DinoSRConfig

abs_task.scheduler_classes["tristage"] = TriStageLR


def model_config(args: argparse.Namespace) -> DinoSRConfig:
    """``--model_conf`` (YAML ``model_conf``) as a validated ``DinoSRConfig``."""
    try:
        return DinoSRConfig.from_dict(args.model_conf or {})
    except ValueError as e:
        raise ValueError(f"model_conf: {e}") from None


class DinoSRTask(AbsTask):
    """DinoSR self-supervised pretraining on raw 16 kHz waveforms (``speech`` only)."""

    num_optimizers: int = 1
    class_choices_list = []
    trainer = DinoSRTrainer

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group(description="DinoSR task related")
        group.add_argument(
            "--model_conf", action=NestedDictAction, default=dict(),
            help="DinoSRConfig fields (dinosr_espnet/model/config.py); unknown keys are errors",
        )
        group.add_argument("--fs", type=int, default=16000,
                           help="Required sample rate of the audio in Hz")
        update_schedule.add_arguments(group)
        group.add_argument(
            "--max_sample_size", type=int_or_none, default=320000,
            help="Cap on the cropped length of a batch in samples (release: 20 s)",
        )
        group.add_argument(
            "--crop_to_shortest", type=str2bool, default=True,
            help="Crop every utterance at a random offset to the shortest in the batch (as "
            "released); false pads instead (the model then masks padded frames)",
        )
        group = parser.add_argument_group(
            description="Training-health monitor (docs/training_checks.md)")
        group.add_argument(
            "--health_active_fraction", type=float, default=0.1,
            help="Warn 'codebook_collapse' when a codebook uses fewer than this fraction of "
            "its codewords in a training batch",
        )
        group.add_argument(
            "--health_perplexity_drop", type=float, default=10.0,
            help="Warn 'codebook_collapse' when a codebook's perplexity falls this many times "
            "below its peak",
        )
        group.add_argument(
            "--health_interval", type=int, default=100,
            help="Log a health line at the first and every N-th training batch; repeat a "
            "lasting alarm every N batches",
        )
        group.add_argument(
            "--health_stop_on_collapse", type=str2bool, default=False,
            help="End the run with an error at a codebook collapse instead of only warning",
        )
        group = parser.add_argument_group(description="Preprocess related")
        group.add_argument(
            "--use_preprocessor", type=str2bool, default=True,
            help="Check sample rate and minimum length of every utterance",
        )

    @classmethod
    def check_task_options(cls, args: argparse.Namespace) -> None:
        """Start-up check (``config_check``): ``model_conf`` is a valid ``DinoSRConfig``, and
        training has the shape files ESPnet's batching needs."""
        model_config(args)
        for split in ("train", "valid"):
            if not args.collect_stats and not getattr(args, f"{split}_shape_file"):
                raise ValueError(
                    f"no --{split}_shape_file: ESPnet batches by length; give a speech_shape "
                    f"file ('utt num_samples' lines, e.g. the dump's utt2num_samples)")

    @classmethod
    def build_collate_fn(cls, args: argparse.Namespace, train: bool) -> Callable[
        [Collection[tuple[str, dict[str, np.ndarray]]]],
        tuple[list[str], dict[str, torch.Tensor]],
    ]:
        if args.collect_stats:  # the stats stage must see full lengths
            return DinoSRCollateFn(max_sample_size=None, crop=False)
        return DinoSRCollateFn(args.max_sample_size, crop=args.crop_to_shortest)

    @classmethod
    def build_preprocess_fn(cls, args: argparse.Namespace, train: bool
                            ) -> Optional[Callable[[str, dict[str, np.ndarray]],
                                                   dict[str, np.ndarray]]]:
        if not args.use_preprocessor:
            return None
        entries = list(args.train_data_path_and_name_and_type or [])
        entries += list(getattr(args, "valid_data_path_and_name_and_type", None) or [])
        scps = [p for p, name, kind in entries if name == "speech" and kind == "sound"]
        return DinoSRPreprocessor(args.fs, model_config(args).receptive_field, scps)

    @classmethod
    def required_data_names(cls, train: bool = True, inference: bool = False
                            ) -> tuple[str, ...]:
        return ("speech",)

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False
                            ) -> tuple[str, ...]:
        return ()

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> ESPnetDinoSRModel:
        cfg = model_config(args)
        args.model_conf = cfg.to_dict()  # config.yaml then records every model setting
        health = HealthConfig(
            active_fraction=args.health_active_fraction,
            perplexity_drop=args.health_perplexity_drop,
            interval=args.health_interval,
            stop_on_collapse=args.health_stop_on_collapse,
        )
        tensorboard = None
        first_rank = not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0
        if getattr(args, "use_tensorboard", False) and args.output_dir and first_rank:
            tensorboard = str(Path(args.output_dir) / "tensorboard" / "health")
        return ESPnetDinoSRModel(cfg, health, tensorboard)

    @classmethod
    def build_optimizers(cls, args: argparse.Namespace, model: torch.nn.Module
                         ) -> list[torch.optim.Optimizer]:
        """ESPnet's optimizer plus the post-step hook that steps the teacher (Eq. 1)."""
        optimizers = super().build_optimizers(args, model)
        register_teacher_step(optimizers[0], model.dinosr)
        return optimizers

    @classmethod
    def main_worker(cls, args: argparse.Namespace) -> None:
        """Check the run set-up, derive the epoch length from ``updates_per_epoch``, then
        hand over to ESPnet's worker under the experiment lock (and the launcher watch)."""
        with one_line_errors_in_spawned_worker(args.dist_rank):
            cls._checked_main_worker(args)

    @classmethod
    def _checked_main_worker(cls, args: argparse.Namespace) -> None:
        if args.ngpu > 1 and not args.distributed:
            raise ValueError(
                f"--ngpu {args.ngpu} without --multiprocessing_distributed true would use "
                "DataParallel, which drops the codebook and teacher updates made inside "
                "forward: pass --multiprocessing_distributed true"
            )
        cfg = model_config(args)
        shape_files = list(args.train_shape_file) + list(args.valid_shape_file)
        entries = list(args.train_data_path_and_name_and_type or [])
        entries += list(args.valid_data_path_and_name_and_type or [])
        check_speech_lengths(entries, shape_files, cfg.receptive_field)
        with training_run(args):
            super().main_worker(args)
