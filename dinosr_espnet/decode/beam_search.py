"""Lexicon-constrained CTC beam search with a KenLM word n-gram (flashlight via torchaudio).

A hypothesis scores (evaluation protocol, spec §7)::

    Σ_t log p(token_t | x) + lm_weight · Σ log10 P_LM(word) + word_score · #words
                           + sil_score · #silences

Only lexicon words can be output, and a word ends with its ``|`` (lexicon ``CAT C A T |``, the
wav2vec 2.0 / torchaudio convention). Fairseq's letter targets end every sentence with ``|``,
ESPnet's char targets (``space_symbol: "|"``) do not, so one frame that is certainly ``|`` is
appended to every utterance: the last word then completes with either kind of model (after a
trailing ``|`` it only extends that ``|``, which CTC merges).

Typical LibriSpeech values: lm_weight 2, word_score −1, sil_score 0, beam 500, beam_threshold
100; tune lm_weight and word_score on dev only (``dinosr_espnet.decode.tuning``).
"""
from __future__ import annotations

import math
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields
from multiprocessing import get_context
from typing import Callable, Iterable, Mapping, Optional, Sequence

import numpy as np
from tqdm import tqdm

from dinosr_espnet.decode.lexicon import restrict_lexicon
from dinosr_espnet.decode.tokens import BLANK, UNK, WORD_BOUNDARY

Decoder = Callable[[np.ndarray], str]
LOG_TINY = float(np.log(np.finfo(np.float32).tiny))  # log-prob of "impossible", kept finite


@dataclass(frozen=True)
class BeamSearchConfig:
    """Options of the flashlight lexicon decoder (names as in wav2vec 2.0 / torchaudio).

    ``beam``: hypotheses kept per frame; ``beam_size_token``: tokens tried per frame (None: all);
    ``beam_threshold``: prune hypotheses scoring this much below the best.
    """

    lm_weight: float = 2.0
    word_score: float = -1.0
    sil_score: float = 0.0
    beam: int = 500
    beam_size_token: Optional[int] = None
    beam_threshold: float = 100.0

    def __post_init__(self) -> None:
        if self.beam < 1:
            raise ValueError(f"beam must be >= 1, got {self.beam}")
        if self.beam_size_token is not None and self.beam_size_token < 1:
            raise ValueError(f"beam_size_token must be >= 1, got {self.beam_size_token}")
        if self.beam_threshold <= 0:
            raise ValueError(f"beam_threshold must be > 0, got {self.beam_threshold}")

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> "BeamSearchConfig":
        """Build from a mapping with a subset of the fields; unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown beam search option(s) {sorted(unknown)}; "
                             f"known: {sorted(names)}")
        return cls(**d)

    def to_dict(self) -> dict[str, object]:
        """Plain dict (for YAML)."""
        return asdict(self)


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax: a no-op on log-probs, turns logits into log-probs."""
    m = x.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    z = x - m
    return (z - np.log(np.exp(z).sum(axis=-1, keepdims=True))).astype(np.float32)


class LexiconBeamSearch:
    """Callable (T, V) emissions -> transcript; column v of the emissions is ``tokens[v]``.

    ``lexicon``: ``WORD W O R D |`` file (entries with tokens outside ``tokens`` are skipped and
    counted); ``lm``: KenLM binary or ARPA file, or None for lexicon-only search (zero LM).
    """

    def __init__(self, tokens: Sequence[str], lexicon: str | os.PathLike,
                 lm: Optional[str | os.PathLike], config: BeamSearchConfig) -> None:
        from torchaudio.models.decoder import ctc_decoder

        if tokens[0] != BLANK:
            raise ValueError(f"token 0 must be {BLANK!r} (the CTC blank), got {tokens[0]!r}")
        if WORD_BOUNDARY not in tokens:
            raise ValueError(f"the token list has no word boundary {WORD_BOUNDARY!r}")
        for path, what in ((lexicon, "lexicon"), (lm, "language model")):
            if path is not None and not os.path.isfile(path):
                raise FileNotFoundError(f"{what} file {path} does not exist")
        self.num_tokens = len(tokens)
        self.config = config
        self._final_boundary = np.full((1, len(tokens)), LOG_TINY, dtype=np.float32)
        self._final_boundary[0, tokens.index(WORD_BOUNDARY)] = 0.0
        with tempfile.TemporaryDirectory() as tmp:
            usable = restrict_lexicon(lexicon, tokens, os.path.join(tmp, "lexicon.txt"))
            self._decoder = ctc_decoder(
                lexicon=os.fspath(usable), tokens=list(tokens),
                lm=None if lm is None else os.fspath(lm), nbest=1,
                beam_size=config.beam, beam_size_token=config.beam_size_token,
                beam_threshold=config.beam_threshold, lm_weight=config.lm_weight,
                word_score=config.word_score, sil_score=config.sil_score,
                unk_score=-math.inf, blank_token=BLANK, sil_token=WORD_BOUNDARY, unk_word=UNK)

    def __call__(self, emissions: np.ndarray) -> str:
        """Best lexicon-constrained transcript (words joined by spaces; "" for no frames)."""
        import torch

        if emissions.ndim != 2 or emissions.shape[1] != self.num_tokens:
            raise ValueError(f"emissions must be (T, {self.num_tokens}), got {emissions.shape}")
        if emissions.shape[0] == 0:
            return ""
        frames = np.concatenate([log_softmax(emissions), self._final_boundary])
        batch = torch.from_numpy(frames).unsqueeze(0).contiguous()
        hyps = self._decoder(batch)[0]
        return " ".join(hyps[0].words) if hyps else ""


_worker_decoder: Optional[Decoder] = None  # the parent's decoder, inherited by forked workers


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _decode_chunk(chunk: list[tuple[str, np.ndarray]]) -> list[tuple[str, str]]:
    assert _worker_decoder is not None
    return [(key, _worker_decoder(e)) for key, e in chunk]


def _chunks(items: Iterable[tuple[str, np.ndarray]], size: int
            ) -> Iterable[list[tuple[str, np.ndarray]]]:
    chunk: list[tuple[str, np.ndarray]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def decode_all(items: Iterable[tuple[str, np.ndarray]], make_decoder: Callable[[], Decoder],
               nj: int = 1, total: Optional[int] = None, desc: str = "decode",
               progress: bool = True) -> dict[str, str]:
    """Decode ``(utt_id, emissions)`` pairs with the decoder ``make_decoder()`` builds once;
    ``nj`` > 1 decodes chunks of utterances in that many forked processes sharing it."""
    global _worker_decoder
    if nj < 1:
        raise ValueError(f"nj must be >= 1, got {nj}")
    decoder = make_decoder()
    hyps: dict[str, str] = {}
    with tqdm(total=total, desc=desc, unit="utt", disable=not progress) as bar:
        if nj == 1:
            for key, e in items:
                hyps[key] = decoder(e)
                bar.update()
            return hyps
        _worker_decoder = decoder
        try:
            with ProcessPoolExecutor(nj, mp_context=get_context("fork"),
                                     initializer=_init_worker) as pool:
                for results in pool.map(_decode_chunk, _chunks(items, 8)):
                    hyps.update(results)
                    bar.update(len(results))
        finally:
            _worker_decoder = None
    return hyps
