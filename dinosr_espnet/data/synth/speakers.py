"""Synthetic speakers: a voice with pitch, range, rate, vocal tract, gain and noise level.

Ranges come from `conf/corpus/synthesis.yaml` (a "style": clean or other LibriSpeech speakers,
BABEL speakers). The voice is an eSpeak NG variant or, with probability `flite_share`, one of
the Flite voices built from real speakers' recordings (`flite_voices`); its sex follows the
voice (eSpeak variants `f*` female, else male). `vocal_tract` gives each speaker its own
formant scale, so few base voices still make many speakers. Each utterance varies the
speaker's rate and pitch, the vocal-tract scale (`formant_jitter`, and within the utterance
`warp_depth`), the position towards the microphone (`position_db`) and the noise level
(`snr_jitter`): a synthesiser alone renders a phone identically every time it occurs in the
same context.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dinosr_espnet.data.synth import flite
from dinosr_espnet.data.synth.acoustics import check_room
from dinosr_espnet.data.synth.espeak import Voice

_RANGES = ("pitch", "range", "rate", "word_gap", "gain_db", "snr_db")
_JITTER_LIMITS = {"pitch_jitter": 50, "formant_jitter": 1, "snr_jitter": 30, "warp_depth": 0.5,
                  "position_db": 20}  # exclusive upper bounds
_OPTIONAL_KEYS = {"accents", "room", "flite_voices", "flite_share", "vocal_tract", "babble_share"}
_OPTIONAL_KEYS |= set(_JITTER_LIMITS)
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
    vocal_tract: float = 1.0
    snr_jitter: float = 0.0
    babble_share: float = 0.0
    warp_depth: float = 0.0
    position_db: float = 0.0

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
        """This utterance's vocal-tract scale: formants and pitch times the speaker's
        `vocal_tract` scale times 1 ± `formant_jitter`."""
        if self.formant_jitter <= 0:
            return self.vocal_tract
        return float(self.vocal_tract * (1.0 + rng.uniform(-self.formant_jitter, self.formant_jitter)))

    def utterance_noise(self, rng: np.random.Generator) -> tuple[float, bool]:
        """This utterance's SNR (dB, the speaker's ± `snr_jitter`) and whether its noise is
        babble (probability `babble_share`) rather than stationary noise."""
        snr = self.snr_db + (rng.uniform(-self.snr_jitter, self.snr_jitter) if self.snr_jitter > 0 else 0.0)
        return float(snr), bool(self.babble_share > 0 and rng.random() < self.babble_share)


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
    for key in ("flite_share", "babble_share"):
        if not 0 <= style.get(key, 0) <= 1:
            raise ValueError(f"{where}.{key}: must lie in [0, 1], got {style[key]!r}")
    if style.get("flite_share", 0) > 0:
        if not style.get("flite_voices"):
            raise ValueError(f"{where}.flite_voices: needed when flite_share > 0")
        for name in style["flite_voices"]:
            try:
                flite.voice_sex(name)
            except ValueError as err:
                raise ValueError(f"{where}.flite_voices: {err}") from None
    lo, hi = style.get("vocal_tract", [1.0, 1.0])
    if not 0.5 <= lo <= hi <= 2.0:
        raise ValueError(f"{where}.vocal_tract: need 0.5 <= min <= max <= 2, got [{lo}, {hi}]")


def sample_speaker(rng: np.random.Generator, spk_id: str, style: dict, language: str) -> Speaker:
    """Draw a speaker of `style` speaking `language` (an espeak voice; `accents` override it)."""
    accents = style.get("accents") or [language]
    accent = accents[rng.integers(len(accents))]
    variant = str(style["variants"][rng.integers(len(style["variants"]))])
    name, sex = f"{accent}+{variant}", "F" if variant.startswith("f") else "M"
    if style.get("flite_share", 0) > 0 and rng.random() < style["flite_share"]:
        base = str(style["flite_voices"][rng.integers(len(style["flite_voices"]))])
        name, sex = f"{flite.PREFIX}{base}", flite.voice_sex(base)
    draw = {k: rng.uniform(*style[k]) for k in _RANGES}
    vocal_tract = float(rng.uniform(*style["vocal_tract"])) if "vocal_tract" in style else 1.0
    voice = Voice(
        name=name,
        rate=int(round(draw["rate"])),
        pitch=int(round(draw["pitch"])),
        range=int(round(draw["range"])),
        word_gap=int(round(draw["word_gap"])),
    )
    return Speaker(
        id=spk_id,
        sex=sex,
        voice=voice,
        gain_db=round(float(draw["gain_db"]), 2),
        snr_db=round(float(draw["snr_db"]), 2),
        rate_jitter=float(style["rate_jitter"]),
        pitch_jitter=float(style.get("pitch_jitter", 0.0)),
        formant_jitter=float(style.get("formant_jitter", 0.0)),
        vocal_tract=round(vocal_tract, 4),
        snr_jitter=float(style.get("snr_jitter", 0.0)),
        babble_share=float(style.get("babble_share", 0.0)),
        warp_depth=float(style.get("warp_depth", 0.0)),
        position_db=float(style.get("position_db", 0.0)),
    )


def unique_ids(rng: np.random.Generator, count: int, low: int, high: int) -> list[int]:
    """`count` distinct integers in [low, high), in draw order."""
    if count > high - low:
        raise ValueError(f"cannot draw {count} distinct ids from [{low}, {high})")
    return [int(v) + low for v in rng.choice(high - low, size=count, replace=False)]
