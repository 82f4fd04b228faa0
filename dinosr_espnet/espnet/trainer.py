"""``DinoSRTrainer``: ESPnet's trainer with atomic saves and mid-epoch checkpoints.

ESPnet saves only at epoch ends, in place. This subclass (used by pretraining and
fine-tuning) makes every ``torch.save`` of a run atomic, reads checkpoints with one-line
errors, and writes ``checkpoint_mid_epoch.pth`` every ``--save_every_updates`` updates. A
mid-epoch checkpoint holds the model, optimizer, scheduler and AMP-scaler states, the
epoch's train statistics so far, the number of batches done and every rank's RNG states at
that point; ``--resume true`` restores it, skips the batches already done in the epoch's
deterministic batch list and continues exactly as an uninterrupted run would.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import random
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence

import numpy as np
import torch
from espnet2.train.distributed_utils import DistributedOption
from espnet2.train.reporter import SubReporter
from espnet2.train.trainer import Trainer, TrainerOptions
from espnet2.utils.build_dataclass import build_dataclass
from espnet2.utils.types import str2bool
from torch.utils.data import DataLoader

from dinosr_espnet.espnet.atomic_io import (
    atomic_symlink,
    atomic_torch_save,
    atomic_torch_saves,
    load_training_state,
)

MID_EPOCH_CHECKPOINT = "checkpoint_mid_epoch.pth"
logger = logging.getLogger(__name__)


@dataclasses.dataclass
class DinoSRTrainerOptions(TrainerOptions):
    """ESPnet's trainer options plus the mid-epoch checkpoint interval."""

    save_every_updates: int = 500


def rng_state() -> dict[str, Any]:
    """The states of every random generator a training step draws from."""
    return {"python": random.getstate(), "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the states returned by ``rng_state``."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None:
        torch.cuda.set_rng_state_all(state["cuda"])


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DistributedDataParallel/DataParallel wrapper."""
    if isinstance(model, (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)):
        return model.module
    return model


def skip_batches(iterator: Iterable, done: int) -> Iterator:
    """An iterator over ``iterator`` without its first ``done`` batches.

    A single-process ``DataLoader`` over a batch list is rebuilt on the remaining batches (no
    audio is read for the skipped ones). Otherwise the skipped batches are loaded and
    dropped, so that data-loader workers draw the same random numbers as before.
    """
    if (isinstance(iterator, DataLoader) and iterator.num_workers == 0
            and isinstance(iterator.batch_sampler, list)):
        rest = DataLoader(dataset=iterator.dataset, batch_sampler=iterator.batch_sampler[done:],
                          num_workers=0, collate_fn=iterator.collate_fn,
                          pin_memory=iterator.pin_memory, worker_init_fn=iterator.worker_init_fn)
        return iter(rest)
    it = iter(iterator)
    for _ in range(done):
        next(it)
    return it


class DinoSRTrainer(Trainer):
    """ESPnet's ``Trainer`` with atomic saves and resumable mid-epoch checkpoints."""

    _resume_mid_epoch: bool = False

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group(description="Checkpointing (DinoSR trainer)")
        group.add_argument(
            "--save_every_updates", type=int, default=500,
            help=f"Write {MID_EPOCH_CHECKPOINT} every this many optimizer updates within an "
            "epoch, for --resume true (0: only at epoch ends, as ESPnet)",
        )
        group.add_argument(
            "--exit_with_launcher", type=str2bool, default=True,
            help="Stop when a process that launched this trainer in its process group (a "
            "recipe stage, espnet2.bin.launch, run.pl) ends, so killing the launcher ends "
            "the trainer; false lets a trainer started in the background outlive its script",
        )

    @classmethod
    def build_options(cls, args: argparse.Namespace) -> DinoSRTrainerOptions:
        if args.save_every_updates < 0:
            raise ValueError(
                f"--save_every_updates must be >= 0, got {args.save_every_updates}")
        return build_dataclass(DinoSRTrainerOptions, args)

    @classmethod
    def run(cls, model: torch.nn.Module, optimizers: Sequence[torch.optim.Optimizer],
            schedulers: Sequence[Any], train_iter_factory: Any, valid_iter_factory: Any,
            plot_attention_iter_factory: Any, trainer_options: Any,
            distributed_option: DistributedOption) -> None:
        """ESPnet's training loop with atomic ``torch.save`` and mid-epoch resume."""
        output_dir = Path(trainer_options.output_dir)
        rank0 = not distributed_option.distributed or distributed_option.dist_rank == 0
        if rank0:
            tidy_after_kill(output_dir)
        cls._resume_mid_epoch = bool(trainer_options.resume)
        with atomic_torch_saves():
            super().run(model=model, optimizers=optimizers, schedulers=schedulers,
                        train_iter_factory=train_iter_factory,
                        valid_iter_factory=valid_iter_factory,
                        plot_attention_iter_factory=plot_attention_iter_factory,
                        trainer_options=trainer_options, distributed_option=distributed_option)
        if rank0:  # the epoch-end checkpoint now covers everything
            (output_dir / MID_EPOCH_CHECKPOINT).unlink(missing_ok=True)

    @classmethod
    def resume(cls, checkpoint: Path, model: torch.nn.Module, reporter: Any,
               optimizers: Sequence[torch.optim.Optimizer], schedulers: Sequence[Any],
               scaler: Optional[Any], ngpu: int = 0, strict: bool = True) -> None:
        """ESPnet's epoch-end resume; an unreadable checkpoint gives one line naming it."""
        states = load_training_state(checkpoint, _map_location(ngpu))
        _load_model_state(model, states["model"], checkpoint, strict)
        reporter.load_state_dict(states["reporter"])
        _load_optimization_states(states, optimizers, schedulers, scaler)
        logger.info("The training was resumed using %s", checkpoint)

    @classmethod
    def train_one_epoch(cls, model: torch.nn.Module, iterator: Iterable,
                        optimizers: Sequence[torch.optim.Optimizer], schedulers: Sequence[Any],
                        scaler: Optional[Any], reporter: SubReporter, summary_writer: Any,
                        options: Any, distributed_option: DistributedOption) -> bool:
        """ESPnet's epoch, resumed mid-epoch when a matching checkpoint exists and saving one
        every ``options.save_every_updates`` updates."""
        epoch = reporter.get_epoch()
        done, rng = 0, None
        if cls._resume_mid_epoch:
            cls._resume_mid_epoch = False
            mid = _read_mid_epoch(Path(options.output_dir), epoch, options.ngpu,
                                  distributed_option)
            if mid is not None:
                done, rng = _restore_mid_epoch(mid, model, optimizers, schedulers, scaler,
                                               reporter, distributed_option)
        iterator = cls._checkpointing(iterator, done, rng, model, optimizers, schedulers,
                                      scaler, reporter, options, distributed_option)
        return super().train_one_epoch(
            model=model, iterator=iterator, optimizers=optimizers, schedulers=schedulers,
            scaler=scaler, reporter=reporter, summary_writer=summary_writer, options=options,
            distributed_option=distributed_option)

    @classmethod
    def _checkpointing(cls, iterator: Iterable, done: int, rng: Optional[dict],
                       model: torch.nn.Module, optimizers: Sequence[torch.optim.Optimizer],
                       schedulers: Sequence[Any], scaler: Optional[Any], reporter: SubReporter,
                       options: Any, distributed_option: DistributedOption) -> Iterator:
        """Yield the epoch's batches from ``done`` on; before fetching a batch that starts a
        multiple of ``save_every_updates`` updates, save a mid-epoch checkpoint."""
        total = len(iterator) if hasattr(iterator, "__len__") else None
        it = skip_batches(iterator, done) if done else iter(iterator)
        if rng is not None:
            set_rng_state(rng)  # after the loader drew its base seed, as in the original run
        interval = getattr(options, "save_every_updates", 0) * options.accum_grad
        start = done
        while True:
            if interval and done > start and done % interval == 0 and done != total:
                _save_mid_epoch(Path(options.output_dir), done, model, optimizers, schedulers,
                                scaler, reporter, distributed_option)
            try:
                batch = next(it)
            except StopIteration:
                return
            yield batch
            done += 1


def _map_location(ngpu: int) -> str:
    return f"cuda:{torch.cuda.current_device()}" if ngpu > 0 else "cpu"


def _load_model_state(model: torch.nn.Module, state: dict, path: Any, strict: bool) -> None:
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as e:
        first = str(e).splitlines()[1 if len(str(e).splitlines()) > 1 else 0].strip()
        raise ValueError(
            f"{path} does not fit the model of this config ({first}): resume with the config "
            "it was trained with, or give another --output_dir") from None


def _load_optimization_states(states: dict, optimizers: Sequence[torch.optim.Optimizer],
                              schedulers: Sequence[Any], scaler: Optional[Any]) -> None:
    for optimizer, state in zip(optimizers, states["optimizers"]):
        optimizer.load_state_dict(state)
    for scheduler, state in zip(schedulers, states["schedulers"]):
        if scheduler is not None:
            scheduler.load_state_dict(state)
    if scaler is not None and states["scaler"] is not None:
        scaler.load_state_dict(states["scaler"])


def _rank(distributed_option: DistributedOption) -> tuple[int, int]:
    if distributed_option.distributed:
        return distributed_option.dist_rank, distributed_option.dist_world_size
    return 0, 1


def _save_mid_epoch(output_dir: Path, done: int, model: torch.nn.Module,
                    optimizers: Sequence[torch.optim.Optimizer], schedulers: Sequence[Any],
                    scaler: Optional[Any], reporter: SubReporter,
                    distributed_option: DistributedOption) -> None:
    rank, world = _rank(distributed_option)
    rngs = [rng_state()]
    if world > 1:
        rngs = [None] * world
        torch.distributed.all_gather_object(rngs, rng_state())
    if rank != 0:
        return
    atomic_torch_save({
        "model": unwrap(model).state_dict(),
        "optimizers": [o.state_dict() for o in optimizers],
        "schedulers": [s.state_dict() if s is not None else None for s in schedulers],
        "scaler": scaler.state_dict() if scaler is not None else None,
        "mid_epoch": {
            "epoch": reporter.get_epoch(), "batches_done": done, "world_size": world,
            "rng": rngs,
            "train_stats": {"stats": dict(reporter.stats), "count": reporter.count,
                            "total_count": reporter.total_count},
        },
    }, output_dir / MID_EPOCH_CHECKPOINT)
    logger.info("Saved %s: epoch %d, %d batches done", MID_EPOCH_CHECKPOINT,
                reporter.get_epoch(), done)


def _read_mid_epoch(output_dir: Path, epoch: int, ngpu: int,
                    distributed_option: DistributedOption) -> Optional[dict]:
    """The mid-epoch checkpoint of ``epoch`` (the first epoch this run trains), if any."""
    path = output_dir / MID_EPOCH_CHECKPOINT
    if not path.exists():
        return None
    states = load_training_state(path, _map_location(ngpu))
    saved = states["mid_epoch"]["epoch"]
    if saved < epoch:  # the epoch it belongs to has ended since: stale
        if _rank(distributed_option)[0] == 0:
            path.unlink(missing_ok=True)
        return None
    if saved > epoch:
        raise ValueError(
            f"{path} is from epoch {saved}, but checkpoint.pth in the same directory ends "
            f"before epoch {epoch}: restore the matching checkpoint.pth, or move {path.name} "
            "away to resume from the epoch end")
    world = _rank(distributed_option)[1]
    if states["mid_epoch"]["world_size"] != world:
        raise ValueError(
            f"{path} was written by {states['mid_epoch']['world_size']} training processes; "
            f"resume it with as many (now {world}), or move it away to resume from the last "
            "epoch end")
    return states


def _restore_mid_epoch(states: dict, model: torch.nn.Module,
                       optimizers: Sequence[torch.optim.Optimizer], schedulers: Sequence[Any],
                       scaler: Optional[Any], reporter: SubReporter,
                       distributed_option: DistributedOption) -> tuple[int, dict]:
    _load_model_state(unwrap(model), states["model"], MID_EPOCH_CHECKPOINT, True)
    _load_optimization_states(states, optimizers, schedulers, scaler)
    mid = states["mid_epoch"]
    train = mid["train_stats"]
    reporter.stats = defaultdict(list, train["stats"])
    reporter.count, reporter.total_count = train["count"], train["total_count"]
    logger.info("Resuming epoch %d after %d batches from %s", mid["epoch"],
                mid["batches_done"], MID_EPOCH_CHECKPOINT)
    return mid["batches_done"], mid["rng"][_rank(distributed_option)[0]]


def tidy_after_kill(output_dir: Path) -> None:
    """Remove the temporary files of saves cut short by a kill, and recreate ``latest.pth``
    if a kill fell between ESPnet's unlink and symlink of it."""
    if not output_dir.is_dir():
        return
    for tmp in output_dir.glob(".*.tmp"):
        logger.info("Removing %s, left by a save cut short", tmp)
        tmp.unlink(missing_ok=True)
    latest = output_dir / "latest.pth"
    if latest.is_symlink():
        return
    epochs = sorted(int(p.name[:-len("epoch.pth")]) for p in output_dir.glob("*epoch.pth")
                    if p.name[:-len("epoch.pth")].isdigit())
    if epochs:
        atomic_symlink(f"{epochs[-1]}epoch.pth", latest)
