"""Plan and render the generated BABEL tree (conversational telephone speech, 8 kHz).

Layout: `babel/<id>_<Name>/conversational/{training,dev,eval}/audio/<recid>.wav` and
`.../transcription/<recid>.txt`, plus `conversational/reference_materials/lexicon.txt`.
A recording is one conversation side: `<no-speech>` gaps alternate with speech segments, and
the transcription alternates `[seconds]` lines with segment text (speech with markup tokens).
All times are multiples of 10 ms, so segment `<recid>_<start_cs>_<end_cs>` has exactly
`end_cs - start_cs` frame labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from dinosr_espnet.data.synth.audio import (
    HESITATION_LABEL,
    HOP,
    NOISE_LABEL,
    RATE,
    Track,
    add_noise,
    burst,
    downsample,
    hesitation,
    to_int16,
)
from dinosr_espnet.data.synth.config import BABEL_SPLITS, Request
from dinosr_espnet.data.synth.rng import stream
from dinosr_espnet.data.synth.speakers import Speaker, sample_speaker, unique_ids
from dinosr_espnet.data.synth.synth_server import synthesize
from dinosr_espnet.data.synth.wordlists import Language, Vocabulary

BABEL_RATE = 8000
NO_SPEECH = "<no-speech>"
_TRANSCRIPT_TOKEN = {"unk": "(())", "hes": "<hes>", "frag": "~"}


@dataclass(frozen=True)
class RecordingJob:
    """Render one conversation side (run in a worker process).

    `segments`: per speech segment, its tokens as (kind, text) with kind `words` (spoken),
    `unk` (spoken under noise, transcribed `(())`), `hes`, `noise` (text = the markup token)
    or `frag` (`~`, no audio).
    """

    lang: Language
    split: str
    recid: str
    speaker: Speaker
    segments: tuple[tuple[tuple[str, str], ...], ...]
    seed: int
    root: str
    gap: tuple[float, float]
    padding: tuple[float, float]

    @property
    def cost(self) -> int:
        return 2 * len(self.segments)

    def _hop_silence(self, rng, bounds: tuple[float, float]) -> Track:
        return Track.silence(int(round(rng.uniform(*bounds) * 100)) * HOP)

    def _segment(self, rng, tokens: tuple[tuple[str, str], ...]) -> Track:
        spk = self.speaker
        f0 = (100.0 if spk.sex == "M" else 190.0) * (0.75 + spk.voice.pitch / 200)
        seg = Track.silence(0)
        for kind, text in tokens:
            if kind in ("words", "unk"):
                voice = spk.utterance_voice(rng)
                piece = Track.from_synthesis(synthesize(text, voice, int(rng.integers(2**31))))
                if kind == "unk":
                    piece.audio = add_noise(piece.audio, piece.speech_rms(), 0.0, rng, 0.5)
            elif kind == "hes":
                piece = Track.labelled(hesitation(rng, rng.uniform(0.25, 0.6), f0, 0.08), HESITATION_LABEL)
            elif kind == "noise":
                seconds = (
                    rng.uniform(0.02, 0.05) if text in ("<click>", "<lipsmack>") else rng.uniform(0.15, 0.45)
                )
                piece = Track.labelled(burst(rng, seconds, 0.03, rng.uniform(0.0, 0.9)), NOISE_LABEL)
            else:
                continue
            seg = seg + piece
        lead = int(rng.uniform(*self.padding) * RATE)
        return seg.padded(lead, int(rng.uniform(*self.padding) * RATE))

    def render(self) -> RecordingResult:
        rng = stream(self.seed, "babel-render", self.recid)
        track = self._hop_silence(rng, self.gap)
        segments = [(0, track.num_samples // HOP, NO_SPEECH)]
        for tokens in self.segments:
            start = track.num_samples // HOP
            track = track + self._segment(rng, tokens)
            end = track.num_samples // HOP
            text = " ".join(_TRANSCRIPT_TOKEN.get(kind, text) for kind, text in tokens)
            segments.append((start, end, text))
            track = track + self._hop_silence(rng, self.gap)
            segments.append((end, track.num_samples // HOP, NO_SPEECH))
        spk = self.speaker
        gain = 10 ** (spk.gain_db / 20)
        audio = add_noise(
            track.audio * gain, track.speech_rms() * gain, spk.snr_db, rng, rng.uniform(0.0, 0.95)
        )
        pcm = to_int16(downsample(audio, BABEL_RATE))
        split_dir = Path(self.root) / self.split
        (split_dir / "audio").mkdir(parents=True, exist_ok=True)
        (split_dir / "transcription").mkdir(parents=True, exist_ok=True)
        sf.write(split_dir / "audio" / f"{self.recid}.wav", pcm, BABEL_RATE, format="WAV", subtype="PCM_16")
        lines = []
        for start, _, text in segments:
            lines += [f"[{start / 100:.3f}]\n", f"{text}\n"]
        lines.append(f"[{segments[-1][1] / 100:.3f}]\n")
        (split_dir / "transcription" / f"{self.recid}.txt").write_text("".join(lines), encoding="utf-8")
        return RecordingResult(self.lang.id, self.split, self.recid, segments, track.labels())


@dataclass
class RecordingResult:
    lang_id: int
    split: str
    recid: str
    segments: list[tuple[int, int, str]]
    labels: list[str]

    def rows(self) -> dict[str, list[str]]:
        """Frame labels per segment, keyed `<recid>_<start_cs:07d>_<end_cs:07d>`."""
        return {f"{self.recid}_{s:07d}_{e:07d}": self.labels[s:e] for s, e, _ in self.segments}


def _segment_tokens(rng, vocab: Vocabulary, style: dict) -> tuple[tuple[str, str], ...]:
    lo, hi = style["words_per_segment"]
    tokens: list[tuple[str, str]] = [("words", w) for w in vocab.sample(rng, int(rng.integers(lo, hi + 1)))]
    markup = style["markup"]
    if rng.random() < markup["fragment"]:
        tokens.insert(int(rng.integers(1, len(tokens) + 1)), ("frag", "~"))
    if rng.random() < markup["unintelligible"]:
        tokens.insert(
            int(rng.integers(0, len(tokens) + 1)),
            ("unk", " ".join(vocab.sample(rng, int(rng.integers(1, 3))))),
        )
    if rng.random() < markup["hesitation"]:
        tokens.insert(int(rng.integers(0, len(tokens) + 1)), ("hes", "<hes>"))
    if rng.random() < markup["noise"]:
        names = style["noise_tokens"]
        tokens.insert(int(rng.integers(0, len(tokens) + 1)), ("noise", str(names[rng.integers(len(names))])))
    merged: list[tuple[str, str]] = []
    for kind, text in tokens:
        if kind == "words" and merged and merged[-1][0] == "words":
            merged[-1] = ("words", f"{merged[-1][1]} {text}")
        else:
            merged.append((kind, text))
    return tuple(merged)


def plan_language(request: Request, lang: Language, vocab: Vocabulary, out: Path) -> list[RecordingJob]:
    """Recordings of one language; speakers are disjoint across training/dev/eval."""
    style = request.synthesis["babel"]
    rng = stream(request.seed, "babel-plan", lang.id)
    total = sum(request.babel[s]["recordings"] for s in BABEL_SPLITS)
    spk_ids = iter(unique_ids(rng, total, 10000, 100000))
    root = str(out / "babel" / lang.dirname / "conversational")
    jobs = []
    for split in BABEL_SPLITS:
        for _ in range(request.babel[split]["recordings"]):
            spk = sample_speaker(rng, str(next(spk_ids)), style["speaker"], lang.espeak)
            date = f"2012{int(rng.integers(1, 13)):02d}{int(rng.integers(1, 29)):02d}"
            clock = (
                f"{int(rng.integers(0, 24)):02d}{int(rng.integers(0, 60)):02d}{int(rng.integers(0, 60)):02d}"
            )
            side = "inLine" if rng.random() < 0.5 else "outLine"
            recid = f"BABEL_OP1_{lang.id}_{spk.id}_{date}_{clock}_{side}"
            segments = tuple(
                _segment_tokens(rng, vocab, style)
                for _ in range(request.babel[split]["segments_per_recording"])
            )
            jobs.append(
                RecordingJob(
                    lang,
                    split,
                    recid,
                    spk,
                    segments,
                    request.seed,
                    root,
                    tuple(style["gap"]),
                    tuple(style["segment_padding"]),
                )
            )
    return jobs


def write_lexicon(path: Path, vocab: Vocabulary) -> None:
    """`reference_materials/lexicon.txt`: `<word><TAB><phone> <phone> ...` (espeak IPA)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(f"{w}\t{' '.join(vocab.prons[w])}\n" for w in sorted(vocab.words)), encoding="utf-8"
    )
