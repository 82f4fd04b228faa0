"""The demo corpus's realism: Flite voices with exact alignments, speaker and utterance
variation (vocal tract, warp, position, babble), microphone colour, preset styles."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dinosr_espnet.data.synth import flite
from dinosr_espnet.data.synth.acoustics import Room, position_change, record, sample_room
from dinosr_espnet.data.synth.audio import RATE, Track, babble
from dinosr_espnet.data.synth.config import CONF_DIR, resolve_request
from dinosr_espnet.data.synth.espeak import SILENCE, Voice
from dinosr_espnet.data.synth.grammar import Grammar
from dinosr_espnet.data.synth.librispeech import plan_librispeech, utterance_jobs
from dinosr_espnet.data.synth.speakers import check_style, sample_speaker

STYLE = {"variants": ["m1"], "pitch": [40, 60], "range": [40, 60], "rate": [150, 170],
         "word_gap": [0, 1], "gain_db": [-3, 0], "snr_db": [20, 20], "rate_jitter": 0.05}


def test_parse_segments_maps_arpabet_and_covers_the_wave():
    spans = flite.parse_segments("pau:0.100 dh:0.150 ax:0.200 pau:0.250 pau:0.300", 16000, 4700)
    assert spans == [(SILENCE, 0, 1600), ("ð", 1600, 2400), ("ə", 2400, 3200), (SILENCE, 3200, 4700)]
    with pytest.raises(ValueError, match="unknown phone 'xx'"):
        flite.parse_segments("pau:0.1 xx:0.2", 16000, 3200)


def _zero_crossing_rate(x: np.ndarray) -> float:
    return float(np.mean(np.abs(np.diff(np.sign(x))) > 0))


@pytest.mark.parametrize("name", sorted(flite.VOICES))
def test_flite_alignments_are_exact(name):
    """Spans cover the wave; pauses are silent, /s/ is noisy and vowels are voiced inside
    their own spans (a shift of even one phone would mix them up); reruns are identical."""
    voice = Voice(f"flite:{name}")
    syn = flite.synth("see us sit so", voice)
    assert syn.rate == RATE and syn == flite.synth("see us sit so", voice)
    x = np.frombuffer(syn.pcm, np.int16).astype(np.float64) / 32768
    assert syn.phones[0][1] == 0 and syn.phones[-1][2] == len(x)
    assert all(a[2] == b[1] for a, b in zip(syn.phones, syn.phones[1:]))
    assert [p for p, _, _ in syn.phones] == [SILENCE, "s", "iː", "ʌ", "s", "s", "ɪ", "t", "s", "oʊ", SILENCE]

    def inner(i: int) -> np.ndarray:  # the middle 60% of span i: boundary frames left out
        _, s, e = syn.phones[i]
        return x[s + (e - s) // 5: e - (e - s) // 5]

    speech_rms = np.sqrt(np.mean(np.concatenate([inner(i) for i in range(1, len(syn.phones) - 1)]) ** 2))
    assert np.sqrt(np.mean(inner(0) ** 2)) < 0.05 * speech_rms
    fricatives = [_zero_crossing_rate(inner(i)) for i, (p, _, _) in enumerate(syn.phones) if p == "s"]
    vowels = [_zero_crossing_rate(inner(i)) for i, (p, _, _) in enumerate(syn.phones) if p in ("iː", "ɪ", "oʊ")]
    assert min(fricatives) > 2 * max(vowels)


def test_flite_rate_and_pitch_follow_the_voice_parameters():
    def f0(voice: Voice) -> float:
        syn = flite.synth("hello there my friend", voice)
        x = np.frombuffer(syn.pcm, np.int16).astype(np.float64)
        lags = []
        for i in range(0, len(x) - 800, 400):
            frame = x[i:i + 800]
            if frame.std() > 0.1 * x.std():
                c = np.correlate(frame, frame, "full")[800:]
                lags.append(np.argmax(c[40:400]) + 40)
        return RATE / float(np.median(lags))

    low, high = f0(Voice("flite:slt", pitch=30)), f0(Voice("flite:slt", pitch=70))
    assert high / low == pytest.approx(2 ** 0.4, rel=0.1)
    slow = flite.synth("hello there my friend", Voice("flite:rms", rate=120))
    fast = flite.synth("hello there my friend", Voice("flite:rms", rate=240))
    assert [p for p, _, _ in slow.phones] == [p for p, _, _ in fast.phones]
    assert len(slow.pcm) > 1.6 * len(fast.pcm)


def test_missing_flite_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(flite.shutil, "which", lambda _: None)
    with pytest.raises(FileNotFoundError, match="install_system_deps.sh"):
        flite.synth("hello", Voice("flite:slt"))


def test_warp_moves_spans_with_the_audio_and_keeps_coverage():
    t = np.arange(2 * RATE) / RATE
    clicks = np.zeros(2 * RATE, np.float32)
    clicks[[8000, 16000, 24000]] = 1.0
    track = Track(clicks + 0.0 * t.astype(np.float32),
                  [("a", 0, 8000), ("b", 8000, 16000), ("c", 16000, 24000), ("d", 24000, 32000)])
    warped = track.warped(np.random.default_rng(0), 0.2)
    assert warped.spans[0][1] == 0 and warped.spans[-1][2] == warped.num_samples
    assert [s[0] for s in warped.spans] == ["a", "b", "c", "d"]
    peaks = np.sort(np.argsort(np.abs(warped.audio))[-3:])
    # each click sits at the start of the span that began with it (within the interpolation)
    for peak, (_, start, _) in zip(peaks, warped.spans[1:]):
        assert abs(int(peak) - start) <= 2
    lengths = [e - s for _, s, e in warped.spans]
    assert max(lengths) / min(lengths) > 1.05  # the speed changed within the track
    assert track.warped(np.random.default_rng(0), 0.0) is track


def test_microphone_colour_and_position_change_the_spectrum_where_drawn():
    room = Room(rt60=0.0, drr_db=0.0, highpass_hz=50, lowpass_hz=7500, eq=((1000.0, 9.0, 1.0),))
    t = np.arange(RATE) / RATE
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    gain = np.sqrt(np.mean(record(tone, room, np.ones(1))[4000:] ** 2) / 0.5)
    assert 20 * np.log10(gain) == pytest.approx(9.0, abs=0.5)
    drawn = sample_room(np.random.default_rng(0), {"room": {
        "rt60": [0.2, 0.2], "drr_db": [6, 6], "highpass_hz": [100, 100], "lowpass_hz": [6000, 6000],
        "eq_db": [2, 4]}})
    assert len(drawn.eq) == 3 and all(2 <= abs(g) <= 4 and 200 <= f <= 5000 for f, g, _ in drawn.eq)
    noise = np.random.default_rng(1).standard_normal(RATE).astype(np.float32)
    assert position_change(noise, np.random.default_rng(2), 0.0) is noise
    assert not np.allclose(position_change(noise, np.random.default_rng(2), 6.0), noise)


def test_babble_is_unit_rms_and_fluctuates_like_speech():
    x = babble(np.random.default_rng(0), 2 * RATE, talkers=4)
    assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3)
    frames = np.sqrt((x[: 2 * RATE].reshape(-1, 800).astype(np.float64) ** 2).mean(axis=1))
    assert frames.max() / frames.min() > 3  # syllable-rate envelope, not stationary noise


def test_speakers_draw_flite_voices_vocal_tract_and_noise_from_the_style():
    style = {**STYLE, "flite_voices": ["slt", "awb"], "flite_share": 1.0, "vocal_tract": [0.9, 1.1],
             "snr_jitter": 5, "babble_share": 0.5}
    check_style(style, "s")
    rng = np.random.default_rng(0)
    speakers = [sample_speaker(rng, str(i), style, "en-us") for i in range(40)]
    assert {s.voice.name for s in speakers} == {"flite:slt", "flite:awb"}
    assert all(s.sex == ("F" if s.voice.name == "flite:slt" else "M") for s in speakers)
    assert all(0.9 <= s.vocal_tract <= 1.1 for s in speakers) and len({s.vocal_tract for s in speakers}) > 30
    noises = [speakers[0].utterance_noise(rng) for _ in range(200)]
    assert all(15 <= snr <= 25 for snr, _ in noises)
    assert 60 < sum(b for _, b in noises) < 140
    scales = [speakers[0].utterance_formant_scale(rng) for _ in range(5)]
    assert scales == [speakers[0].vocal_tract] * 5  # no jitter in this style: the speaker's own


@pytest.mark.parametrize("change, message", [
    ({"flite_share": 0.5}, "flite_voices: needed"),
    ({"flite_share": 0.5, "flite_voices": ["kal"]}, "unknown Flite voice 'kal'"),
    ({"babble_share": 1.5}, "babble_share"),
    ({"vocal_tract": [1.2, 1.1]}, "vocal_tract"),
    ({"warp_depth": 0.9}, "warp_depth"),
])
def test_bad_realism_keys_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        check_style({**STYLE, **change}, "librispeech.demo_clean")


def test_demo_preset_uses_the_demo_styles_and_bad_styles_are_named(tmp_path):
    demo = resolve_request("demo", corpora=["librispeech"])
    assert demo.librispeech_styles == {"clean": "demo_clean", "other": "demo_other"}
    assert demo.synthesis["librispeech"]["clean"]["flite_share"] > 0
    assert resolve_request("ci").librispeech_styles == {"clean": "clean", "other": "other"}
    bad = tmp_path / "bad.yaml"
    preset = (CONF_DIR / "ci.yaml").read_text(encoding="utf-8")
    bad.write_text(preset.replace("  lm_sentences:", "  styles: {clean: nowhere, other: other}\n  lm_sentences:"),
                   encoding="utf-8")
    with pytest.raises(ValueError, match="librispeech.nowhere .*missing"):
        resolve_request(str(bad))


def test_demo_style_utterances_render_byte_identically(tmp_path):
    """Utterances of the demo styles (an eSpeak and a Flite speaker, with babble, warps,
    rooms) rendered twice give the same bytes and spans."""
    preset = (CONF_DIR / "demo.yaml").read_text(encoding="utf-8")
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(preset.replace("lm_sentences: 100000", "lm_sentences: 50"), encoding="utf-8")
    request = resolve_request(str(tiny), corpora=["librispeech"], speakers=1, utts_per_speaker=2)
    plan = plan_librispeech(request, Grammar.from_yaml(CONF_DIR / "english_grammar.yaml"))
    jobs = utterance_jobs(plan, request, tmp_path / "a")
    chosen = [next(j for j in jobs if flite.is_flite(j.utt.speaker.voice) == f) for f in (True, False)]
    for job in chosen:
        again = replace(job, paths=tuple(p.replace(str(tmp_path / "a"), str(tmp_path / "b")) for p in job.paths))
        first, second = job.render(), again.render()
        assert first.spans == second.spans and first.num_samples == second.num_samples
        assert Path(job.paths[0]).read_bytes() == Path(again.paths[0]).read_bytes()
