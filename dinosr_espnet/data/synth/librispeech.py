"""Plan and render the generated LibriSpeech and Libri-light (`librispeech_finetuning`) trees.

Planning (main process) draws speakers, chapters and sentences; rendering (worker processes)
synthesises one utterance and writes its FLAC to every tree that contains it. The fine-tuning
tree is a subset of the LibriSpeech train utterances, as in the real Libri-light release:
`1h/{0..5}/{clean,other}` get `utts_per_fold` utterances each and `9h/{clean,other}` 54 times
that, so 1h : 9h is 1 : 9 as in the real corpus.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Optional

import soundfile as sf

from dinosr_espnet.data.synth.acoustics import Room, impulse_response, position_change, record, sample_room
from dinosr_espnet.data.synth import flite
from dinosr_espnet.data.synth.audio import RATE, Track, add_babble, add_noise, to_int16
from dinosr_espnet.data.synth.config import LIBRISPEECH_SPLITS, Request
from dinosr_espnet.data.synth.grammar import Grammar, Sentence
from dinosr_espnet.data.synth.rng import stream
from dinosr_espnet.data.synth.speakers import Speaker, sample_speaker, unique_ids
from dinosr_espnet.data.synth.synth_server import synthesize

EVAL_SPLITS = tuple(s for s in LIBRISPEECH_SPLITS if not s.startswith("train"))
CLEAN_POOL = ("train-clean-100", "train-clean-360")
OTHER_POOL = ("train-other-500",)
FOLDS = 6


@dataclass(frozen=True)
class Utterance:
    """One planned LibriSpeech utterance."""

    uttid: str
    split: str
    speaker: Speaker
    chapter: int
    sentence: Sentence
    room: Optional[Room] = None

    @property
    def relpath(self) -> str:
        """`<spk>/<chapter>/<uttid>.flac`, relative to a split (or fine-tuning) directory."""
        return f"{self.speaker.id}/{self.chapter}/{self.uttid}.flac"


@dataclass(frozen=True)
class UtteranceJob:
    """Render one utterance to FLAC at each of `paths` (run in a worker process)."""

    utt: Utterance
    seed: int
    paths: tuple[str, ...]
    lead: tuple[float, float]
    trail: tuple[float, float]

    cost = 1  # relative work; run_jobs starts the biggest jobs first

    def render(self) -> UtteranceResult:
        rng = stream(self.seed, "librispeech-render", self.utt.uttid)
        spk = self.utt.speaker
        voice = spk.utterance_voice(rng)
        engine = flite.synth if flite.is_flite(voice) else partial(synthesize, seed=int(rng.integers(2**31)))
        track = Track.from_synthesis(engine(self.utt.sentence.spoken, voice))
        track = track.formant_scaled(spk.utterance_formant_scale(rng)).warped(rng, spk.warp_depth)
        track = track.padded(int(rng.uniform(*self.lead) * RATE), int(rng.uniform(*self.trail) * RATE))
        room = self.utt.room
        if room is not None:
            ir = impulse_response(room, stream(self.seed, "librispeech-room", str(self.utt.chapter)))
            track = Track(position_change(record(track.audio, room, ir), rng, spk.position_db), track.spans)
        gain = 10 ** (spk.gain_db / 20)
        snr_db, is_babble = spk.utterance_noise(rng)
        if is_babble:
            audio = add_babble(track.audio * gain, track.speech_rms() * gain, snr_db, rng,
                               int(rng.integers(3, 9)))
        else:
            audio = add_noise(track.audio * gain, track.speech_rms() * gain, snr_db, rng, rng.uniform(0.0, 0.95))
        pcm = to_int16(audio)
        for path in self.paths:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, pcm, RATE, format="FLAC", subtype="PCM_16")
        return UtteranceResult(self.utt.uttid, self.utt.split, len(pcm), track.spans)


@dataclass
class UtteranceResult:
    uttid: str
    split: str
    num_samples: int
    spans: list[tuple[str, int, int]]


@dataclass
class LibriPlan:
    """All planned utterances, the fine-tuning assignment and the LM sentences."""

    utterances: list[Utterance]
    finetuning: dict[str, list[Utterance]] = field(default_factory=dict)
    lm_sentences: list[Sentence] = field(default_factory=list)

    def by_split(self) -> dict[str, list[Utterance]]:
        out = defaultdict(list)
        for utt in self.utterances:
            out[utt.split].append(utt)
        return out


def _speakers(request: Request, synthesis: dict) -> dict[str, list[tuple[Speaker, list[int]]]]:
    """Speakers (disjoint across splits) with their chapter ids, per split."""
    rng = stream(request.seed, "librispeech-speakers")
    specs = request.librispeech
    total_spk = sum(specs[s]["speakers"] for s in LIBRISPEECH_SPLITS)
    total_ch = sum(specs[s]["speakers"] * specs[s]["chapters"] for s in LIBRISPEECH_SPLITS)
    spk_ids = iter(unique_ids(rng, total_spk, 10, max(10000, 10 * total_spk)))
    ch_ids = iter(unique_ids(rng, total_ch, 100, max(1000000, 10 * total_ch)))
    out = {}
    for split in LIBRISPEECH_SPLITS:
        style = _style(synthesis, split)
        out[split] = [
            (
                sample_speaker(rng, str(next(spk_ids)), style, "en-us"),
                [next(ch_ids) for _ in range(specs[split]["chapters"])],
            )
            for _ in range(specs[split]["speakers"])
        ]
    return out


def plan_librispeech(request: Request, grammar: Grammar) -> LibriPlan:
    """Draw speakers, chapters and text. Dev/test sentences are unique and appear neither in
    the train sets nor in the LM text."""
    speakers = _speakers(request, request.synthesis)
    held_out: set[tuple[str, ...]] = set()
    utts: list[Utterance] = []
    order = list(EVAL_SPLITS) + [s for s in LIBRISPEECH_SPLITS if s not in EVAL_SPLITS]
    for split in order:
        rng = stream(request.seed, "librispeech-text", split)
        per_spk = request.librispeech[split]["utts_per_speaker"]
        for spk, chapters in speakers[split]:
            counters = defaultdict(int)
            for i in range(per_spk):
                chapter = chapters[i % len(chapters)]
                sentence = grammar.sentence(rng)
                while sentence.words in held_out:
                    sentence = grammar.sentence(rng)
                if split in EVAL_SPLITS:
                    held_out.add(sentence.words)
                uttid = f"{spk.id}-{chapter}-{counters[chapter]:04d}"
                counters[chapter] += 1
                utts.append(Utterance(uttid, split, spk, chapter, sentence,
                                      _room(request, split, chapter)))
    rank = {s: i for i, s in enumerate(LIBRISPEECH_SPLITS)}
    utts.sort(key=lambda u: (rank[u.split], u.uttid))
    plan = LibriPlan(utterances=utts)
    if "librilight" in request.corpora:
        plan.finetuning = _finetuning(request, plan)
    rng = stream(request.seed, "librispeech-lm")
    while len(plan.lm_sentences) < request.lm_sentences:
        sentence = grammar.sentence(rng)
        if sentence.words not in held_out:
            plan.lm_sentences.append(sentence)
    return plan


def _style(synthesis: dict, split: str) -> dict:
    """The speaker style (`conf/corpus/synthesis.yaml`) of a LibriSpeech part: clean or other."""
    return synthesis["librispeech"]["other" if "other" in split else "clean"]


def _room(request: Request, split: str, chapter: int) -> Optional[Room]:
    """The room of a chapter (one per chapter, from its own random stream), or None when the
    speaker style has no `room` section."""
    style = _style(request.synthesis, split)
    if "room" not in style:
        return None
    return sample_room(stream(request.seed, "librispeech-room-conditions", str(chapter)), style)


def _finetuning(request: Request, plan: LibriPlan) -> dict[str, list[Utterance]]:
    """Assign train utterances to `1h/<k>/<cond>` and `9h/<cond>` (disjoint)."""
    per_fold = request.librilight_utts_per_fold
    split_utts = plan.by_split()
    out = {}
    for cond, pool_splits in (("clean", CLEAN_POOL), ("other", OTHER_POOL)):
        pool = [u for s in pool_splits for u in split_utts[s]]
        need = 10 * FOLDS * per_fold
        if len(pool) < need:
            raise ValueError(
                f"librilight needs {need} {cond} train utterances ({per_fold} per 1h fold, 9x for 9h) "
                f"but {'+'.join(pool_splits)} have {len(pool)}: raise --speakers/--utts-per-speaker, "
                f"lower librilight.utts_per_fold in the preset, or leave librilight out of --corpora"
            )
        order = stream(request.seed, "librilight", cond).permutation(len(pool))
        chosen = [pool[i] for i in order[:need]]
        for k in range(FOLDS):
            out[f"1h/{k}/{cond}"] = sorted(chosen[k * per_fold : (k + 1) * per_fold], key=lambda u: u.uttid)
        out[f"9h/{cond}"] = sorted(chosen[FOLDS * per_fold :], key=lambda u: u.uttid)
    return out


def utterance_jobs(plan: LibriPlan, request: Request, out: Path) -> list[UtteranceJob]:
    """One job per utterance that some requested tree contains."""
    paths: dict[str, list[str]] = defaultdict(list)
    if "librispeech" in request.corpora:
        for utt in plan.utterances:
            paths[utt.uttid].append(str(out / "LibriSpeech" / utt.split / utt.relpath))
    if "librilight" in request.corpora:
        for sub, utts in plan.finetuning.items():
            for utt in utts:
                paths[utt.uttid].append(str(out / "librispeech_finetuning" / sub / utt.relpath))
    ls = request.synthesis["librispeech"]
    lead, trail = tuple(ls["lead_silence"]), tuple(ls["trail_silence"])
    return [
        UtteranceJob(utt, request.seed, tuple(paths[utt.uttid]), lead, trail)
        for utt in plan.utterances
        if paths[utt.uttid]
    ]


def write_transcripts(root: Path, utts: list[Utterance]) -> None:
    """`<spk>/<chapter>/<spk>-<chapter>.trans.txt` for the given utterances under `root`."""
    chapters: dict[tuple[str, int], list[Utterance]] = defaultdict(list)
    for utt in utts:
        chapters[(utt.speaker.id, utt.chapter)].append(utt)
    for (spk, chapter), items in chapters.items():
        d = root / spk / str(chapter)
        d.mkdir(parents=True, exist_ok=True)
        lines = [f"{u.uttid} {u.sentence.transcript}\n" for u in sorted(items, key=lambda u: u.uttid)]
        (d / f"{spk}-{chapter}.trans.txt").write_text("".join(lines), encoding="utf-8")


def write_speakers_txt(path: Path, plan: LibriPlan, num_samples: dict[str, int]) -> None:
    """`SPEAKERS.TXT` in the LibriSpeech format `ID | SEX | SUBSET | MINUTES | NAME`."""
    minutes: dict[tuple[str, str], float] = defaultdict(float)
    voices = {}
    for utt in plan.utterances:
        minutes[(utt.speaker.id, utt.split)] += num_samples[utt.uttid] / RATE / 60
        voices[(utt.speaker.id, utt.split)] = utt.speaker
    lines = [
        "; Speakers of this generated LibriSpeech copy: eSpeak NG and Flite voices, no real people.\n",
        "; MINUTES is the amount of audio of the speaker in SUBSET; NAME describes the voice.\n",
        ";ID  |SEX| SUBSET           |MINUTES| NAME\n",
    ]
    for (spk, split), spk_obj in sorted(voices.items(), key=lambda kv: int(kv[0][0])):
        v = spk_obj.voice
        engine = f"flite {v.name[len(flite.PREFIX):]}" if flite.is_flite(v) else f"espeak {v.name}"
        name = f"{engine} pitch {v.pitch} range {v.range} rate {v.rate}"
        lines.append(f"{spk:<5}| {spk_obj.sex} | {split:<17}| {minutes[(spk, split)]:5.2f} | {name}\n")
    path.write_text("".join(lines), encoding="utf-8")


LICENSE_TEXT = """\
This directory is a generated, synthetic stand-in for LibriSpeech (OpenSLR 12), written by
`python -m dinosr_espnet.bin.make_corpus`. It has the same layout as the real corpus, but all
audio was produced by the eSpeak NG speech synthesiser (via the espeakng-loader package) from
sentences of a small probabilistic grammar; it contains no recordings of people and no text of
LibriVox books. The real LibriSpeech corpus is released under CC BY 4.0 by Vassil Panayotov,
Guoguo Chen, Daniel Povey and Sanjeev Khudanpur.
"""


def write_lm_resources(lm_dir: Path, plan: LibriPlan, grammar: Grammar) -> None:
    """`librispeech-lm-norm.txt` (one upper-case sentence per line) and the letter lexicon
    `librispeech-lexicon.txt` (`WORD<TAB>W O R D`), mirroring OpenSLR 11."""
    lm_dir.mkdir(parents=True, exist_ok=True)
    (lm_dir / "librispeech-lm-norm.txt").write_text(
        "".join(s.transcript + "\n" for s in plan.lm_sentences), encoding="utf-8"
    )
    words = sorted({w.upper() for w in grammar.vocabulary()})
    (lm_dir / "librispeech-lexicon.txt").write_text(
        "".join(f"{w}\t{' '.join(w)}\n" for w in words), encoding="utf-8"
    )
