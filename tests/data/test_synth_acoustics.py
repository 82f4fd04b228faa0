"""Recording conditions and per-utterance voice variation of the generated LibriSpeech."""

from __future__ import annotations

import numpy as np
import pytest

from dinosr_espnet.data.synth.acoustics import Room, check_room, impulse_response, record, sample_room
from dinosr_espnet.data.synth.audio import RATE, Track
from dinosr_espnet.data.synth.config import CONF_DIR, resolve_request
from dinosr_espnet.data.synth.espeak import Voice
from dinosr_espnet.data.synth.grammar import Grammar
from dinosr_espnet.data.synth.librispeech import plan_librispeech
from dinosr_espnet.data.synth.speakers import Speaker, check_style

ROOM = {"rt60": [0.2, 0.2], "drr_db": [6.0, 6.0], "highpass_hz": [100, 100], "lowpass_hz": [6000, 6000]}


def test_impulse_response_has_unit_direct_path_and_the_requested_drr():
    room = Room(rt60=0.3, drr_db=6.0, highpass_hz=100, lowpass_hz=6000)
    ir = impulse_response(room, np.random.default_rng(0))
    assert ir[0] == 1.0 and np.all(ir[1:40] == 0)  # 2.5 ms gap before the tail
    tail_energy = float(np.sum(ir[1:].astype(np.float64) ** 2))
    assert 10 * np.log10(1.0 / tail_energy) == pytest.approx(6.0, abs=1e-4)
    assert len(ir) == 40 + int(0.3 * RATE)
    # -60 dB amplitude decay over rt60: the last 10 ms are ~1000x below the first 10 ms
    first, last = np.abs(ir[40:200]).mean(), np.abs(ir[-160:]).mean()
    assert 300 < first / last < 3000


def test_dry_room_keeps_the_signal_and_band_pass_removes_dc_and_highs():
    room = Room(rt60=0.0, drr_db=0.0, highpass_hz=100, lowpass_hz=4000)
    assert impulse_response(room, np.random.default_rng(0)).tolist() == [1.0]
    t = np.arange(RATE) / RATE
    mid, dc, high = (np.sin(2 * np.pi * 1000 * t), np.ones_like(t), np.sin(2 * np.pi * 7500 * t))
    rms = {name: np.sqrt(np.mean(record(x.astype(np.float32), room, np.ones(1))[4000:] ** 2))
           for name, x in (("mid", mid), ("dc", dc), ("high", high))}
    assert rms["mid"] == pytest.approx(np.sqrt(0.5), rel=0.02)
    assert rms["dc"] < 1e-3 and rms["high"] < 0.05


def test_record_keeps_length_and_direct_path_alignment():
    room = Room(rt60=0.25, drr_db=10.0, highpass_hz=60, lowpass_hz=7000)
    x = np.zeros(8000, np.float32)
    x[1000] = 1.0
    y = record(x, room, impulse_response(room, np.random.default_rng(1)))
    assert len(y) == len(x)
    assert np.all(np.abs(y[:990]) < 1e-6)  # nothing before the click (causal, no delay)
    assert int(np.argmax(np.abs(y))) in range(1000, 1010)


def test_formant_scaling_resamples_audio_and_spans():
    t = np.arange(16000) / RATE
    track = Track(np.sin(2 * np.pi * 500 * t).astype(np.float32), [("a", 0, 8000), ("b", 8000, 16000)])
    up = track.formant_scaled(1.05)
    assert len(up.audio) == round(16000 / 1.05)
    assert up.spans == [("a", 0, round(8000 / 1.05)), ("b", round(8000 / 1.05), len(up.audio))]
    spectrum = np.abs(np.fft.rfft(up.audio[1000:-1000]))
    peak_hz = np.argmax(spectrum) * RATE / (len(up.audio) - 2000)
    assert peak_hz == pytest.approx(525, abs=3)  # 500 Hz played 5% faster
    assert track.formant_scaled(1.0) is track


def test_utterance_voice_jitters_rate_and_pitch_within_bounds():
    spk = Speaker("1", "M", Voice("en-us+m1", rate=170, pitch=50), 0.0, 40.0, rate_jitter=0.05,
                  pitch_jitter=8, formant_jitter=0.05)
    rng = np.random.default_rng(0)
    voices = [spk.utterance_voice(rng) for _ in range(200)]
    pitches, rates = {v.pitch for v in voices}, {v.rate for v in voices}
    assert min(pitches) >= 42 and max(pitches) <= 58 and len(pitches) > 10
    assert min(rates) >= 161 and max(rates) <= 179
    scales = [spk.utterance_formant_scale(rng) for _ in range(200)]
    assert 0.95 <= min(scales) < 0.97 and 1.03 < max(scales) <= 1.05
    still = Speaker("2", "F", Voice("en-us+f1", pitch=50), 0.0, 40.0, rate_jitter=0.0)
    assert still.utterance_voice(rng).pitch == 50 and still.utterance_formant_scale(rng) == 1.0


def test_one_room_per_chapter_drawn_from_the_style():
    request = resolve_request("ci", seed=0, corpora=["librispeech"])
    plan = plan_librispeech(request, Grammar.from_yaml(CONF_DIR / "english_grammar.yaml"))
    rooms: dict[int, set] = {}
    for utt in plan.utterances:
        rooms.setdefault(utt.chapter, set()).add(utt.room)
        style = request.synthesis["librispeech"]["other" if "other" in utt.split else "clean"]
        for key, (lo, hi) in style["room"].items():
            assert lo <= getattr(utt.room, key) <= hi, (utt.uttid, key)
    assert all(len(r) == 1 for r in rooms.values())
    assert len({next(iter(r)) for r in rooms.values()}) == len(rooms)  # chapters differ
    assert sample_room(np.random.default_rng(3), {"room": ROOM}) == Room(0.2, 6.0, 100, 6000)


@pytest.mark.parametrize("change, message", [
    ({"rt60": [0.5, 0.1]}, "rt60"),
    ({"lowpass_hz": [7000, 9000]}, "band-pass"),
    ({"highpass_hz": [100, 7000]}, "highpass_hz must stay below"),
])
def test_bad_room_ranges_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        check_room({**ROOM, **change}, "librispeech.clean.room")
    with pytest.raises(ValueError, match="unknown keys \\['reverb'\\]"):
        check_room({**ROOM, "reverb": [0, 1]}, "librispeech.clean.room")


def test_bad_jitter_is_named():
    style = {"variants": ["m1"], "pitch": [40, 60], "range": [40, 60], "rate": [150, 170],
             "word_gap": [0, 1], "gain_db": [-3, 0], "snr_db": [30, 40], "rate_jitter": 0.05}
    check_style({**style, "pitch_jitter": 8, "formant_jitter": 0.05, "room": ROOM}, "s")
    with pytest.raises(ValueError, match="s.formant_jitter"):
        check_style({**style, "formant_jitter": 1.5}, "s")
