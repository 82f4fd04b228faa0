"""Batched, chunked feature extraction over a corpus, through the inference API.

Long files are cut into chunks at frame boundaries. With a total stride ``S`` and receptive
field ``R`` (320 and 400 samples for BASE), whole-file frame ``j`` reads samples
``[jS, jS + R)``. A chunk owning frames ``[a, b)`` is given samples ``[a'S, (b' - 1)S + R)``
(the last chunk: up to the end of the file), where ``[a', b')`` adds ``context`` frames on
each side; the CNN then returns exactly frames ``a'..b'-1`` and the chunk keeps ``a..b-1``.
Adjacent chunks therefore overlap by ``R - S`` samples plus the context, and the concatenated
output always has ``num_frames(L)`` frames, each computed by the CNN from the same samples as
in a whole-file pass. What differs from a whole-file pass: the transformer attends only within
the chunk (the context frames soften the edges), and the inference API standardises each
chunk's waveform and instance-normalises the teacher targets over the chunk. Chunks are
near-equal (``ceil(T / F)`` pieces of ``T`` frames), so no tiny tail chunk is produced.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
from tqdm import tqdm

from dinosr_espnet.inference import DinoSRInference, DinoSRResult
from dinosr_espnet.model.config import DinoSRConfig


@dataclass(frozen=True)
class Chunk:
    """Samples ``[sample_start, sample_end)`` give frames whose ``[keep_start, keep_end)``
    slice is whole-file frames ``[frame_start, frame_start + keep_end - keep_start)``."""

    sample_start: int
    sample_end: int
    keep_start: int
    keep_end: int
    frame_start: int


def chunk_plan(num_samples: int, cfg: DinoSRConfig, chunk_frames: Optional[int],
               context_frames: int = 0) -> list[Chunk]:
    """Chunks covering a waveform of ``num_samples`` (one chunk if it fits ``chunk_frames``)."""
    total = cfg.num_frames(num_samples)
    if total < 1:
        raise ValueError(f"{num_samples} samples are fewer than the receptive field "
                         f"({cfg.receptive_field})")
    if chunk_frames is None or total <= chunk_frames:
        return [Chunk(0, num_samples, 0, total, 0)]
    if chunk_frames < 1 or context_frames < 0:
        raise ValueError(f"chunk_frames must be >= 1 and context_frames >= 0, got "
                         f"{chunk_frames} and {context_frames}")
    stride, field = cfg.conv_stride, cfg.receptive_field
    pieces = math.ceil(total / chunk_frames)
    bounds = [round(c * total / pieces) for c in range(pieces + 1)]
    chunks = []
    for a, b in zip(bounds, bounds[1:]):
        lo, hi = max(0, a - context_frames), min(total, b + context_frames)
        end = num_samples if hi == total else (hi - 1) * stride + field
        chunks.append(Chunk(lo * stride, end, a - lo, b - lo, a))
    return chunks


def _stitch(parts: list[DinoSRResult], chunks: list[Chunk]) -> DinoSRResult:
    if len(parts) == 1:
        return parts[0]
    keep = [slice(c.keep_start, c.keep_end) for c in chunks]
    hidden = {i: torch.cat([p.hidden_states[i][s] for p, s in zip(parts, keep)])
              for i in parts[0].hidden_states}
    codes = probs = None
    if parts[0].codeword_indices is not None:
        codes = torch.cat([p.codeword_indices[:, s] for p, s in zip(parts, keep)], dim=1)
    if parts[0].head_probs is not None:
        probs = torch.cat([p.head_probs[:, s] for p, s in zip(parts, keep)], dim=1)
    return DinoSRResult(sum(c.keep_end - c.keep_start for c in chunks), hidden, codes, probs)


class CorpusExtractor:
    """Runs the inference API over many waveforms, chunking long ones (module docstring).

    Args:
        inference: the loaded model.
        layers: hidden-state indices to return (0 = transformer input, i = layer i).
        codewords / head_probs: also return teacher codeword indices / student head softmax.
        batch_size: waveforms (or chunks) per forward pass; batches are padded.
        chunk_seconds: chunk length for long files; ``None`` never chunks.
        context_seconds: extra audio on each side of a chunk, dropped from the output.
    """

    def __init__(self, inference: DinoSRInference, layers: Sequence[int], codewords: bool = True,
                 head_probs: bool = True, batch_size: int = 8,
                 chunk_seconds: Optional[float] = 30.0, context_seconds: float = 0.0) -> None:
        if chunk_seconds is not None and chunk_seconds <= 0:
            raise ValueError(f"chunk_seconds must be > 0, got {chunk_seconds}")
        if context_seconds < 0:
            raise ValueError(f"context_seconds must be >= 0, got {context_seconds}")
        self.inference = inference
        self.layers = list(layers)
        self.codewords = codewords
        self.head_probs = head_probs
        self.batch_size = batch_size
        rate = inference.fs / inference.config.conv_stride
        self.chunk_frames = None if chunk_seconds is None else max(1, round(chunk_seconds * rate))
        self.context_frames = round(context_seconds * rate)

    def __call__(self, waveforms: Sequence[np.ndarray]) -> list[DinoSRResult]:
        """One result per waveform (hidden states, codewords, probs over all its frames)."""
        plans, pieces = [], []
        for w in waveforms:
            plan = chunk_plan(len(w), self.inference.config, self.chunk_frames,
                              self.context_frames)
            plans.append(plan)
            pieces.extend(w[c.sample_start:c.sample_end] for c in plan)
        outputs = self.inference(pieces, layers=self.layers, batch_size=self.batch_size,
                                 codewords=self.codewords, head_probs=self.head_probs)
        results, start = [], 0
        for w, plan in zip(waveforms, plans):
            result = _stitch(outputs[start:start + len(plan)], plan)
            start += len(plan)
            expected = self.inference.num_frames(len(w))
            if result.num_frames != expected:
                raise RuntimeError(f"chunked extraction produced {result.num_frames} frames "
                                   f"for {len(w)} samples, expected {expected}")
            results.append(result)
        return results

    def iterate(self, entries: dict[str, str], load: Callable[[str, str], np.ndarray],
                desc: str = "extract") -> Iterator[tuple[str, DinoSRResult]]:
        """``(uid, result)`` for every ``uid -> wav.scp entry``, in order, with a progress bar.

        Waveforms are read ``4 * batch_size`` at a time so that the inference API can group
        similar lengths while memory stays bounded.
        """
        block = 4 * self.batch_size
        items = list(entries.items())
        with tqdm(total=len(items), desc=desc, unit="utt", disable=None) as bar:
            for start in range(0, len(items), block):
                uids = [uid for uid, _ in items[start:start + block]]
                wavs = [load(uid, entry) for uid, entry in items[start:start + block]]
                for uid, w in zip(uids, wavs):
                    if self.inference.num_frames(len(w)) < 1:
                        raise ValueError(f"utterance {uid!r}: {len(w)} samples, fewer than the "
                                         f"receptive field ({self.inference.config.receptive_field})")
                yield from zip(uids, self(wavs))
                bar.update(len(uids))


def codebook_layers(inference: DinoSRInference) -> dict[int, int]:
    """Hidden-state index → codebook index for every layer that has a codebook (spec §3)."""
    return {layer + 1: k for k, layer in enumerate(inference.target_layers)}


def parse_layers(text: str, num_states: int) -> list[int]:
    """``"all"`` or a comma list (``"5,11"``) of hidden-state indices, checked against 0..K."""
    if text.strip() == "all":
        return list(range(num_states))
    try:
        layers = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise ValueError(f"layers must be 'all' or comma-separated integers, got {text!r}") from None
    bad = [i for i in layers if not 0 <= i < num_states]
    if bad or not layers:
        raise ValueError(f"layers {bad or text!r} out of range 0..{num_states - 1} "
                         "(0 = transformer input, i = output of layer i)")
    return layers

