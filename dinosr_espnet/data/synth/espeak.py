"""ctypes binding to the libespeak-ng shipped by `espeakng-loader`: PCM plus phone timings.

`espeak_Initialize` with the phoneme-events option makes the synth callback report one event
per phone with its sample position in the output, which gives exact phone alignments.

libespeak-ng keeps synthesis state between calls (wave phase, echo buffer, `rand()` for breath
noise): the same text synthesised twice in one process gives different samples, and
`espeak_Terminate` + `espeak_Initialize` does not reset it. `synth_isolated` therefore forks a
child from a process that has never synthesised and synthesises there, so every utterance is
byte-identical whatever ran before it (and whichever worker runs it).
"""

from __future__ import annotations

import ctypes
import os
import pickle
from ctypes import POINTER, Structure, Union, c_char, c_char_p, c_int, c_short, c_uint, c_void_p
from dataclasses import dataclass

import espeakng_loader

SAMPLE_RATE = 22050
SILENCE = "sil"

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_INIT_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_END = 5
_EVENT_PHONEME = 7
_PARAM = {"rate": 1, "volume": 2, "pitch": 3, "range": 4, "word_gap": 7}
_STRESS_MARKS = str.maketrans("", "", "ˈˌ")
_LIBC = ctypes.CDLL(None)
_LIBC.srand.argtypes = [c_uint]


class _EventId(Union):
    _fields_ = [("number", c_int), ("name", c_char_p), ("string", c_char * 8)]


class _Event(Structure):
    """`espeak_EVENT` from speak_lib.h."""

    _fields_ = [
        ("type", c_int),
        ("unique_identifier", c_uint),
        ("text_position", c_int),
        ("length", c_int),
        ("audio_position", c_int),
        ("sample", c_int),
        ("user_data", c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(c_int, POINTER(c_short), c_int, POINTER(_Event))


@dataclass(frozen=True)
class Voice:
    """An espeak voice: `name` like `en-us+m3` and the espeak_SetParameter values."""

    name: str
    rate: int = 175
    pitch: int = 50
    range: int = 50
    volume: int = 100
    word_gap: int = 0


@dataclass
class Synthesis:
    """Synthesised 16-bit audio at `rate` Hz and its phones as (label, start, end) sample spans."""

    pcm: bytes
    phones: list[tuple[str, int, int]]
    rate: int = SAMPLE_RATE

    @property
    def num_samples(self) -> int:
        return len(self.pcm) // 2


def clean_phone(raw: bytes) -> str:
    """Phone label from an event's IPA name: stress marks removed, empty (a pause) -> `sil`.

    The event carries at most 8 bytes, so a long IPA name may be cut inside a UTF-8 sequence;
    the incomplete tail is dropped.
    """
    label = raw.split(b"\0", 1)[0].decode("utf-8", errors="ignore").translate(_STRESS_MARKS)
    label = "".join(label.split()).replace(",", "")
    return label or SILENCE


def phones_from_events(events: list[tuple[int, int, bytes]], num_samples: int) -> list[tuple[str, int, int]]:
    """Turn (type, sample, name) events into contiguous phone spans covering [0, num_samples).

    A phone lasts from its event to the next phone event; audio before the first phone is
    silence; adjacent silences are merged and empty spans dropped.
    """
    marks = [(min(max(s, 0), num_samples), clean_phone(n)) for t, s, n in events if t == _EVENT_PHONEME]
    bounds = [(0, SILENCE)] + marks
    spans: list[tuple[str, int, int]] = []
    for i, (start, label) in enumerate(bounds):
        end = bounds[i + 1][0] if i + 1 < len(bounds) else num_samples
        if end <= start:
            continue
        if spans and label == SILENCE and spans[-1][0] == SILENCE:
            spans[-1] = (SILENCE, spans[-1][1], end)
        else:
            spans.append((label, start, end))
    return spans


class Espeak:
    """The process-wide libespeak-ng instance (the library is a singleton per process)."""

    _instance: Espeak | None = None

    def __init__(self) -> None:
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [c_int, c_int, c_char_p, c_int]
        lib.espeak_SetVoiceByName.argtypes = [c_char_p]
        lib.espeak_SetParameter.argtypes = [c_int, c_int, c_int]
        lib.espeak_Synth.argtypes = [
            c_void_p,
            ctypes.c_size_t,
            c_uint,
            c_int,
            c_uint,
            c_uint,
            c_void_p,
            c_void_p,
        ]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_TextToPhonemes.restype = c_char_p
        lib.espeak_TextToPhonemes.argtypes = [POINTER(c_void_p), c_int, c_int]
        options = _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), options
        )
        if rate != SAMPLE_RATE:
            raise RuntimeError(
                f"libespeak-ng initialisation failed (returned {rate}, expected {SAMPLE_RATE} Hz)"
            )
        self._lib = lib
        self._pcm: list[bytes] = []
        self._events: list[tuple[int, int, bytes]] = []
        self._callback = _CALLBACK(self._on_audio)
        lib.espeak_SetSynthCallback(self._callback)
        self._voice: str | None = None

    @classmethod
    def get(cls) -> Espeak:
        """The instance of this process, initialised on first use."""
        if cls._instance is None:
            cls._instance = Espeak()
        return cls._instance

    def _on_audio(self, wav, num_samples: int, events) -> int:
        if num_samples > 0:
            self._pcm.append(ctypes.string_at(wav, num_samples * 2))
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            e = events[i]
            name = bytes(e.id.string) if e.type == _EVENT_PHONEME else b""
            self._events.append((e.type, e.sample, name))
            i += 1
        return 0

    def seed(self, seed: int) -> None:
        """Seed espeak's own random generator and libc `rand()` (both used for noise)."""
        self._lib.espeak_ng_SetRandSeed(seed & 0x7FFFFFFF)
        _LIBC.srand(seed & 0xFFFFFFFF)

    def set_voice(self, name: str) -> None:
        """Select a voice (`<lang>[+<variant>]`); raises ValueError if espeak does not know it."""
        if name != self._voice:
            if self._lib.espeak_SetVoiceByName(name.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {name!r}")
            self._voice = name

    def synth(self, text: str, voice: Voice) -> Synthesis:
        """Synthesise `text` in this process (state-dependent: use `synth_isolated` for corpora)."""
        self.set_voice(voice.name)
        for key, code in _PARAM.items():
            self._lib.espeak_SetParameter(code, int(getattr(voice, key)), 0)
        self._pcm, self._events = [], []
        data = text.encode("utf-8") + b"\0"
        err = self._lib.espeak_Synth(data, len(data), 0, 0, 0, _CHARS_UTF8, None, None)
        if err != 0 or self._lib.espeak_Synchronize() != 0:
            raise RuntimeError(f"espeak-ng failed (error {err}) on {text!r} with voice {voice.name}")
        pcm = b"".join(self._pcm)
        return Synthesis(pcm=pcm, phones=phones_from_events(self._events, len(pcm) // 2))

    def phonemize(self, text: str, voice: str) -> list[str]:
        """IPA phones of `text` (stress removed); a language switch shows up as `(xx)` phones."""
        self.set_voice(voice)
        buf = ctypes.create_string_buffer(text.encode("utf-8") + b"\0")
        ptr = c_void_p(ctypes.addressof(buf))
        phones: list[str] = []
        while ptr.value:
            out = self._lib.espeak_TextToPhonemes(
                ctypes.byref(ptr), _CHARS_UTF8, _INIT_PHONEME_IPA | (ord("_") << 8)
            )
            for chunk in (out or b"").decode("utf-8", errors="replace").split():
                phones += [p for p in chunk.translate(_STRESS_MARKS).split("_") if p]
        return phones


def synth_isolated(text: str, voice: Voice, seed: int = 0) -> Synthesis:
    """Synthesise in a forked child of this (never-synthesising) process: history-independent.

    The parent must not call `Espeak.synth` itself, or its children inherit that state.
    `seed` seeds espeak's random generator (breath noise of voices f2, f3, f5, seeded from the
    clock otherwise) and libc `rand()`. Errors in the child are raised here as RuntimeError.
    """
    result = pickle.loads(synth_isolated_payload(text, voice, seed))
    if isinstance(result, Exception):
        raise result
    return result


def synth_isolated_payload(text: str, voice: Voice, seed: int) -> bytes:
    """`synth_isolated`'s pickled result (a Synthesis or a RuntimeError), as the child sent it."""
    engine = Espeak.get()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            try:
                engine.seed(seed)
                payload = pickle.dumps(engine.synth(text, voice))
            except Exception as e:  # reported to the parent, which raises it
                payload = pickle.dumps(RuntimeError(f"{e}"))
            with os.fdopen(write_fd, "wb") as f:
                f.write(payload)
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as f:
        payload = f.read()
    _, status = os.waitpid(pid, 0)
    if not payload:
        payload = pickle.dumps(
            RuntimeError(f"espeak-ng child died (status {status}) on {text!r} with voice {voice.name}")
        )
    return payload
