"""ZeroSpeech 2021 / libri-light ABX error rates (evaluation.md; spec §7 acoustic units).

``compute_abx(items, features, ABXConfig(...))`` slices the item tokens out of the features,
builds the within- and across-speaker cells (within context), computes the path-length-normalised
DTW distances of every token pair they need, chunk by chunk (one frame-distance matrix per
context, see ``pairs.py``), and aggregates the cell errors. Errors are fractions (0.5 = chance).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from dinosr_espnet.eval.abx.cells import across_cells, build_groups, within_cells
from dinosr_espnet.eval.abx.distances import PROBABILITY_DISTANCES, get_distance, prepare_frames
from dinosr_espnet.eval.abx.items import ItemToken, read_item_file
from dinosr_espnet.eval.abx.pairs import pair_table
from dinosr_espnet.eval.abx.scoring import DTW_BACKENDS, aggregate, cell_errors, pair_values
from dinosr_espnet.eval.abx.slicing import SLICING_MODES
from dinosr_espnet.eval.abx.tokens import build_tokens

logger = logging.getLogger(__name__)

CONDITIONS = ("within", "across")
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass
class ABXConfig:
    """ABX options; defaults follow evaluation.md with DinoSR's 50 Hz frame rate.

    ``max_size_group`` / ``max_x_across`` of ``None`` disable subsampling. Frame distances are
    computed on ``device``, one matrix per chunk of at most about ``chunk_elements`` entries
    (memory knob: KL/JS need ``D`` times more; the scores do not depend on it beyond float
    rounding); ``None`` picks 2**25 on CPU and 2**28 on CUDA. ``dtw`` runs the DTW in the
    compiled ``numba`` kernel on the CPU threads (default; ``numba.set_num_threads``) or as a
    ``torch`` wavefront on ``device``; both give the same scores.
    """

    frame_rate: float = 50.0
    distance: str = "cosine"
    slicing: str = "corrected"
    max_size_group: Optional[int] = 10
    max_x_across: Optional[int] = 5
    seed: int = 0
    conditions: tuple[str, ...] = CONDITIONS
    device: str = "cpu"
    dtype: str = "float32"
    chunk_elements: Optional[int] = None
    dtw: str = "numba"

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first invalid option."""
        get_distance(self.distance)
        if self.slicing not in SLICING_MODES:
            raise ValueError(f"slicing must be one of {SLICING_MODES}, got {self.slicing!r}")
        if not self.frame_rate > 0:
            raise ValueError(f"frame_rate must be > 0, got {self.frame_rate}")
        if self.max_size_group is not None and self.max_size_group < 2:
            raise ValueError(f"max_size_group must be >= 2 or None, got {self.max_size_group}")
        if self.max_x_across is not None and self.max_x_across < 1:
            raise ValueError(f"max_x_across must be >= 1 or None, got {self.max_x_across}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        unknown = set(self.conditions) - set(CONDITIONS)
        if unknown or not self.conditions:
            raise ValueError(f"conditions must be a non-empty subset of {CONDITIONS}, got {self.conditions}")
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {tuple(_DTYPES)}, got {self.dtype!r}")
        if self.chunk_elements is not None and self.chunk_elements < 1:
            raise ValueError(f"chunk_elements must be >= 1, got {self.chunk_elements}")
        if self.dtw not in DTW_BACKENDS:
            raise ValueError(f"dtw must be one of {DTW_BACKENDS}, got {self.dtw!r}")


@dataclass
class ABXResult:
    """Error rates (fractions; ``None`` when a condition has no cell) and bookkeeping."""

    within: Optional[float]
    across: Optional[float]
    num_tokens: int
    num_skipped_tokens: int
    num_cells: dict[str, int] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return asdict(self)


def compute_abx(
    items: Union[str, Path, Sequence[ItemToken]],
    features: Mapping[str, np.ndarray],
    config: Optional[ABXConfig] = None,
) -> ABXResult:
    """ABX error rates of ``features`` (``uttid -> (T, D)``) on the tokens of ``items``."""
    config = config or ABXConfig()
    config.validate()
    if isinstance(items, (str, Path)):
        items = read_item_file(items)
    tokens = build_tokens(
        items, features, config.frame_rate, config.slicing,
        probabilities=config.distance in PROBABILITY_DISTANCES,
        device=config.device, dtype=_DTYPES[config.dtype],
    )
    tokens.frames = prepare_frames(tokens.frames, config.distance)
    groups = build_groups(tokens, config.max_size_group, config.seed)
    chunk = config.chunk_elements or (1 << 28 if tokens.frames.is_cuda else 1 << 25)
    cells = {
        condition: within_cells(groups) if condition == "within"
        else across_cells(groups, config.max_x_across, config.seed)
        for condition in config.conditions
    }
    # One pass over the group pairs of all conditions: each chunk's frame distances once.
    table = pair_table(groups, [c for c in cells.values() if len(c)])
    values = pair_values(
        tokens, groups, table, get_distance(config.distance, prepared=True),
        elementwise=config.distance in PROBABILITY_DISTANCES, chunk_elements=chunk, backend=config.dtw,
    )
    scores: dict[str, Optional[float]] = {name: None for name in CONDITIONS}
    for condition, condition_cells in cells.items():
        if len(condition_cells) == 0:
            logger.warning("ABX %s-speaker: no cell (too few speakers or tokens); score is None", condition)
            continue
        scores[condition] = aggregate(condition_cells, cell_errors(groups, condition_cells, table, values))
        logger.info("ABX %s-speaker error: %.3f%% over %d cells",
                    condition, 100 * scores[condition], len(condition_cells))
    return ABXResult(
        within=scores["within"], across=scores["across"], num_tokens=len(tokens),
        num_skipped_tokens=tokens.num_skipped,
        num_cells={name: len(c) for name, c in cells.items()}, config=asdict(config),
    )
