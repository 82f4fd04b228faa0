"""DinoSR configuration: every size and schedule of the model, validated (spec §2–§5).

Defaults are the released BASE model. ``DinoSRConfig.from_dict`` is the entry point for YAML
configs; it rejects unknown keys and invalid values with a ``ValueError`` naming the key.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

ConvSpec = tuple[int, int, int]  # (channels, kernel, stride)

CODEBOOK_UPDATES = ("ema_sum", "ema_mean")
CODEBOOK_INITS = ("instance_norm", "normal", "l2_normalized")
FRONTENDS = ("cnn", "fbank")

_INT_FIELDS = (
    "embed_dim", "ffn_dim", "num_heads", "num_layers", "pos_conv_depth", "pos_conv_kernel",
    "pos_conv_groups", "mask_length", "mask_min_spans", "num_codebooks", "codebook_size",
    "ema_anneal_updates", "ema_last_update", "fbank_sample_rate",
)
_FLOAT_FIELDS = (
    "dropout", "attention_dropout", "activation_dropout", "dropout_input", "layerdrop",
    "mask_prob", "codebook_decay", "ema_decay_start", "ema_decay_end", "target_norm_eps",
)
_BOOL_FIELDS = ("conv_bias", "mask_equalize", "codebook_freeze_inactive",
                "activation_checkpointing", "torch_compile")


def _base_conv_layers() -> list[ConvSpec]:
    return [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2


@dataclass
class DinoSRConfig:
    """All DinoSR hyper-parameters; BASE defaults as released (spec §3–§5).

    ``num_codebooks`` is N (top teacher layers with a codebook), ``codebook_size`` V,
    ``codebook_decay`` τ (Eq. 3), ``ema_decay_*`` the teacher's λ schedule (Eq. 1).
    ``codebook_init_std`` is used by ``codebook_init="normal"``; ``None`` means 1/sqrt(V).
    ``frontend``: ``cnn`` (spec) learns every ``conv_layers`` entry; ``fbank`` (extension for
    small CPU-scale runs) makes the first entry a fixed log-mel filterbank
    ``(n_mels, window, hop)`` computed at ``fbank_sample_rate`` (``feature_extractor.py``).
    ``freeze_feature_extractor_after``: ``None`` trains the CNN throughout (release behaviour);
    an int freezes CNN, post-extract LayerNorm and projection from that update on.

    Run-time options that never change the result (beyond float rounding) or the state dict:
    ``activation_checkpointing`` recomputes each student transformer layer in the backward
    pass instead of keeping its activations (memory for long inputs, ~1/3 more encoder
    compute); ``torch_compile`` runs every transformer layer through ``torch.compile``.
    ``mask_seed``: ``None`` draws span masks from the global RNG (release); an int makes each
    utterance's mask a function of (mask_seed, update count, its samples) alone, so that a
    data-parallel run reproduces a one-process run on the same global batch (``masking.py``).
    """

    conv_layers: list[ConvSpec] = field(default_factory=_base_conv_layers)
    conv_bias: bool = False
    frontend: str = "cnn"
    fbank_sample_rate: int = 16000
    embed_dim: int = 768
    ffn_dim: int = 3072
    num_heads: int = 12
    num_layers: int = 12
    pos_conv_depth: int = 5
    pos_conv_kernel: int = 19
    pos_conv_groups: int = 16
    dropout: float = 0.1
    attention_dropout: float = 0.1
    activation_dropout: float = 0.0
    dropout_input: float = 0.0
    layerdrop: float = 0.05
    mask_prob: float = 0.8
    mask_length: int = 10
    mask_min_spans: int = 1
    mask_equalize: bool = True
    num_codebooks: int = 8
    codebook_size: int = 256
    codebook_decay: float = 0.9
    codebook_update: str = "ema_sum"
    codebook_freeze_inactive: bool = True
    codebook_init: str = "instance_norm"
    codebook_init_std: Optional[float] = None
    ema_decay_start: float = 0.999
    ema_decay_end: float = 0.9999
    ema_anneal_updates: int = 30000
    ema_last_update: int = 200000
    freeze_feature_extractor_after: Optional[int] = None
    target_norm_eps: float = 1e-5
    mask_seed: Optional[int] = None
    activation_checkpointing: bool = False
    torch_compile: bool = False

    def __post_init__(self) -> None:
        self.conv_layers = _parse_conv_layers(self.conv_layers)
        self._check_types()
        self._check_values()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DinoSRConfig":
        """Build from a plain mapping (e.g. YAML); unknown keys raise ``ValueError``."""
        if not isinstance(d, Mapping):
            raise ValueError(f"DinoSR config must be a mapping, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"unknown DinoSR config key(s): {', '.join(map(str, unknown))} "
                f"(known: {', '.join(sorted(known))})"
            )
        return cls(**dict(d))

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML-serialisable mapping; ``from_dict(to_dict())`` round-trips."""
        d = dataclasses.asdict(self)
        d["conv_layers"] = [list(c) for c in self.conv_layers]
        return d

    # ------------------------------------------------------------------ CNN geometry
    @property
    def conv_dim(self) -> int:
        """Channels of the last CNN layer (input of the post-extract LayerNorm)."""
        return self.conv_layers[-1][0]

    @property
    def conv_stride(self) -> int:
        """Total CNN stride in samples per frame (320 for BASE)."""
        return math.prod(s for _, _, s in self.conv_layers)

    @property
    def receptive_field(self) -> int:
        """Samples seen by one output frame (400 for BASE)."""
        field_, jump = 1, 1
        for _, k, s in self.conv_layers:
            field_ += (k - 1) * jump
            jump *= s
        return field_

    def num_frames(self, num_samples):
        """Frames the CNN outputs for ``num_samples`` (int or LongTensor), spec §3.

        Applies ``floor((L - k) / s) + 1`` per layer; too-short inputs give 0 frames.
        """
        n = num_samples
        for _, k, s in self.conv_layers:
            n = (n - k) // s + 1
            n = max(n, 0) if isinstance(n, int) else n.clamp(min=0)
        return n

    @property
    def target_layers(self) -> list[int]:
        """0-indexed teacher layers feeding codebooks 0..N-1: (K-N)..K-1 (spec §3)."""
        return list(range(self.num_layers - self.num_codebooks, self.num_layers))

    # ------------------------------------------------------------------ validation
    def _check_types(self) -> None:
        for name in _INT_FIELDS:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"DinoSR config key '{name}' must be an int, got {v!r}"
                                 f"{string_number_hint(v)}")
        for name in _FLOAT_FIELDS:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"DinoSR config key '{name}' must be a number, got {v!r}"
                                 f"{string_number_hint(v)}")
            setattr(self, name, float(v))
        for name in _BOOL_FIELDS:
            v = getattr(self, name)
            if not isinstance(v, bool):
                raise ValueError(f"DinoSR config key '{name}' must be true/false, got {v!r}")
        for name in ("codebook_update", "codebook_init", "frontend"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"DinoSR config key '{name}' must be a string")
        if self.codebook_init_std is not None:
            if isinstance(self.codebook_init_std, bool) or not isinstance(
                self.codebook_init_std, (int, float)
            ):
                raise ValueError("DinoSR config key 'codebook_init_std' must be a number or null")
            self.codebook_init_std = float(self.codebook_init_std)
        for name in ("freeze_feature_extractor_after", "mask_seed"):
            f = getattr(self, name)
            if f is not None and (isinstance(f, bool) or not isinstance(f, int)):
                raise ValueError(
                    f"DinoSR config key '{name}' must be an int or null, got {f!r}"
                )

    def _check_values(self) -> None:
        def bad(key: str, why: str) -> ValueError:
            return ValueError(f"invalid DinoSR config key '{key}' = {getattr(self, key)!r}: {why}")

        for name in ("embed_dim", "ffn_dim", "num_heads", "num_layers", "pos_conv_depth",
                     "pos_conv_kernel", "pos_conv_groups", "mask_length", "num_codebooks"):
            if getattr(self, name) < 1:
                raise bad(name, "must be >= 1")
        if self.embed_dim % self.num_heads:
            raise bad("num_heads", f"must divide embed_dim={self.embed_dim}")
        if self.embed_dim % self.pos_conv_groups:
            raise bad("pos_conv_groups", f"must divide embed_dim={self.embed_dim}")
        if self.pos_conv_kernel % 2 == 0:
            raise bad("pos_conv_kernel", "must be odd (same-length 'padding=k//2' convolution)")
        for name in ("dropout", "attention_dropout", "activation_dropout", "dropout_input",
                     "layerdrop"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise bad(name, "must be in [0, 1)")
        if not 0.0 <= self.mask_prob <= 1.0:
            raise bad("mask_prob", "must be in [0, 1]")
        if self.mask_min_spans < 0:
            raise bad("mask_min_spans", "must be >= 0")
        if self.num_codebooks > self.num_layers:
            raise bad("num_codebooks", f"N must be <= num_layers K={self.num_layers}")
        if self.codebook_size < 2:
            raise bad("codebook_size", "V must be >= 2")
        if not 0.0 <= self.codebook_decay < 1.0:
            raise bad("codebook_decay", "tau must be in [0, 1)")
        if self.codebook_update not in CODEBOOK_UPDATES:
            raise bad("codebook_update", f"must be one of {CODEBOOK_UPDATES}")
        if self.codebook_init not in CODEBOOK_INITS:
            raise bad("codebook_init", f"must be one of {CODEBOOK_INITS}")
        if self.frontend not in FRONTENDS:
            raise bad("frontend", f"must be one of {FRONTENDS}")
        if self.frontend == "fbank" and self.conv_layers[0][1] < 2:
            raise bad("conv_layers", "the fbank entry [n_mels, window, hop] needs window >= 2")
        if self.fbank_sample_rate < 1:
            raise bad("fbank_sample_rate", "must be >= 1")
        if self.codebook_init_std is not None and not self.codebook_init_std > 0:
            raise bad("codebook_init_std", "must be > 0")
        for name in ("ema_decay_start", "ema_decay_end"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise bad(name, "must be in [0, 1]")
        for name in ("ema_anneal_updates", "ema_last_update"):
            if getattr(self, name) < 0:
                raise bad(name, "must be >= 0")
        if self.freeze_feature_extractor_after is not None and self.freeze_feature_extractor_after < 0:
            raise bad("freeze_feature_extractor_after", "must be >= 0 or null")
        if self.mask_seed is not None and self.mask_seed < 0:
            raise bad("mask_seed", "must be >= 0 or null")
        if not self.target_norm_eps > 0:
            raise bad("target_norm_eps", "must be > 0")


def string_number_hint(value: Any) -> str:
    """Advice for a number that YAML read as text (quoted, or PyYAML's ``1e-5``); else ''."""
    if not isinstance(value, str):
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    if "e" in value.lower() and "." not in value:
        return (f" (YAML reads {value} as text: write it with a decimal point, "
                f"e.g. {value.lower().replace('e', '.0e', 1)})")
    return " (a quoted number is text: remove the quotes)"


def _parse_conv_layers(value: Any) -> list[ConvSpec]:
    """Accept a list of (channels, kernel, stride) triples (tuples or YAML lists)."""
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(
            f"DinoSR config key 'conv_layers' must be a non-empty list of "
            f"[channels, kernel, stride], got {value!r}"
        )
    layers = []
    for i, spec in enumerate(value):
        if (
            not isinstance(spec, (list, tuple))
            or len(spec) != 3
            or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in spec)
        ):
            raise ValueError(
                f"DinoSR config key 'conv_layers'[{i}] must be 3 positive ints "
                f"[channels, kernel, stride], got {spec!r}"
            )
        layers.append(tuple(spec))
    return layers
