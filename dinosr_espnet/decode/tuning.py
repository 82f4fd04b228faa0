"""Grid search of the LM weight and word score on a dev set (wav2vec 2.0 protocol: tune
lm_weight ∈ [0, 8] and word_score ∈ [−5, 5] on dev only, then decode test with the best)."""
from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from multiprocessing import get_context
from typing import Callable, Mapping, Optional, Sequence

import numpy as np
from tqdm import tqdm

from dinosr_espnet.decode.beam_search import BeamSearchConfig, LexiconBeamSearch
from dinosr_espnet.decode.scoring import ErrorCounts, error_counts

logger = logging.getLogger(__name__)

Evaluate = Callable[[float, float], ErrorCounts]


def value_range(start: float, stop: float, step: float) -> list[float]:
    """``start, start + step, ...`` up to and including ``stop`` (rounded to 6 decimals)."""
    if step <= 0:
        raise ValueError(f"grid step must be > 0, got {step}")
    if stop < start:
        raise ValueError(f"grid stop {stop} is below start {start}")
    n = int(np.floor((stop - start) / step + 1e-9)) + 1
    return [round(start + i * step, 6) for i in range(n)]


@dataclass(frozen=True)
class Trial:
    """One grid point and its dev errors."""

    lm_weight: float
    word_score: float
    counts: ErrorCounts


def best_trial(trials: Sequence[Trial]) -> Trial:
    """Lowest error rate; ties go to the earliest grid point (smallest lm_weight, then
    word_score, in the default grid order)."""
    if not trials:
        raise ValueError("no trials")
    return min(trials, key=lambda t: t.counts.error_rate)


_evaluate: Optional[Evaluate] = None


def _run_point(point: tuple[float, float]) -> Trial:
    assert _evaluate is not None
    return Trial(point[0], point[1], _evaluate(*point))


def grid_search(evaluate: Evaluate, lm_weights: Sequence[float], word_scores: Sequence[float],
                nj: int = 1) -> list[Trial]:
    """``evaluate(lm_weight, word_score)`` on every grid point (lm_weight-major order);
    ``nj`` > 1 runs points in that many forked processes."""
    global _evaluate
    if nj < 1:
        raise ValueError(f"nj must be >= 1, got {nj}")
    points = [(lw, ws) for lw in lm_weights for ws in word_scores]
    if not points:
        raise ValueError("empty grid")
    _evaluate = evaluate
    trials: list[Trial] = []
    try:
        with ExitStack() as stack:
            bar = stack.enter_context(tqdm(total=len(points), desc="tune_lm", unit="point"))
            if nj == 1:
                results = map(_run_point, points)
            else:
                pool = stack.enter_context(ProcessPoolExecutor(nj, mp_context=get_context("fork")))
                results = pool.map(_run_point, points)
            for trial in results:
                trials.append(trial)
                logger.info(f"lm_weight {trial.lm_weight:g} word_score {trial.word_score:g}: "
                            f"error {100 * trial.counts.error_rate:.2f}%")
                bar.update()
    finally:
        _evaluate = None
    return trials


def beam_search_evaluator(emissions: Mapping[str, np.ndarray], refs: Mapping[str, str],
                          tokens: Sequence[str], lexicon: str | os.PathLike,
                          lm: str | os.PathLike, base: BeamSearchConfig, metric: str
                          ) -> Evaluate:
    """``evaluate(lm_weight, word_score)``: decode every dev utterance with ``base`` changed at
    those two options and score against ``refs`` with ``metric``."""
    missing = [k for k in emissions if k not in refs]
    if missing:
        raise ValueError(f"{len(missing)} utterances with emissions have no reference, "
                         f"e.g. {missing[0]!r}")
    dev_refs = {k: refs[k] for k in emissions}
    if len(dev_refs) < len(refs):
        logger.warning(f"tuning on the {len(dev_refs)} of {len(refs)} reference utterances "
                       "that have emissions")

    LexiconBeamSearch(tokens, lexicon, lm, base)  # fail early on bad files, before the grid

    def evaluate(lm_weight: float, word_score: float) -> ErrorCounts:
        config = replace(base, lm_weight=lm_weight, word_score=word_score)
        decoder = LexiconBeamSearch(tokens, lexicon, lm, config)
        hyps = {k: decoder(e) for k, e in emissions.items()}
        return error_counts(dev_refs, hyps, metric)

    return evaluate
