"""ZeroSpeech 2021 / libri-light ABX error rates (evaluation.md; spec §7 acoustic units).

``compute_abx(items, features, ABXConfig(...))`` slices the item tokens out of the features,
builds the within- and across-speaker cells (within context), computes path-length-normalised
DTW distances in batches and aggregates the cell errors. Errors are fractions (0.5 = chance).
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
from dinosr_espnet.eval.abx.scoring import aggregate, cell_errors
from dinosr_espnet.eval.abx.slicing import SLICING_MODES
from dinosr_espnet.eval.abx.tokens import build_tokens

logger = logging.getLogger(__name__)

CONDITIONS = ("within", "across")
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass
class ABXConfig:
    """ABX options; defaults follow evaluation.md with DinoSR's 50 Hz frame rate.

    ``max_size_group`` / ``max_x_across`` of ``None`` disable subsampling. ``chunk_elements``
    bounds the tensor elements of one DTW batch (memory knob; the result does not depend on it);
    ``None`` picks 2**25 on CPU and 2**28 on CUDA (a few GB with the JS distance).
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
    distance = get_distance(config.distance, prepared=True)
    elementwise = config.distance == "js"
    chunk = config.chunk_elements or (1 << 28 if tokens.frames.is_cuda else 1 << 25)
    scores: dict[str, Optional[float]] = {name: None for name in CONDITIONS}
    num_cells: dict[str, int] = {}
    for condition in config.conditions:
        cells = within_cells(groups) if condition == "within" else across_cells(
            groups, config.max_x_across, config.seed
        )
        num_cells[condition] = len(cells)
        if len(cells) == 0:
            logger.warning("ABX %s-speaker: no cell (too few speakers or tokens); score is None", condition)
            continue
        errors = cell_errors(tokens, cells, distance, elementwise, chunk)
        scores[condition] = aggregate(cells, errors)
        logger.info(
            "ABX %s-speaker error: %.3f%% over %d cells", condition, 100 * scores[condition], len(cells)
        )
    return ABXResult(
        within=scores["within"], across=scores["across"], num_tokens=len(tokens),
        num_skipped_tokens=tokens.num_skipped, num_cells=num_cells, config=asdict(config),
    )
