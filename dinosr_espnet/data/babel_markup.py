"""BABEL transcription markup normalisation, driven by a YAML policy (`conf/babel_markup.yaml`).

Each whitespace-separated token is dropped, replaced by the noise or unk symbol, or kept, as
the policy says; unlisted `<...>` tokens follow `unknown_markup` and are counted so that the
preparation log reports them.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

import yaml

ACTIONS = ("drop", "noise", "unk", "keep")
_KEYS = {
    "noise_symbol", "unk_symbol", "tokens", "unknown_markup", "strip_chars", "skip_nonspeech_only"
}


@dataclass
class MarkupPolicy:
    """What to do with each markup token; see `conf/babel_markup.yaml` for the meaning."""

    tokens: dict[str, str] = field(default_factory=dict)
    noise_symbol: str = "<noise>"
    unk_symbol: str = "<unk>"
    unknown_markup: str = "noise"
    strip_chars: str = "*"
    skip_nonspeech_only: bool = True
    counts: Counter[str] = field(default_factory=Counter)

    @classmethod
    def from_dict(cls, d: dict, source: str = "<dict>") -> MarkupPolicy:
        """Build and validate a policy; raises ValueError naming the bad key or token."""
        unknown = set(d) - _KEYS
        if unknown:
            raise ValueError(
                f"{source}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}"
            )
        policy = cls(**d)
        policy.tokens = {str(k): str(v) for k, v in (policy.tokens or {}).items()}
        checks = list(policy.tokens.items()) + [("unknown_markup", policy.unknown_markup)]
        for token, action in checks:
            if action not in ACTIONS:
                raise ValueError(f"{source}: {token!r} has action {action!r}; use one of {ACTIONS}")
        for name in ("noise_symbol", "unk_symbol"):
            value = getattr(policy, name)
            if not isinstance(value, str) or not value or any(c.isspace() for c in value):
                raise ValueError(f"{source}: {name} must be one non-empty token, got {value!r}")
        return policy

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> MarkupPolicy:
        """Load the policy from a YAML file."""
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(yaml.safe_load(f) or {}, source=str(path))

    def _action(self, token: str) -> str | None:
        if token in self.tokens:
            return self.tokens[token]
        if token.startswith("<") and token.endswith(">"):
            self.counts[f"unknown markup {token}"] += 1
            return self.unknown_markup
        return None

    def normalise(self, text: str) -> str:
        """Apply the policy to one segment's text; may return an empty string."""
        out = []
        for token in text.split():
            action = self._action(token)
            if action is None:
                word = token.translate({ord(c): None for c in self.strip_chars})
                if word:
                    out.append(word)
                continue
            self.counts[action] += 1
            if action == "keep":
                out.append(token)
            elif action == "noise":
                out.append(self.noise_symbol)
            elif action == "unk":
                out.append(self.unk_symbol)
        return " ".join(out)

    def is_nonspeech_only(self, normalised: str) -> bool:
        """True when the policy asks to skip a text made only of noise/unk symbols."""
        nonspeech = {self.noise_symbol, self.unk_symbol}
        return self.skip_nonspeech_only and all(t in nonspeech for t in normalised.split())

    def summary(self) -> str:
        """Counts of applied actions and unknown markup tokens, for the log."""
        return ", ".join(f"{k}: {n}" for k, n in sorted(self.counts.items())) or "no markup seen"
