"""English sentences from a small probabilistic grammar (`conf/corpus/english_grammar.yaml`).

The grammar gives the generated LibriSpeech text word-level structure that an n-gram LM can
learn (verbs select their objects, fixed phrases), so LM decoding clearly beats Viterbi.
Class members are weighted by their English frequency from `wordfreq`.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import wordfreq
import yaml

PAUSE = ","


@dataclass(frozen=True)
class Sentence:
    """`words`: the transcript words (lower case); `spoken`: the text given to the synthesiser."""

    words: tuple[str, ...]
    spoken: str

    @property
    def transcript(self) -> str:
        return " ".join(self.words).upper()


class _Choice:
    """Weighted alternatives sampled with one uniform draw."""

    def __init__(self, items: list[list[str]], weights: list[float], where: str) -> None:
        if not items or any(w <= 0 for w in weights):
            raise ValueError(f"{where}: needs at least one alternative, all with positive weight")
        self.items = items
        total = float(sum(weights))
        self.cdf = [c / total for c in accumulate(weights)]

    def sample(self, rng: np.random.Generator) -> list[str]:
        return self.items[min(bisect.bisect_right(self.cdf, rng.random()), len(self.items) - 1)]


class Grammar:
    """A probabilistic context-free grammar over rules and frequency-weighted word classes."""

    def __init__(self, spec: dict, source: str = "<grammar>") -> None:
        unknown = set(spec) - {"start", "optional_p", "class_weight_exponent", "rules", "classes"}
        if unknown:
            raise ValueError(f"{source}: unknown key(s) {sorted(unknown)}")
        self.start = spec.get("start", "S")
        self.optional_p = float(spec.get("optional_p", 0.5))
        exponent = float(spec.get("class_weight_exponent", 1.0))
        self._choices: dict[str, _Choice] = {}
        for name, alternatives in (spec.get("rules") or {}).items():
            try:
                weights = [float(w) for w, _ in alternatives]
                items = [str(rhs).split() for _, rhs in alternatives]
            except (TypeError, ValueError):
                raise ValueError(f'{source}: rule {name}: alternatives must be [weight, "symbols"]') from None
            self._choices[name] = _Choice(items, weights, f"{source}: rule {name}")
        for name, words in (spec.get("classes") or {}).items():
            if name in self._choices:
                raise ValueError(f"{source}: {name} is both a rule and a class")
            entries = [str(w) for w in words]
            weights = [max(wordfreq.word_frequency(w, "en"), 1e-8) ** exponent for w in entries]
            self._choices[name] = _Choice([e.split() for e in entries], weights, f"{source}: class {name}")
        if self.start not in self._choices:
            raise ValueError(f"{source}: start symbol {self.start!r} is not a rule")
        for name, choice in self._choices.items():
            for item in choice.items:
                for symbol in item:
                    base = symbol.rstrip("?")
                    if base.isupper() and base not in self._choices:
                        raise ValueError(f"{source}: {name} uses undefined symbol {base!r}")

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> Grammar:
        with open(path, encoding="utf-8") as f:
            return cls(yaml.safe_load(f) or {}, source=str(path))

    def vocabulary(self) -> list[str]:
        """Every word the grammar can produce, sorted."""
        words = {
            s
            for choice in self._choices.values()
            for item in choice.items
            for s in item
            if not s.rstrip("?").isupper() and s != PAUSE
        }
        return sorted(words)

    def sentence(self, rng: np.random.Generator) -> Sentence:
        """Sample one sentence (iterative expansion, left to right)."""
        out: list[str] = []
        stack = [self.start]
        while stack:
            symbol = stack.pop()
            if symbol.endswith("?"):
                if rng.random() >= self.optional_p:
                    continue
                symbol = symbol[:-1]
            if symbol in self._choices:
                stack.extend(reversed(self._choices[symbol].sample(rng)))
            else:
                out.append(symbol)
        words = tuple(w for w in out if w != PAUSE)
        spoken = " ".join(out).replace(" ,", ",")
        return Sentence(words=words, spoken=spoken)
