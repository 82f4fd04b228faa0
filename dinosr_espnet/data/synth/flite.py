"""Flite's clustergen voices (built from recordings of real speakers): PCM plus phone timings.

The Debian `flite` program ships three statistical-parametric (clustergen) English voices
trained on the CMU ARCTIC recordings of real people: `awb` (Scottish male), `rms` (US male) and
`slt` (US female). `flite -psdur` prints every segment with its end time; a clustergen voice
renders each segment as whole 5 ms frames, so these times are the segment bounds of the wave it
writes (the diphone voices `kal`/`kal16` are not used: their waves do not follow the printed
times). Phones are CMU ARPAbet, mapped to the eSpeak IPA labels of the other voices, so both
engines share one label inventory. Every call is a fresh process: the output depends only on
the text and the voice, byte-identical across runs.

A `Voice` named `flite:<voice>` reuses eSpeak's parameters: rate (words per minute, 175 =
the voice's own pace) sets the duration stretch, pitch and range (0-100, 50 = the voice's own)
scale the mean and spread of the F0 target (`rms` ignores the F0 target: its pitch changes
only with the vocal-tract scaling of `speakers.py`).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from dinosr_espnet.data.synth.espeak import SILENCE, Synthesis, Voice

PREFIX = "flite:"
VOICES = {"awb": ("M", 110.0), "rms": ("M", 105.0), "slt": ("F", 175.0)}  # sex, own mean F0 (Hz)
ESPEAK_NEUTRAL_RATE = 175
ARPABET_TO_IPA = {
    "aa": "ɑː", "ae": "æ", "ah": "ʌ", "ao": "ɔː", "aw": "aʊ", "ax": "ə", "ay": "aɪ", "b": "b",
    "ch": "tʃ", "d": "d", "dh": "ð", "eh": "ɛ", "er": "ɚ", "ey": "eɪ", "f": "f", "g": "ɡ",
    "hh": "h", "ih": "ɪ", "iy": "iː", "jh": "dʒ", "k": "k", "l": "l", "m": "m", "n": "n",
    "ng": "ŋ", "ow": "oʊ", "oy": "ɔɪ", "p": "p", "r": "ɹ", "s": "s", "sh": "ʃ", "t": "t",
    "th": "θ", "uh": "ʊ", "uw": "uː", "v": "v", "w": "w", "y": "j", "z": "z", "zh": "ʒ",
    "pau": SILENCE,
}
INSTALL_HINT = "install it with utils/install_system_deps.sh (Debian/Ubuntu: apt-get install flite)"


def is_flite(voice: Voice) -> bool:
    """Whether `voice` is rendered by Flite (`flite:<name>`) rather than eSpeak NG."""
    return voice.name.startswith(PREFIX)


def voice_sex(name: str) -> str:
    """`M`/`F` of a Flite voice name (without the prefix); ValueError if unknown."""
    if name not in VOICES:
        raise ValueError(f"unknown Flite voice {name!r}; choose from {sorted(VOICES)}")
    return VOICES[name][0]


def flite_program() -> str:
    """Path of the `flite` program; FileNotFoundError with the install command if missing."""
    path = shutil.which("flite")
    if path is None:
        raise FileNotFoundError(f"the `flite` program is not installed: {INSTALL_HINT}")
    return path


def parse_segments(text: str, rate: int, num_samples: int) -> list[tuple[str, int, int]]:
    """`ph:end ph:end ...` (flite -psdur) -> contiguous (IPA label, start, end) sample spans
    covering [0, num_samples); the last span is stretched or cut to the wave's end."""
    spans: list[tuple[str, int, int]] = []
    start = 0
    for token in text.split():
        phone, _, end = token.rpartition(":")
        if phone not in ARPABET_TO_IPA:
            raise ValueError(f"flite printed an unknown phone {phone!r} in {text!r}")
        label = ARPABET_TO_IPA[phone]
        stop = min(round(float(end) * rate), num_samples)
        if stop <= start:
            continue
        if spans and label == SILENCE and spans[-1][0] == SILENCE:
            spans[-1] = (SILENCE, spans[-1][1], stop)
        else:
            spans.append((label, start, stop))
        start = stop
    if not spans:
        raise ValueError(f"flite printed no segments: {text!r}")
    spans[-1] = (spans[-1][0], spans[-1][1], num_samples)
    return spans


def synth(text: str, voice: Voice) -> Synthesis:
    """Synthesise `text` with a `flite:<name>` voice (16 kHz clustergen output)."""
    name = voice.name[len(PREFIX):]
    voice_sex(name)
    f0 = VOICES[name][1] * 2.0 ** ((voice.pitch - 50) / 100)  # pitch 0..100: one octave around the voice
    stddev = f0 * 0.2 * voice.range / 50
    with tempfile.TemporaryDirectory(prefix="flite") as tmp:
        wav = Path(tmp) / "out.wav"
        cmd = [
            flite_program(), "-voice", name, "-psdur",
            "--setf", f"duration_stretch={ESPEAK_NEUTRAL_RATE / voice.rate:.4f}",
            "--setf", f"int_f0_target_mean={f0:.2f}", "--setf", f"int_f0_target_stddev={stddev:.2f}",
            "-t", text, "-o", str(wav),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not wav.is_file():
            raise RuntimeError(f"flite failed (exit {proc.returncode}) on {text!r} with voice {name}: "
                               f"{proc.stderr.strip()}")
        audio, rate = sf.read(wav, dtype="int16")
    pcm = np.ascontiguousarray(audio).tobytes()
    return Synthesis(pcm=pcm, phones=parse_segments(proc.stdout, rate, len(audio)), rate=rate)
