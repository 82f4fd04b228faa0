"""dump_audio: 16 kHz mono output, segments/pipes/arks, filters, bad input, idempotent reruns."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import soundfile

sys.path.insert(0, str(Path(__file__).parent))
from test_prep_fixtures import check_data_dir, run, snapshot, write_audio  # noqa: E402

from dinosr_espnet.data.audio import AudioError, ChannelError  # noqa: E402
from dinosr_espnet.data.dump import dump_data_dir  # noqa: E402
from dinosr_espnet.data.dump_worker import DumpOptions  # noqa: E402
from dinosr_espnet.data.kaldi_dir import read_kaldi_map  # noqa: E402


def data_dir(path: Path, wav: dict[str, str], segments: dict[str, str] | None = None) -> Path:
    """Write a minimal data dir: one speaker per utterance prefix `<spk>-...`."""
    path.mkdir(parents=True, exist_ok=True)
    utts = sorted(segments or wav)
    (path / "wav.scp").write_text("".join(f"{k} {v}\n" for k, v in sorted(wav.items())))
    if segments:
        (path / "segments").write_text("".join(f"{k} {v}\n" for k, v in sorted(segments.items())))
    (path / "text").write_text("".join(f"{u} WORDS OF {u}\n" for u in utts))
    (path / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u in utts))
    spk = {}
    for u in utts:
        spk.setdefault(u.split("-")[0], []).append(u)
    (path / "spk2utt").write_text("".join(f"{s} {' '.join(us)}\n" for s, us in spk.items()))
    return path


def dump(src: Path, dst: Path, **kw) -> dict:
    nj = kw.pop("nj", 1)
    chunk = kw.pop("chunk_size", 200)
    return dump_data_dir(src, str(dst), DumpOptions(**kw), nj=nj, chunk_size=chunk)


def test_16k_flac_is_copied_exactly(tmp_path):
    originals = {f"a-{i}": write_audio(tmp_path / "in" / f"a-{i}.flac", 0.2 + 0.1 * i, seed=i)
                 for i in range(3)}
    src = data_dir(tmp_path / "data", {u: str(tmp_path / "in" / f"{u}.flac") for u in originals})
    stats = dump(src, tmp_path / "dump")
    assert stats["dumped"] == 3 and stats["skipped"] == {}
    out = tmp_path / "dump"
    check_data_dir(out)
    n = read_kaldi_map(out / "utt2num_samples")
    for utt, original in originals.items():
        path = read_kaldi_map(out / "wav.scp")[utt]
        assert path == str(out / "data" / f"{utt}.flac")
        audio, rate = soundfile.read(path, dtype="int16")
        assert rate == 16000 and np.array_equal(audio, original)
        assert int(n[utt]) == len(original) == round((0.2 + 0.1 * int(utt[-1])) * 16000)
    assert (out / "text").read_bytes() == (src / "text").read_bytes()
    assert (out / "spk2utt").read_text() == "a a-0 a-1 a-2\n"
    assert (out / "log" / "dump.log").read_text().startswith(f"{src} -> {out}: 3 utterances")


def test_other_rates_are_resampled_and_counted(tmp_path):
    t8 = np.arange(8000) / 8000
    soundfile.write(tmp_path / "b-8k.wav", 0.5 * np.sin(2 * np.pi * 440 * t8), 8000, subtype="PCM_16")
    write_audio(tmp_path / "c-44k.wav", 0.5, rate=44100)
    src = data_dir(tmp_path / "data", {"b-8k": str(tmp_path / "b-8k.wav"),
                                       "c-44k": str(tmp_path / "c-44k.wav")})
    stats = dump(src, tmp_path / "dump")
    assert stats["source_rates"] == {8000: 1, 44100: 1}
    n = read_kaldi_map(tmp_path / "dump" / "utt2num_samples")
    assert n["b-8k"] == "16000" and abs(int(n["c-44k"]) - 8000) <= 1
    audio, rate = soundfile.read(tmp_path / "dump" / "data" / "b-8k.flac")
    assert rate == 16000 and len(audio) == 16000
    t16 = np.arange(16000) / 16000
    assert np.max(np.abs(audio[1000:-1000] - 0.5 * np.sin(2 * np.pi * 440 * t16[1000:-1000]))) < 0.01
    log = (tmp_path / "dump" / "log" / "dump.log").read_text()
    assert "resampled to 16000 Hz: 1 utts from 8000 Hz, 1 utts from 44100 Hz" in log


def test_stereo_is_rejected_unless_mixed(tmp_path):
    stereo = write_audio(tmp_path / "s-1.flac", 0.3, channels=2)
    src = data_dir(tmp_path / "data", {"s-1": str(tmp_path / "s-1.flac")})
    with pytest.raises(ChannelError, match=r"recording s-1 .*has 2 channels; pass --mix_channels"):
        dump(src, tmp_path / "dump")
    proc = run([sys.executable, "-m", "dinosr_espnet.bin.dump_audio", src, tmp_path / "dump"],
               check=False)
    assert proc.returncode == 1 and "--mix_channels" in proc.stderr and "Traceback" not in proc.stderr
    stats = dump(src, tmp_path / "dump", mix_channels=True)
    assert stats["mixed_to_mono"] == 1
    mono, _ = soundfile.read(tmp_path / "dump" / "data" / "s-1.flac", dtype="int16")
    assert np.max(np.abs(mono - stereo.astype(float).mean(axis=1))) <= 0.5


def bad_inputs(tmp_path: Path) -> Path:
    """One good utterance and one of each kind of broken audio."""
    good = tmp_path / "good.flac"
    write_audio(good, 0.3)
    trunc = tmp_path / "trunc.flac"
    write_audio(trunc, 1.0, seed=3)
    trunc.write_bytes(trunc.read_bytes()[: trunc.stat().st_size // 2])
    (tmp_path / "garbage.flac").write_bytes(b"not audio at all" * 50)
    (tmp_path / "empty.flac").write_bytes(b"")
    soundfile.write(tmp_path / "zero.wav", np.zeros(0), 16000, subtype="PCM_16")
    return data_dir(tmp_path / "data", {
        "x-good": str(good), "x-missing": str(tmp_path / "missing.flac"), "x-trunc": str(trunc),
        "x-garbage": str(tmp_path / "garbage.flac"), "x-empty": str(tmp_path / "empty.flac"),
        "x-zero": str(tmp_path / "zero.wav"), "x-pipe": "false |",
    })


def test_bad_audio_is_skipped_counted_and_listed(tmp_path):
    src = bad_inputs(tmp_path)
    stats = dump(src, tmp_path / "dump", nj=2, chunk_size=2)
    assert stats["dumped"] == 1
    assert stats["skipped"] == {"missing file": 1, "unreadable": 2, "empty file": 1,
                                "empty audio": 1, "command failed": 1}
    skipped = read_kaldi_map(tmp_path / "dump" / "log" / "skipped")
    assert skipped["x-missing"] == f"missing file: {tmp_path / 'missing.flac'}"
    assert skipped["x-trunc"].startswith("unreadable:") and "trunc.flac" in skipped["x-trunc"]
    assert skipped["x-empty"].startswith("empty file:")
    assert skipped["x-zero"].startswith("empty audio:")
    assert skipped["x-pipe"].startswith("command failed: `false` exited 1")
    out = tmp_path / "dump"
    assert check_data_dir(out) == ["x-good"]
    log = (out / "log" / "dump.log").read_text()
    assert "skipped 6 utterances (command failed: 1, empty audio: 1, empty file: 1, " in log


def test_on_error_fail_names_the_recording(tmp_path):
    src = bad_inputs(tmp_path)
    with pytest.raises(AudioError, match=r"empty file: recording x-empty: .*empty\.flac has 0 bytes"):
        dump(src, tmp_path / "dump", on_error="fail")
    proc = run([sys.executable, "-m", "dinosr_espnet.bin.dump_audio", "--on_error", "fail", src,
                tmp_path / "dump"], check=False)
    assert proc.returncode == 1 and "recording x-empty" in proc.stderr


def test_duration_filter(tmp_path):
    wav = {}
    for i, seconds in enumerate((0.1, 0.5, 2.0)):
        write_audio(tmp_path / f"d-{i}.flac", seconds, seed=i)
        wav[f"d-{i}"] = str(tmp_path / f"d-{i}.flac")
    src = data_dir(tmp_path / "data", wav)
    stats = dump(src, tmp_path / "dump", min_dur=0.2, max_dur=1.0)
    assert stats["skipped"] == {"too short": 1, "too long": 1}
    out = tmp_path / "dump"
    assert check_data_dir(out) == ["d-1"]
    assert read_kaldi_map(out / "log" / "skipped") == {"d-0": "too short: 0.100 s",
                                                     "d-2": "too long: 2.000 s"}
    assert sorted(p.name for p in (out / "data").iterdir()) == ["d-1.flac"]


def test_segments_pipes_and_ark(tmp_path):
    rec = write_audio(tmp_path / "rec.wav", 2.0, rate=16000, seed=5)
    src = data_dir(tmp_path / "data", {"r-a": str(tmp_path / "rec.wav"), "r-p": f"cat {tmp_path}/rec.wav |"},
                   {"r-a-1": "r-a 0.25 0.75", "r-a-2": "r-a 1.5 -1", "r-a-3": "r-a 2.5 3.0",
                    "r-p-1": "r-p 0.0 0.5"})
    stats = dump(src, tmp_path / "dump", audio_format="ark")
    assert stats["dumped"] == 3 and stats["skipped"] == {"segment outside audio": 1}
    out = tmp_path / "dump"
    check_data_dir(out)
    wav = read_kaldi_map(out / "wav.scp")
    expected = {"r-a-1": rec[4000:12000], "r-a-2": rec[24000:], "r-p-1": rec[:8000]}
    for utt, samples in expected.items():
        assert wav[utt].startswith(f"{out}/data/data.000000.ark:")
        rate, array = kaldiio.load_mat(wav[utt])
        assert rate == 16000 and np.array_equal(array, samples)
        assert read_kaldi_map(out / "utt2num_samples")[utt] == str(len(samples))
    assert not (out / "segments").exists()


def test_rerun_is_skipped_or_byte_identical(tmp_path):
    wav = {}
    for i in range(5):
        write_audio(tmp_path / f"e-{i}.wav", 0.2, rate=8000 if i % 2 else 16000, seed=i)
        wav[f"e-{i}"] = str(tmp_path / f"e-{i}.wav")
    src = data_dir(tmp_path / "data", wav)
    out = tmp_path / "dump"
    dump(src, out, nj=1)
    first = snapshot(out)
    mtime = (out / "data" / "e-0.flac").stat().st_mtime_ns
    assert dump(src, out, nj=1) == {"up_to_date": True}
    assert (out / "data" / "e-0.flac").stat().st_mtime_ns == mtime
    (out / ".done").unlink()
    dump(src, out, nj=2, chunk_size=1)
    assert snapshot(out) == first
    stats = dump(src, out, min_dur=0.0, max_dur=math.inf, fs=8000)
    assert "up_to_date" not in stats
    assert read_kaldi_map(out / "utt2num_samples")["e-0"] == "1600"


def test_inconsistent_data_dir_is_an_error(tmp_path):
    write_audio(tmp_path / "f-1.flac", 0.2)
    src = data_dir(tmp_path / "data", {"f-1": str(tmp_path / "f-1.flac")})
    (src / "utt2spk").write_text("f-1 f\nf-2 f\n")
    with pytest.raises(ValueError, match=r"utterance 'f-2' is in only one of utt2spk and wav.scp"):
        dump(src, tmp_path / "dump")


def test_segment_that_resamples_to_nothing_is_skipped(tmp_path):
    write_audio(tmp_path / "q.wav", 0.5, rate=44100)
    src = data_dir(tmp_path / "data", {"q": str(tmp_path / "q.wav")},
                   {"q-1": "q 0.0 0.00002", "q-2": "q 0.1 0.2"})
    stats = dump(src, tmp_path / "dump")
    assert stats["skipped"] == {"empty audio": 1}
    assert read_kaldi_map(tmp_path / "dump" / "log" / "skipped") == {"q-1": "empty audio: 0.000-0.000 s of q"}
    assert read_kaldi_map(tmp_path / "dump" / "utt2num_samples") == {"q-2": "1600"}


NONFINITE = {"NaN": np.nan, "+inf": np.inf, "-inf": -np.inf}


@pytest.mark.parametrize("rate", [16000, 44100], ids=["16k", "44k-resampled"])
@pytest.mark.parametrize("kind", list(NONFINITE))
def test_nonfinite_samples_skip_the_utterance_and_are_counted(tmp_path, kind, rate):
    """A float WAV with 5 `kind` samples is skipped (never written with 0/full-scale
    samples), listed and counted by kind; its finite neighbour at the same rate is dumped."""
    t = np.arange(int(0.3 * rate)) / rate
    good = 0.3 * np.sin(2 * np.pi * 300 * t)
    bad = good.copy()
    bad[[10, 500, 1000, 2000, 3000]] = NONFINITE[kind]
    soundfile.write(tmp_path / "good.wav", good, rate, subtype="FLOAT")
    soundfile.write(tmp_path / "bad.wav", bad, rate, subtype="FLOAT")
    src = data_dir(tmp_path / "data", {"n-bad": str(tmp_path / "bad.wav"),
                                       "n-good": str(tmp_path / "good.wav")})
    stats = dump(src, tmp_path / "dump")
    assert stats["dumped"] == 1 and stats["skipped"] == {"non-finite samples": 1}
    assert stats["nonfinite_samples"] == {kind: 5}
    out = tmp_path / "dump"
    assert check_data_dir(out) == ["n-good"]
    skipped = read_kaldi_map(out / "log" / "skipped")
    assert skipped["n-bad"] == f"non-finite samples: 5 {kind} in {tmp_path / 'bad.wav'}"
    log = (out / "log" / "dump.log").read_text()
    assert f"non-finite samples (5 {kind}) in 1 utterances: skipped them" in log
    assert "skipped 1 utterances (non-finite samples: 1)" in log
    audio, _ = soundfile.read(out / "data" / "n-good.flac")
    t16 = np.arange(len(audio)) / 16000
    assert len(audio) == 4800
    assert np.max(np.abs(audio - 0.3 * np.sin(2 * np.pi * 300 * t16))[100:-100]) < 0.01


def test_nonfinite_samples_with_on_error_fail_stop_the_dump(tmp_path):
    bad = np.full(4000, 0.1)
    bad[7] = np.nan
    soundfile.write(tmp_path / "bad.wav", bad, 16000, subtype="FLOAT")
    src = data_dir(tmp_path / "data", {"n-bad": str(tmp_path / "bad.wav")})
    with pytest.raises(AudioError, match=r"non-finite samples: utterance n-bad: 1 NaN in "):
        dump(src, tmp_path / "dump", on_error="fail")


def test_nonfinite_only_after_resampling_is_caught(tmp_path, monkeypatch):
    """The check after resampling: a resampler output with NaN is never quantised to 0."""
    import dinosr_espnet.data.dump_worker as worker

    write_audio(tmp_path / "c-44k.wav", 0.2, rate=44100)
    src = data_dir(tmp_path / "data", {"c-44k": str(tmp_path / "c-44k.wav")})
    monkeypatch.setattr(worker, "resample", lambda x, rate, fs: np.full(100, np.nan))
    with pytest.raises(RuntimeError, match="no utterance could be dumped"):
        dump(src, tmp_path / "dump")
    skipped = read_kaldi_map(tmp_path / "dump" / "log" / "skipped")
    assert skipped["c-44k"].startswith("non-finite samples: 100 NaN after resampling in ")


@pytest.mark.parametrize("audio_format", ["flac", "ark"])
def test_dump_outputs_are_published_atomically(tmp_path, monkeypatch, audio_format):
    """Every output goes through a temporary file in its own directory that is fsync'ed and
    renamed; none is left behind."""
    import dinosr_espnet.data.atomic as atomic

    published = []
    real_publish = atomic.publish

    def spy(tmp, path, sync_dir=True):
        assert os.path.dirname(tmp) == os.path.dirname(path) and os.path.exists(tmp)
        published.append(os.path.relpath(path, tmp_path / "dump"))
        real_publish(tmp, path, sync_dir)

    monkeypatch.setattr(atomic, "publish", spy)
    write_audio(tmp_path / "a-1.flac", 0.2)
    src = data_dir(tmp_path / "data", {"a-1": str(tmp_path / "a-1.flac")})
    dump(src, tmp_path / "dump", audio_format=audio_format)
    audio = "data/data.000000.ark" if audio_format == "ark" else "data/a-1.flac"
    assert set(published) == {audio, "log/skipped", "wav.scp", "utt2num_samples", "utt2spk",
                              "spk2utt", "text", "log/dump.log", ".done"}
    leftovers = [p for p in (tmp_path / "dump").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    value = read_kaldi_map(tmp_path / "dump" / "wav.scp")["a-1"]
    assert value.startswith(str(tmp_path / "dump" / audio))


def test_failed_atomic_write_keeps_the_old_file(tmp_path):
    from dinosr_espnet.data.atomic import atomic_open

    target = tmp_path / "wav.scp"
    target.write_text("old\n")
    with pytest.raises(KeyError):
        with atomic_open(target) as f:
            f.write("half")
            raise KeyError("killed")
    assert target.read_text() == "old\n" and sorted(tmp_path.iterdir()) == [target]
