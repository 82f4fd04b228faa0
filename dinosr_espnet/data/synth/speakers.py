"""Synthetic speakers: an espeak voice variant with pitch, range, rate, gain and noise level.

Ranges come from `conf/corpus/synthesis.yaml` (a "style": clean or other LibriSpeech speakers,
BABEL speakers). A speaker's sex follows its voice variant (`f*` female, else male). Each
utterance varies the speaker's rate and pitch, and (`formant_jitter`) the vocal-tract scale:
eSpeak alone would render a phone identically every time it occurs in the same context.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dinosr_espnet.data.synth.acoustics import check_room
from dinosr_espnet.data.synth.espeak import Voice

_RANGES = ("pitch", "range", "rate", "word_gap", "gain_db", "snr_db")
_JITTER_LIMITS = {"pitch_jitter": 50, "formant_jitter": 1}  # exclusive upper bounds
_OPTIONAL_KEYS = {"accents", "room"} | set(_JITTER_LIMITS)
_STYLE_KEYS = set(_RANGES) | {"variants", "rate_jitter"} | _OPTIONAL_KEYS


@dataclass(frozen=True)
class Speaker:
    """A synthetic speaker; `id` is the corpus speaker id (digits)."""

    id: str
    sex: str
    voice: Voice
    gain_db: float
    snr_db: float
    rate_jitter: float
    pitch_jitter: float = 0.0
    formant_jitter: float = 0.0

    def utterance_voice(self, rng: np.random.Generator) -> Voice:
        """The speaker's voice with this utterance's speaking-rate (relative, uniform in
        ±`rate_jitter`) and pitch (espeak units, uniform in ±`pitch_jitter`) perturbation."""
        factor = 1.0 + rng.uniform(-self.rate_jitter, self.rate_jitter)
        voice = replace(self.voice, rate=int(round(self.voice.rate * factor)))
        if self.pitch_jitter > 0:
            pitch = self.voice.pitch + rng.uniform(-self.pitch_jitter, self.pitch_jitter)
            voice = replace(voice, pitch=int(np.clip(round(pitch), 0, 100)))
        return voice

    def utterance_formant_scale(self, rng: np.random.Generator) -> float:
        """This utterance's vocal-tract scale: formants and pitch times 1 ± `formant_jitter`."""
        if self.formant_jitter <= 0:
            return 1.0
        return float(1.0 + rng.uniform(-self.formant_jitter, self.formant_jitter))


def check_style(style: dict, where: str) -> None:
    """Validate a speaker style; raises ValueError naming the key."""
    unknown = set(style) - _STYLE_KEYS
    missing = (_STYLE_KEYS - _OPTIONAL_KEYS) - set(style)
    if unknown or missing:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
    for key in _RANGES:
        lo, hi = style[key]
        if lo > hi:
            raise ValueError(f"{where}.{key}: min {lo} > max {hi}")
    if not style["variants"]:
        raise ValueError(f"{where}.variants: empty")
    for key, limit in _JITTER_LIMITS.items():
        if not 0 <= style.get(key, 0) < limit:
            raise ValueError(f"{where}.{key}: out of range: {style[key]!r}")
    if "room" in style:
        check_room(style["room"], f"{where}.room")


def sample_speaker(rng: np.random.Generator, spk_id: str, style: dict, language: str) -> Speaker:
    """Draw a speaker of `style` speaking `language` (an espeak voice; `accents` override it)."""
    accents = style.get("accents") or [language]
    accent = accents[rng.integers(len(accents))]
    variant = str(style["variants"][rng.integers(len(style["variants"]))])
    draw = {k: rng.uniform(*style[k]) for k in _RANGES}
    voice = Voice(
        name=f"{accent}+{variant}",
        rate=int(round(draw["rate"])),
        pitch=int(round(draw["pitch"])),
        range=int(round(draw["range"])),
        word_gap=int(round(draw["word_gap"])),
    )
    return Speaker(
        id=spk_id,
        sex="F" if variant.startswith("f") else "M",
        voice=voice,
        gain_db=round(float(draw["gain_db"]), 2),
        snr_db=round(float(draw["snr_db"]), 2),
        rate_jitter=float(style["rate_jitter"]),
        pitch_jitter=float(style.get("pitch_jitter", 0.0)),
        formant_jitter=float(style.get("formant_jitter", 0.0)),
    )


def unique_ids(rng: np.random.Generator, count: int, low: int, high: int) -> list[int]:
    """`count` distinct integers in [low, high), in draw order."""
    if count > high - low:
        raise ValueError(f"cannot draw {count} distinct ids from [{low}, {high})")
    return [int(v) + low for v in rng.choice(high - low, size=count, replace=False)]
