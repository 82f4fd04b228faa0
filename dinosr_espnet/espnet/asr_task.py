"""``DinoSRASRTask``: ESPnet's ASR task with the DinoSR encoder and its update counter.

Importing this module registers ``DinoSREncoder`` as ``encoder: dinosr`` in
``espnet2.tasks.asr.encoder_choices`` and (through ``dinosr_espnet.espnet.task``) the
``tristage`` LR scheduler, in every process that imports it (training workers, inference).
"""
from __future__ import annotations

import argparse
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from espnet2.asr.espnet_model import ESPnetASRModel
from espnet2.tasks.asr import ASRTask, encoder_choices
from torch.utils.hooks import RemovableHandle

import dinosr_espnet.espnet.task  # noqa: F401  (registers the "tristage" scheduler)
from dinosr_espnet.espnet import update_schedule
from dinosr_espnet.espnet.asr_encoder import DinoSREncoder, read_pretrain_dinosr_conf
from dinosr_espnet.espnet.data_checks import DinoSRPreprocessor
from dinosr_espnet.espnet.run_guard import one_line_errors_in_spawned_worker, training_run
from dinosr_espnet.espnet.trainer import DinoSRTrainer
from dinosr_espnet.model.config import DinoSRConfig

encoder_choices.classes["dinosr"] = DinoSREncoder

PreprocessFn = Callable[[str, dict[str, np.ndarray]], dict[str, np.ndarray]]


def register_update_counter(optimizer: torch.optim.Optimizer, encoder: DinoSREncoder
                            ) -> RemovableHandle:
    """Call ``encoder.on_optimizer_step()`` after every completed ``optimizer.step()``.

    The hook fires once per update whatever ``--accum_grad`` is, and not when ESPnet skips a
    non-finite gradient or AMP's ``GradScaler`` skips the step: it counts real updates.
    """

    def hook(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        encoder.on_optimizer_step()

    return optimizer.register_step_post_hook(hook)


class CheckedPreprocessor:
    """Check an utterance (mono, sample rate, at least one CNN frame; errors name it), then
    apply ESPnet's ASR preprocessing (tokenisation) when there is one."""

    def __init__(self, check: DinoSRPreprocessor, base: Optional[PreprocessFn]) -> None:
        self.check = check
        self.base = base

    def __call__(self, uid: str, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        data = self.check(uid, data)
        return data if self.base is None else self.base(uid, data)


class DinoSRASRTask(ASRTask):
    """ESPnet ASR (all its options) plus DinoSR fine-tuning support (spec §7), trained by
    ``DinoSRTrainer`` (atomic and mid-epoch checkpoints) under the experiment lock."""

    trainer = DinoSRTrainer

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser) -> None:
        super().add_task_arguments(parser)
        group = parser.add_argument_group(description="DinoSR fine-tuning related")
        group.add_argument("--fs", type=int, default=16000,
                           help="Required sample rate of the audio in Hz (encoder: dinosr)")
        update_schedule.add_arguments(group)

    @classmethod
    def main_worker(cls, args: argparse.Namespace) -> None:
        """Derive the epoch length from ``updates_per_epoch``, then run ESPnet's worker under
        the experiment lock (and the launcher watch)."""
        with one_line_errors_in_spawned_worker(args.dist_rank):
            with training_run(args):
                super().main_worker(args)

    @classmethod
    def check_task_options(cls, args: argparse.Namespace) -> None:
        """Start-up check (``config_check``): with ``encoder: dinosr``, a valid DinoSR
        configuration and the raw-waveform set-up."""
        if getattr(args, "encoder", None) == "dinosr":
            try:
                DinoSRConfig.from_dict(dinosr_conf(args.encoder_conf))
            except ValueError as e:
                raise ValueError(f"encoder_conf: {e}") from None
            _check_raw_waveform_setup(args)

    @classmethod
    def build_preprocess_fn(cls, args: argparse.Namespace, train: bool
                            ) -> Optional[PreprocessFn]:
        """ESPnet's ASR preprocessing, preceded by per-utterance input checks for DinoSR."""
        entries = list(getattr(args, "train_data_path_and_name_and_type", None) or [])
        entries += list(getattr(args, "valid_data_path_and_name_and_type", None) or [])
        scps = [p for p, name, kind in entries if name == "speech" and kind == "sound"]
        return cls.checked_preprocess_fn(args, train, scps)

    @classmethod
    def checked_preprocess_fn(cls, args: argparse.Namespace, train: bool,
                              speech_scps: Sequence[str]) -> Optional[PreprocessFn]:
        """``build_preprocess_fn`` with the ``sound`` scps whose headers give sample rates."""
        base = super().build_preprocess_fn(args, train)
        if getattr(args, "encoder", None) != "dinosr":
            return base
        cfg = DinoSRConfig.from_dict(dinosr_conf(args.encoder_conf))
        check = DinoSRPreprocessor(getattr(args, "fs", 16000), cfg.receptive_field,
                                   list(speech_scps))
        return CheckedPreprocessor(check, base)

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> ESPnetASRModel:
        """Check the raw-waveform set-up, inline ``pretrain_config`` as ``dinosr_conf`` (so
        ``config.yaml`` is self-contained), then build as ESPnet's ASR task does."""
        if getattr(args, "encoder", None) == "dinosr":
            _check_raw_waveform_setup(args)
            conf = dict(args.encoder_conf or {})
            conf["dinosr_conf"] = dinosr_conf(conf)
            conf.pop("pretrain_config", None)
            args.encoder_conf = conf
        return super().build_model(args)

    @classmethod
    def build_optimizers(cls, args: argparse.Namespace, model: torch.nn.Module
                         ) -> list[torch.optim.Optimizer]:
        """ESPnet's optimizers plus the update counter that ends ``freeze_encoder_updates``."""
        optimizers = super().build_optimizers(args, model)
        for module in model.modules():
            if isinstance(module, DinoSREncoder):
                register_update_counter(optimizers[0], module)
        return optimizers


def dinosr_conf(encoder_conf: Optional[dict]) -> dict[str, Any]:
    """The ``DinoSRConfig`` mapping of an ``encoder_conf``: its ``dinosr_conf``, or the
    ``model_conf`` of the pretraining config named by ``pretrain_config``."""
    conf = encoder_conf or {}
    given = conf.get("dinosr_conf"), conf.get("pretrain_config")
    if (given[0] is None) == (given[1] is None):
        raise ValueError("encoder_conf: give exactly one of 'dinosr_conf' and 'pretrain_config'")
    return dict(given[0]) if given[0] is not None else read_pretrain_dinosr_conf(given[1])


def _check_raw_waveform_setup(args: argparse.Namespace) -> None:
    """The DinoSR encoder reads raw speech: no frontend, no feature normalisation/SpecAug."""
    wrong = []
    if args.input_size != 1:
        wrong.append(f"input_size: 1 (got {args.input_size})")
    if getattr(args, "normalize", None) is not None:
        wrong.append(f"normalize: null (got {args.normalize})")
    if getattr(args, "specaug", None) is not None:
        wrong.append(f"specaug: null (got {args.specaug}; the encoder masks itself)")
    if getattr(args, "preencoder", None) is not None:
        wrong.append(f"preencoder: null (got {args.preencoder})")
    if wrong:
        raise ValueError("encoder: dinosr reads raw 16 kHz waveforms; set "
                         + ", ".join(wrong) + " (frontend is then unused)")
