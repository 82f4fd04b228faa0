"""Training length in optimizer updates, whatever ``--accum_grad`` and the GPU count.

ESPnet counts an epoch in batches (``num_iters_per_epoch``), so raising ``--accum_grad`` to
keep the global batch on fewer GPUs silently divides the number of updates. With
``updates_per_epoch`` the epoch length is given in updates instead and
``num_iters_per_epoch = updates_per_epoch × accum_grad`` is derived. (Under DDP every rank
runs ``num_iters_per_epoch`` batches of its shard, so the GPU count does not change it.)
"""
from __future__ import annotations

import argparse
import logging
from typing import Optional

from espnet2.utils.types import int_or_none

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``--updates_per_epoch``."""
    parser.add_argument(
        "--updates_per_epoch", type=int_or_none, default=None,
        help="Optimizer updates per epoch; sets num_iters_per_epoch = updates_per_epoch × "
        "accum_grad, so max_epoch × updates_per_epoch updates run whatever accum_grad is "
        "(none: ESPnet's num_iters_per_epoch, counted in batches)",
    )


def resolve(args: argparse.Namespace) -> None:
    """Derive ``args.num_iters_per_epoch`` from ``args.updates_per_epoch`` (in place)."""
    updates = args.updates_per_epoch
    if updates is None:
        return
    if updates < 1:
        raise ValueError(f"updates_per_epoch must be a positive int, got {updates!r}")
    iters = updates * args.accum_grad
    if args.num_iters_per_epoch is not None and args.num_iters_per_epoch != iters:
        raise ValueError(
            f"num_iters_per_epoch {args.num_iters_per_epoch} (batches) disagrees with "
            f"updates_per_epoch {updates} × accum_grad {args.accum_grad} = {iters}: give only "
            "updates_per_epoch (or --num_iters_per_epoch none), or only num_iters_per_epoch")
    args.num_iters_per_epoch = iters


def total_updates(args: argparse.Namespace) -> Optional[int]:
    """Optimizer updates of the whole run (None when epochs are full passes over the data)."""
    if args.num_iters_per_epoch is None:
        return None
    return args.max_epoch * (args.num_iters_per_epoch // args.accum_grad)


def check_against_lr_schedule(args: argparse.Namespace) -> None:
    """Warn when the run ends before or after the tri-stage LR schedule does."""
    updates = total_updates(args)
    if updates is None or args.scheduler != "tristage":
        return
    max_steps = (args.scheduler_conf or {}).get("max_steps")
    if max_steps is not None and updates != max_steps:
        logger.warning(
            "this run makes %d optimizer updates (max_epoch %d × %d batches / accum_grad %d) "
            "but the tristage LR schedule spans max_steps %s: %s", updates, args.max_epoch,
            args.num_iters_per_epoch, args.accum_grad, max_steps,
            "it stops before the LR has decayed" if updates < max_steps
            else "the last updates run at the final LR")
