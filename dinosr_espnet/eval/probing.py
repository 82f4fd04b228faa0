"""SUPERB-style phone-recognition probe on a frozen upstream (evaluation.md, spec §7).

Featuriser: ``sum_l softmax(w)_l · h_l`` over all K + 1 hidden states, ``w`` initialised to
zeros (uniform weights), each state optionally layer-normalised (no affine) first. Head: one
linear map to the phone vocabulary plus a CTC blank (index 0). Only ``w`` and the head train.

Targets: 100 Hz frame labels collapse into phone sequences (runs of equal labels merge; two
identical adjacent phones therefore count once, a limit of frame labels). Silence and the
other ``drop`` labels are removed by default (PER over phones only, as in SUPERB PR, whose
TIMIT-style references have no silence); keeping them makes silence an ordinary token.
PER = (S + D + I) / N over the whole set (jiwer on space-joined phones).
"""
from __future__ import annotations

import copy
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol, Union

import jiwer
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

logger = logging.getLogger(__name__)

DEFAULT_DROP = ("sil", "sp", "spn", "nsn", "hes", "<sil>")
BLANK = 0


def collapse_labels(frames: Sequence[str], drop: Sequence[str] = DEFAULT_DROP) -> list[str]:
    """Phone sequence of frame labels: merge runs, then remove the ``drop`` labels."""
    phones = [p for i, p in enumerate(frames) if i == 0 or p != frames[i - 1]]
    return [p for p in phones if p not in set(drop)]


class PhoneVocab:
    """Phones ↔ ids 1..P (0 is the CTC blank), from the training sequences."""

    def __init__(self, sequences: Sequence[Sequence[str]]) -> None:
        self.phones = sorted({p for seq in sequences for p in seq})
        if not self.phones:
            raise ValueError("no phone in the training labels (all silence?)")
        self.index = {p: i + 1 for i, p in enumerate(self.phones)}

    def __len__(self) -> int:
        return len(self.phones) + 1

    def encode(self, phones: Sequence[str], uid: str = "") -> list[int]:
        missing = sorted(set(phones) - set(self.index))
        if missing:
            raise ValueError(f"utterance {uid!r}: phones {missing} not in the training vocabulary")
        return [self.index[p] for p in phones]

    def decode(self, ids: Sequence[int]) -> list[str]:
        return [self.phones[i - 1] for i in ids if i != BLANK]


class WeightedSumFeaturizer(nn.Module):
    """``softmax(w)``-weighted sum of hidden states ``(S, B, T, D) -> (B, T, D)``; w = 0 at init."""

    def __init__(self, num_states: int, layer_norm: bool = False) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(num_states))
        self.layer_norm = layer_norm

    def layer_weights(self) -> torch.Tensor:
        return self.weights.softmax(0)

    def forward(self, states: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        states = torch.stack(list(states)) if not torch.is_tensor(states) else states
        if states.shape[0] != self.weights.numel():
            raise ValueError(f"expected {self.weights.numel()} hidden states, got {states.shape[0]}")
        if self.layer_norm:
            states = F.layer_norm(states, states.shape[-1:])
        return torch.einsum("s,sbtd->btd", self.layer_weights().to(states.dtype), states)


class LinearCTCProbe(nn.Module):
    """Featuriser + ``Linear(D, P + 1)``; returns CTC log-probabilities (B, T, P + 1)."""

    def __init__(self, num_states: int, dim: int, vocab_size: int, layer_norm: bool = False) -> None:
        super().__init__()
        self.featurizer = WeightedSumFeaturizer(num_states, layer_norm)
        self.head = nn.Linear(dim, vocab_size)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.head(self.featurizer(states)).float().log_softmax(-1)

    def loss(self, states: torch.Tensor, lengths: torch.Tensor, targets: Sequence[Sequence[int]]
             ) -> torch.Tensor:
        """CTC loss, per utterance divided by its target length, averaged over the batch."""
        log_probs = self(states).transpose(0, 1)  # (T, B, C)
        flat = torch.tensor([t for seq in targets for t in seq], dtype=torch.long)
        target_lengths = torch.tensor([len(seq) for seq in targets], dtype=torch.long)
        return F.ctc_loss(log_probs, flat.to(log_probs.device), lengths.to(log_probs.device),
                          target_lengths.to(log_probs.device), blank=BLANK, zero_infinity=True)


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
    """Best path per utterance: argmax, merge repeats, drop blanks."""
    best = log_probs.argmax(-1).cpu()
    out = []
    for b, n in enumerate(lengths.tolist()):
        path = best[b, :n].tolist()
        out.append([t for i, t in enumerate(path) if t != BLANK and (i == 0 or t != path[i - 1])])
    return out


def phone_error_rate(refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]]) -> dict:
    """Corpus PER with its counts: ``{"per", "substitutions", "deletions", "insertions", "num_ref"}``."""
    out = jiwer.process_words([" ".join(r) for r in refs], [" ".join(h) for h in hyps])
    num_ref = sum(len(r) for r in refs)
    return {"per": (out.substitutions + out.deletions + out.insertions) / num_ref,
            "substitutions": out.substitutions, "deletions": out.deletions,
            "insertions": out.insertions, "num_ref": num_ref, "num_utterances": len(refs)}


class FeatureSource(Protocol):
    """Frozen hidden states for a batch of utterances: ``(S, B, T, D)`` and frame lengths (B,)."""

    def batch(self, uids: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]: ...


def pad_states(per_utt: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack per-utterance ``(S, T_b, D)`` tensors into ``(S, B, T_max, D)`` plus lengths."""
    lengths = torch.tensor([x.shape[1] for x in per_utt])
    s, _, d = per_utt[0].shape
    out = torch.zeros(s, len(per_utt), int(lengths.max()), d, dtype=per_utt[0].dtype)
    for b, x in enumerate(per_utt):
        out[:, b, : x.shape[1]] = x
    return out, lengths


class TensorFeatures:
    """A ``FeatureSource`` over precomputed ``uid -> (S, T, D)`` tensors (cache, tests)."""

    def __init__(self, states: Mapping[str, torch.Tensor]) -> None:
        self.states = states

    def batch(self, uids: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return pad_states([self.states[u].float() for u in uids])


class UpstreamFeatures:
    """A ``FeatureSource`` that runs the upstream on the waveforms of a batch.

    ``load(uid)`` returns a waveform. With ``cache`` the states of every utterance are kept
    in memory (float16) after their first use: fast for small sets, ``13 × T × 768 × 2`` bytes
    per utterance for BASE.
    """

    def __init__(self, upstream: Callable[[list], dict], load: Callable[[str], np.ndarray],
                 cache: bool = False) -> None:
        self.upstream = upstream
        self.load = load
        self.cache: Optional[dict[str, torch.Tensor]] = {} if cache else None

    def batch(self, uids: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cache is None:
            return self._run(uids)
        todo = [u for u in uids if u not in self.cache]
        if todo:
            states, lengths = self._run(todo)
            for b, u in enumerate(todo):
                self.cache[u] = states[:, b, : int(lengths[b])].to("cpu", torch.float16)
        return pad_states([self.cache[u].float() for u in uids])

    def _run(self, uids: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            out = self.upstream([self.load(u) for u in uids])
        return torch.stack(out["hidden_states"]), out["frame_lengths"].cpu()


@dataclass
class ProbeConfig:
    """Training options (Adam on the featuriser weights and the head)."""

    lr: float = 1e-2
    batch_size: int = 32
    max_steps: int = 20000
    eval_steps: int = 1000
    seed: int = 0
    device: str = "cpu"


@dataclass
class ProbeResult:
    """Best-on-dev probe: its step, dev PER, layer weights, and the training history."""

    best_step: int
    dev: dict
    layer_weights: list[float]
    losses: list[tuple[int, float]] = field(default_factory=list)
    dev_history: list[tuple[int, float]] = field(default_factory=list)


@torch.no_grad()
def evaluate_probe(probe: LinearCTCProbe, source: FeatureSource, refs: Mapping[str, Sequence[str]],
                   vocab: PhoneVocab, batch_size: int = 32, device: str = "cpu") -> dict:
    """Greedy-decoded PER of ``probe`` on the utterances of ``refs``."""
    probe.eval()
    uids = list(refs)
    hyps = []
    for start in range(0, len(uids), batch_size):
        states, lengths = source.batch(uids[start:start + batch_size])
        hyps.extend(vocab.decode(h) for h in greedy_decode(probe(states.to(device)), lengths))
    probe.train()
    return phone_error_rate([refs[u] for u in uids], hyps)


def train_probe(probe: LinearCTCProbe, train_source: FeatureSource, targets: Mapping[str, Sequence[int]],
                dev_source: FeatureSource, dev_refs: Mapping[str, Sequence[str]], vocab: PhoneVocab,
                config: ProbeConfig) -> ProbeResult:
    """Train with CTC on random batches, evaluate dev PER every ``eval_steps``; keep the best."""
    probe.to(config.device).train()
    optimizer = torch.optim.Adam(probe.parameters(), lr=config.lr)
    rng = np.random.default_rng(config.seed)
    uids = list(targets)
    best_per, best_state, best_step = math.inf, None, 0
    result = ProbeResult(0, {}, [])
    order: list[str] = []
    for step in tqdm(range(1, config.max_steps + 1), desc="probe", unit="step", disable=None):
        if len(order) < config.batch_size:
            order += [uids[i] for i in rng.permutation(len(uids))]
        batch, order = order[: config.batch_size], order[config.batch_size:]
        states, lengths = train_source.batch(batch)
        loss = probe.loss(states.to(config.device), lengths, [targets[u] for u in batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        result.losses.append((step, loss.item()))
        if step % config.eval_steps == 0 or step == config.max_steps:
            dev = evaluate_probe(probe, dev_source, dev_refs, vocab, config.batch_size, config.device)
            result.dev_history.append((step, dev["per"]))
            logger.info("step %d: train loss %.3f, dev PER %.2f%%", step, loss.item(), 100 * dev["per"])
            if dev["per"] < best_per:
                best_per, best_step = dev["per"], step
                best_state, result.dev = copy.deepcopy(probe.state_dict()), dev
    probe.load_state_dict(best_state)
    result.best_step = best_step
    result.layer_weights = probe.featurizer.layer_weights().detach().cpu().tolist()
    return result
