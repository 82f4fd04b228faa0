"""Unit tests of the corpus generator's parts, on hand-computable inputs."""

from __future__ import annotations

import numpy as np
import pytest

from dinosr_espnet.bin.make_corpus import main, summary
from dinosr_espnet.data.synth.audio import HOP, Track, _resample, frame_labels
from dinosr_espnet.data.synth.config import CONF_DIR, resolve_request
from dinosr_espnet.data.synth.espeak import Espeak, Voice, clean_phone, phones_from_events, synth_isolated
from dinosr_espnet.data.synth.grammar import Grammar
from dinosr_espnet.data.synth.labels import triphone_items, write_alignments
from dinosr_espnet.data.synth.librispeech import plan_librispeech
from dinosr_espnet.data.synth.rng import stream
from dinosr_espnet.data.synth.synth_server import SynthServer
from dinosr_espnet.data.synth.wordlists import load_languages, select_languages

PHONEME, END = 7, 5


def test_phones_from_events_covers_audio_with_silences():
    events = [(PHONEME, 100, b"h"), (PHONEME, 250, "ˈə".encode()), (PHONEME, 400, b""), (END, 500, b"")]
    assert phones_from_events(events, 600) == [
        ("sil", 0, 100),
        ("h", 100, 250),
        ("ə", 250, 400),
        ("sil", 400, 600),
    ]


def test_phones_from_events_merges_silences_and_drops_empty_spans():
    events = [(PHONEME, 0, b""), (PHONEME, 50, b""), (PHONEME, 50, b"a"), (PHONEME, 80, b"")]
    assert phones_from_events(events, 100) == [("sil", 0, 50), ("a", 50, 80), ("sil", 80, 100)]


def test_clean_phone_strips_stress_and_truncated_utf8():
    assert clean_phone("ˌaɪ".encode() + b"\0\0\0") == "aɪ"
    assert clean_phone(b"a\xc9") == "a"  # 8-byte cut inside a 2-byte character
    assert clean_phone(b"\0" * 8) == "sil"


def test_frame_labels_use_frame_centres():
    spans = [("sil", 0, 160), ("a", 160, 400), ("sil", 400, 480)]
    # centres 80, 240, 400 -> sil, a, sil (400 is the first sample of the last span)
    assert frame_labels(spans, 480) == ["sil", "a", "sil"]


def test_track_padding_keeps_hop_grid_and_shifts_spans():
    track = Track(np.ones(1000, np.float32), [("a", 0, 600), ("b", 600, 1000)]).padded(100, 30)
    assert track.num_samples % HOP == 0 and track.num_samples == 1280  # 100+1000+30 -> 1280
    assert track.spans == [("sil", 0, 100), ("a", 100, 700), ("b", 700, 1100), ("sil", 1100, 1280)]
    assert track.audio[:100].max() == 0 and track.audio[100:1100].min() == 1


def test_track_concatenation_merges_adjacent_silence():
    both = Track.silence(160) + Track.silence(320)
    assert both.spans == [("sil", 0, 480)] and both.num_samples == 480


@pytest.mark.parametrize("src,dst", [(22050, 16000), (16000, 8000)])
def test_resample_keeps_a_sine_in_band(src, dst):
    n = src // 2
    x = np.sin(2 * np.pi * 1000 * np.arange(n) / src).astype(np.float32)
    y = _resample(x, src, dst)
    assert len(y) == -(-n * dst // src)
    ref = np.sin(2 * np.pi * 1000 * np.arange(len(y)) / dst)
    assert np.abs(y - ref)[64:-64].max() < 1e-3


def test_resample_removes_content_above_the_new_nyquist():
    x = np.sin(2 * np.pi * 9000 * np.arange(22050) / 22050).astype(np.float32)
    assert np.sqrt(np.mean(_resample(x, 22050, 16000)[64:-64] ** 2)) < 0.01  # 9 kHz > 8 kHz


def test_grammar_expands_rules_classes_pauses_and_optionals():
    spec = {
        "start": "S",
        "optional_p": 0.0,
        "rules": {"S": [[1, "the NOUN VERB , ADV?"]]},
        "classes": {"NOUN": ["dog"], "VERB": ["ran away"], "ADV": ["slowly"]},
    }
    g = Grammar(spec)
    s = g.sentence(np.random.default_rng(0))
    assert s.words == ("the", "dog", "ran", "away")
    assert s.spoken == "the dog ran away,"
    assert s.transcript == "THE DOG RAN AWAY"
    assert g.vocabulary() == ["away", "dog", "ran", "slowly", "the"]


def test_grammar_rejects_undefined_symbols():
    with pytest.raises(ValueError, match="undefined symbol 'VERB'"):
        Grammar({"rules": {"S": [[1, "the VERB"]]}})


def test_real_grammar_sentences_are_deterministic():
    g = Grammar.from_yaml(CONF_DIR / "english_grammar.yaml")
    a, b, c = stream(3, "t"), stream(3, "t"), stream(4, "t")
    first = [g.sentence(a).words for _ in range(5)]
    assert first == [g.sentence(b).words for _ in range(5)]
    assert first != [g.sentence(c).words for _ in range(5)]
    assert all(w.islower() and w.isalpha() for s in first for w in s)


def test_triphone_items_skip_silence_contexts():
    spans = [("sil", 0, 1600), ("k", 1600, 3200), ("æ", 3200, 4800), ("t", 4800, 6400), ("sil", 6400, 8000)]
    assert triphone_items("1-2-0000", "1", spans) == ["1-2-0000 0.1000 0.4000 æ k t 1\n"]


def test_write_alignments_rejects_labels_with_commas(tmp_path):
    with pytest.raises(ValueError, match="utt1"):
        write_alignments(tmp_path / "x.phn", {"utt1": ["a,b"]})
    write_alignments(tmp_path / "y.phn", {"b": ["sil"], "a": ["sil", "x"]})
    assert (tmp_path / "y.phn").read_text() == "a\tsil,x\nb\tsil\n"


def test_request_overrides_and_errors():
    r = resolve_request("ci", speakers=2, utts_per_speaker=5, languages=["bengali", "202"])
    assert all(v["speakers"] == 2 and v["utts_per_speaker"] == 5 for v in r.librispeech.values())
    assert all(v["recordings"] == 2 and v["segments_per_recording"] == 5 for v in r.babel.values())
    assert r.babel_languages == [103, 202]
    est = r.synthesis["librispeech"]["estimated_utterance_seconds"]
    h = resolve_request("ci", speakers=4, hours_per_split=0.1)
    assert h.librispeech["dev-clean"]["utts_per_speaker"] == round(0.1 * 3600 / (4 * est))
    with pytest.raises(ValueError, match="--corpora"):
        resolve_request("ci", corpora=["timit"])
    with pytest.raises(ValueError, match="mutually exclusive"):
        resolve_request("ci", utts_per_speaker=1, hours_per_split=1.0)
    with pytest.raises(ValueError, match="--speakers"):
        resolve_request("ci", speakers=0)
    with pytest.raises(ValueError, match="unknown BABEL language 'klingon'"):
        resolve_request("ci", languages=["klingon"])
    with pytest.raises(FileNotFoundError, match="nosuch.yaml"):
        resolve_request("nosuch")


def test_language_table_has_pretrain_and_unseen_languages():
    table = load_languages(CONF_DIR / "babel_languages.yaml")
    roles = [lang.role for lang in table]
    assert roles.count("pretrain") >= 6 and roles.count("finetune") >= 2
    assert [lang.dirname for lang in select_languages(table, ["Tamil", 103])] == ["204_Tamil", "103_Bengali"]


def test_librilight_needs_enough_train_utterances():
    request = resolve_request("ci", speakers=1, utts_per_speaker=1)
    grammar = Grammar.from_yaml(CONF_DIR / "english_grammar.yaml")
    with pytest.raises(ValueError, match="librilight needs 60 clean"):
        plan_librispeech(request, grammar)


def test_espeak_phonemize_and_isolated_synthesis_are_reproducible():
    assert Espeak.get().phonemize("the", "en-us") == ["ð", "ə"]
    voice = Voice("en-us+f3", rate=170, pitch=60)  # f3 has random breath noise
    a = synth_isolated("good morning", voice, seed=5)
    b = synth_isolated("good morning", voice, seed=5)
    assert a.pcm == b.pcm and a.phones == b.phones
    assert a.phones[0][1] == 0 and a.phones[-1][2] == a.num_samples
    assert all(prev[2] == cur[1] for prev, cur in zip(a.phones, a.phones[1:]))
    assert [p for p, _, _ in a.phones if p != "sil"][:2] == ["ɡ", "ʊ"]


def test_unknown_voice_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no voice 'xx-nope'"):
        synth_isolated("hello", Voice("xx-nope"))


def test_synth_server_matches_in_process_fork():
    server = SynthServer()
    try:
        voice = Voice("en-us+m3", rate=190)
        via_server = server.synth("one two three", voice, 11)
        with pytest.raises(RuntimeError, match="no voice"):
            server.synth("hello", Voice("xx-nope"), 0)
        assert server.synth("one two three", voice, 11).pcm == via_server.pcm  # still serving
    finally:
        server.close()
    direct = synth_isolated("one two three", voice, 11)
    assert via_server.pcm == direct.pcm and via_server.phones == direct.phones


def test_cli_reports_bad_requests_and_summarises(tmp_path, caplog):
    assert main(["--out", str(tmp_path / "x"), "--corpora", "librispeech,timit"]) == 1
    assert "--corpora: unknown ['timit']" in caplog.text
    counts = {
        "librispeech": {
            "dev-clean": {"utterances": 3, "hours": 0.5},
            "dev-other": {"utterances": 2, "hours": 0.25},
        },
        "babel": {"103_Bengali": {"dev": {"recordings": 2, "segments": 5, "hours": 0.1}}},
    }
    assert summary(counts) == [
        "LibriSpeech: 2 sets, 5 utterances, 0.75 h",
        "BABEL: 1 languages, 2 recordings, 5 speech segments, 0.10 h",
    ]
