"""Batch assembly for DinoSR pretraining: per-file standardisation, then a random crop.

As released (spec §3, §5): each waveform is standardised over its whole length
(``layer_norm`` without affine, eps 1e-5) *before* cropping, then every utterance of the batch
is cropped at a random offset to the shortest one (capped at ``max_sample_size``), so batches
carry no padding. Offsets come from NumPy's global RNG, which ESPnet seeds per epoch (and per
DataLoader worker), so batches are reproducible under ``--seed``.
"""
from __future__ import annotations

from typing import Collection, Optional, Union

import numpy as np
import torch
from torch.nn import functional as F

WAVEFORM_NORM_EPS = 1e-5


def standardize(waveform: Union[np.ndarray, torch.Tensor]) -> torch.Tensor:
    """Zero-mean, unit-variance fp32 copy of a 1-D waveform (spec §3, eps 1e-5)."""
    x = torch.as_tensor(waveform, dtype=torch.float32)
    if x.dim() != 1:
        raise ValueError(f"expected a 1-D (mono) waveform, got shape {tuple(x.shape)}")
    return F.layer_norm(x, x.shape, eps=WAVEFORM_NORM_EPS)


class DinoSRCollateFn:
    """ESPnet collate: ``[(uid, {"speech": wav}), ...]`` → ``(uids, {speech, speech_lengths})``.

    Args:
        max_sample_size: cap on the cropped length in samples (release: 320000 = 20 s);
            ``None`` disables the cap.
        crop: crop every utterance to the shortest of the batch (pretraining). ``False`` pads
            with zeros instead and reports the true lengths (used by ESPnet's stats stage,
            which must see full lengths); utterances longer than the cap are still cropped.
    """

    def __init__(self, max_sample_size: Optional[int] = 320000, crop: bool = True) -> None:
        if max_sample_size is not None and max_sample_size < 1:
            raise ValueError(f"max_sample_size must be positive or None, got {max_sample_size}")
        self.max_sample_size = max_sample_size
        self.crop = crop

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(max_sample_size={self.max_sample_size}, "
                f"crop={self.crop})")

    def __call__(
        self, data: Collection[tuple[str, dict[str, np.ndarray]]]
    ) -> tuple[list[str], dict[str, torch.Tensor]]:
        uids = [uid for uid, _ in data]
        wavs = []
        for uid, d in data:
            if "speech" not in d:
                raise KeyError(f"utterance {uid}: no 'speech' entry (keys: {sorted(d)})")
            try:
                wavs.append(standardize(d["speech"]))
            except ValueError as e:
                raise ValueError(f"utterance {uid}: {e}") from None
        lengths = [len(w) for w in wavs]
        target = min(lengths) if self.crop else max(lengths)
        if self.max_sample_size is not None:
            target = min(target, self.max_sample_size)
        speech = torch.zeros(len(wavs), target)
        out_lengths = torch.empty(len(wavs), dtype=torch.long)
        for i, w in enumerate(wavs):
            if len(w) > target:
                start = int(np.random.randint(0, len(w) - target + 1))
                w = w[start:start + target]
            speech[i, : len(w)] = w
            out_lengths[i] = len(w)
        return uids, {"speech": speech, "speech_lengths": out_lengths}
