"""BABEL preparation: transcription parsing, markup policy, corpus discovery, SPHERE, data.sh."""

from __future__ import annotations

import shutil
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import soundfile

sys.path.insert(0, str(Path(__file__).parent))
from test_prep_fixtures import (  # noqa: E402
    BABEL_TRANSCRIPT,
    REPO,
    babel_recid,
    check_data_dir,
    make_babel_language,
    run,
    snapshot,
    speakers,
)

from dinosr_espnet.data.babel import (  # noqa: E402
    find_conversational,
    load_languages,
    prepare_babel_language,
    wav_scp_entry,
)
from dinosr_espnet.data.babel_markup import MarkupPolicy  # noqa: E402
from dinosr_espnet.data.babel_transcription import (  # noqa: E402
    TimedText,
    TranscriptionError,
    centiseconds,
    parse_transcription,
    utterance_id,
)
from dinosr_espnet.data.kaldi_dir import read_kaldi_map  # noqa: E402

CONF = REPO / "conf"
OUT_OF_ORDER = ["[0.000]", "first", "[2.000]", "second", "[1.500]", "third", "[3.000]"]


def policy() -> MarkupPolicy:
    return MarkupPolicy.from_yaml(CONF / "babel_markup.yaml")


def test_parse_transcription_and_ids(tmp_path):
    path = tmp_path / "rec.txt"
    path.write_text("\n".join(BABEL_TRANSCRIPT) + "\n")
    assert parse_transcription(path) == [
        TimedText(Decimal("0.000"), Decimal("0.500"), "<no-speech>"),
        TimedText(Decimal("0.500"), Decimal("1.250"), "hello <breath> world"),
        TimedText(Decimal("1.250"), Decimal("1.900"), "(())"),
        TimedText(Decimal("1.900"), Decimal("2.755"), "*good* ~ morning <hes>"),
    ]
    assert centiseconds(Decimal("2.755")) == 276 and centiseconds(Decimal("2.754")) == 275
    assert utterance_id("REC", Decimal("1.9"), Decimal("12.345")) == "REC_0000190_0001235"


@pytest.mark.parametrize("lines, message", [
    (OUT_OF_ORDER, r"rec\.txt:5: timestamp \[1\.500\] is earlier than \[2\.000\] on line 3"),
    (["hello", "[0.0]", "x", "[1.0]"], r"rec\.txt:1: text before the first timestamp"),
    (["[0.0]", "x", "[1.0]", "dangling"], r"rec\.txt: text after the last timestamp"),
])
def test_malformed_transcriptions_name_file_and_line(tmp_path, lines, message):
    path = tmp_path / "rec.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TranscriptionError, match=message):
        parse_transcription(path)


def test_non_utf8_transcription(tmp_path):
    path = tmp_path / "rec.txt"
    path.write_bytes(b"[0.0]\nok\n[1.0]\nbad \xff\n[2.0]\n")
    with pytest.raises(TranscriptionError, match=r"rec\.txt:4: not valid UTF-8"):
        parse_transcription(path)


def test_markup_policy_actions():
    p = policy()
    assert p.normalise("hello <breath> world") == "hello <noise> world"
    assert p.normalise("*good* ~ morning <hes>") == "good morning <hes>"
    assert p.normalise("<no-speech>") == ""
    assert p.normalise("(()) <foreign> x") == "<unk> <unk> x"
    assert p.normalise("<weird-thing> y") == "<noise> y"
    assert p.counts["unknown markup <weird-thing>"] == 1
    assert p.is_nonspeech_only("<noise> <unk>") and not p.is_nonspeech_only("<noise> y")
    custom = MarkupPolicy.from_dict({"tokens": {"<hes>": "drop", "<breath>": "keep"},
                                     "unknown_markup": "drop", "skip_nonspeech_only": False})
    assert custom.normalise("a <hes> <breath> <x> b") == "a <breath> b"
    assert not custom.is_nonspeech_only("<noise>")


@pytest.mark.parametrize("cfg, message", [
    ({"tokenz": {}}, r"unknown key\(s\) \['tokenz'\]"),
    ({"tokens": {"<hes>": "delete"}}, r"'<hes>' has action 'delete'"),
    ({"noise_symbol": "two words"}, "noise_symbol must be one non-empty token"),
])
def test_markup_policy_validation(cfg, message):
    with pytest.raises(ValueError, match=message):
        MarkupPolicy.from_dict(cfg, source="my.yaml")


def test_languages_config():
    names, groups = load_languages(CONF / "babel_languages.yaml")
    assert len(groups["pretrain"]) == 10 and len(groups["finetune"]) == 4
    assert [names[i] for i in groups["finetune"]] == ["assamese", "tagalog", "swahili", "lao"]
    assert not set(groups["pretrain"]) & set(groups["finetune"])


def test_find_conversational(tmp_path):
    make_babel_language(tmp_path / "root", "101", {"training": [BABEL_TRANSCRIPT]})
    (tmp_path / "root" / "BABEL_OP1_1010" / "release-current" / "conversational").mkdir(parents=True)
    conv = find_conversational("101", None, tmp_path / "root")
    assert conv == tmp_path / "root" / "BABEL_OP1_101" / "conversational"
    assert find_conversational("1010", None, tmp_path / "root").parent.name == "release-current"
    with pytest.raises(FileNotFoundError, match="found none; set BABEL_102="):
        find_conversational("102", None, tmp_path / "root")
    (tmp_path / "root" / "IARPA-babel101b-v0.4c").mkdir()
    with pytest.raises(FileNotFoundError, match="found BABEL_OP1_101, IARPA-babel101b-v0.4c"):
        find_conversational("101", None, tmp_path / "root")
    with pytest.raises(FileNotFoundError, match="set BABEL_103=... or BABEL_ROOT=..."):
        find_conversational("103", None, None)


def test_prepare_language_segments_text_and_skips(tmp_path):
    corpus = make_babel_language(tmp_path / "root", "101", {
        "training": [BABEL_TRANSCRIPT, BABEL_TRANSCRIPT, OUT_OF_ORDER],
        "dev": [BABEL_TRANSCRIPT],
    })
    train_dir = corpus / "conversational" / "training"
    orphan_audio = train_dir / "audio" / f"{babel_recid('101', 99)}.sph"
    shutil.copy(train_dir / "audio" / f"{babel_recid('101', 1)}.sph", orphan_audio)
    (train_dir / "transcription" / "BABEL_OP1_101_no_audio.txt").write_text("[0.0]\nx\n[1.0]\n")
    counts = prepare_babel_language("101", "cantonese", corpus / "conversational", policy(),
                                    tmp_path / "data", sph2pipe=None)
    assert counts == {"cantonese_train": 4, "cantonese_dev": 2}
    train = tmp_path / "data" / "cantonese_train"
    r1 = babel_recid("101", 1)
    utts = check_data_dir(train)
    assert utts[:2] == [f"{r1}_0000050_0000125", f"{r1}_0000190_0000276"]
    assert read_kaldi_map(train / "segments")[utts[1]] == f"{r1} 1.900 2.755"
    assert read_kaldi_map(train / "text")[utts[0]] == "hello <noise> world"
    assert read_kaldi_map(train / "utt2spk")[utts[0]] == r1
    assert read_kaldi_map(train / "wav.scp")[r1] == str(train_dir / "audio" / f"{r1}.sph")
    skipped = read_kaldi_map(train / "log" / "skipped")
    assert skipped[f"{r1}_0000000_0000050"].startswith("empty after normalisation")
    assert skipped[f"{r1}_0000125_0000190"].startswith("only noise/unk")
    assert skipped[babel_recid("101", 3)].startswith("bad transcription:")
    assert "timestamp [1.500] is earlier" in skipped[babel_recid("101", 3)]
    assert skipped[babel_recid("101", 99)].startswith("audio without transcription")
    assert skipped["BABEL_OP1_101_no_audio"].startswith("transcription without audio")
    assert len(skipped) == 2 * 2 + 3
    assert not speakers(train) & speakers(tmp_path / "data" / "cantonese_dev")
    with pytest.raises(TranscriptionError, match=rf"{babel_recid('101', 3)}\.txt:5"):
        prepare_babel_language("101", "cantonese", corpus / "conversational", policy(),
                               tmp_path / "strict", strict=True)


def test_zero_length_and_colliding_segments_are_skipped(tmp_path):
    lines = ["[0.000]", "a", "[0.500]", "b", "[0.500]", "c", "[1.000]", "d", "[1.004]", "e", "[1.0049]"]
    corpus = make_babel_language(tmp_path / "root", "101", {"training": [lines],
                                                             "dev": [BABEL_TRANSCRIPT]})
    prepare_babel_language("101", "cantonese", corpus / "conversational", policy(), tmp_path / "data")
    r1 = babel_recid("101", 1)
    train = tmp_path / "data" / "cantonese_train"
    # 1.000-1.004 s and 1.004-1.0049 s both round to centiseconds 100-100: the second is skipped.
    assert check_data_dir(train) == [f"{r1}_0000000_0000050", f"{r1}_0000050_0000100",
                                     f"{r1}_0000100_0000100"]
    assert read_kaldi_map(train / "text")[f"{r1}_0000100_0000100"] == "d"
    assert read_kaldi_map(train / "log" / "skipped") == {
        f"{r1}_0000050_0000050": "zero-length segment",
        f"{r1}_0000100_0000100": "duplicate utterance id: a second segment at 1.004-1.0049",
    }


def test_sphere_entries(tmp_path):
    sph = tmp_path / "a.sph"
    soundfile.write(sph, [0.0] * 80, 8000, format="NIST", subtype="ULAW")
    assert wav_scp_entry(sph, None) == str(sph)
    assert wav_scp_entry(sph, "/opt/sph2pipe") == f"/opt/sph2pipe -f wav -p -c 1 {sph} |"
    shorten = tmp_path / "b.sph"
    header = (b"NIST_1A\n   1024\nsample_coding -s26 pcm,embedded-shorten-v2.00\n"
              b"sample_rate -i 8000\nend_head\n")
    shorten.write_bytes(header.ljust(1024, b" ") + b"\x00" * 64)
    with pytest.raises(RuntimeError, match=r"b\.sph is shorten-compressed.*install sph2pipe"):
        wav_scp_entry(shorten, None)
    assert wav_scp_entry(shorten, "sph2pipe").endswith(f"{shorten} |")


def test_babel_data_sh_pretrain_and_finetune(tmp_path):
    root = tmp_path / "babel"
    for lang in ("101", "103", "102"):
        make_babel_language(root, lang, {"training": [BABEL_TRANSCRIPT] * 2,
                                         "dev": [BABEL_TRANSCRIPT]}, seconds=3.0)
    env = {"BABEL_ROOT": str(root)}
    ssl = tmp_path / "ssl1"
    ssl.mkdir()
    shutil.copy(REPO / "egs/babel/ssl1/db.sh", ssl)
    (ssl / "local").symlink_to(REPO / "egs/babel/ssl1/local")
    run(["local/data.sh", "--langs", "101 103"], cwd=ssl, env=env)
    data = ssl / "data"
    multi = check_data_dir(data / "train_multilingual")
    assert len(multi) == 8
    assert set(multi) == set(check_data_dir(data / "cantonese_train")) | set(
        check_data_dir(data / "bengali_train"))
    assert len(check_data_dir(data / "dev_multilingual")) == 4
    assert not speakers(data / "train_multilingual") & speakers(data / "dev_multilingual")
    before = snapshot(data)
    run(["local/data.sh", "--langs", "101 103"], cwd=ssl, env=env)
    assert snapshot(data) == before

    asr = tmp_path / "asr1"
    asr.mkdir()
    shutil.copy(REPO / "egs/babel/asr1/db.sh", asr)
    (asr / "local").symlink_to(REPO / "egs/babel/asr1/local")
    run(["local/data.sh", "--langs", "102"], cwd=asr, env={"BABEL_102": str(root / "BABEL_OP1_102")})
    assert sorted(p.name for p in (asr / "data").iterdir()) == ["assamese_dev", "assamese_train", "local"]
    proc = run(["local/data.sh"], cwd=asr, env={"BABEL_ROOT": ""}, check=False)
    assert proc.returncode != 0 and "BABEL_ROOT is not set" in proc.stderr
    proc = run(["local/data.sh", "--langs", "104"], cwd=asr, env=env, check=False)
    assert proc.returncode != 0 and "set BABEL_104=" in proc.stderr


def test_prepare_then_dump_through_sph2pipe(tmp_path):
    fake = tmp_path / "bin" / "sph2pipe"
    fake.parent.mkdir()
    fake.write_text(f"""#!{sys.executable}
import io, sys, soundfile
data, rate = soundfile.read(sys.argv[-1], dtype="int16")
buf = io.BytesIO()
soundfile.write(buf, data, rate, format="WAV", subtype="PCM_16")
sys.stdout.buffer.write(buf.getvalue())
""")
    fake.chmod(0o755)
    corpus = make_babel_language(tmp_path / "root", "103", {"training": [BABEL_TRANSCRIPT] * 2,
                                                             "dev": [BABEL_TRANSCRIPT]})
    prepare_babel_language("103", "bengali", corpus / "conversational", policy(), tmp_path / "data",
                           sph2pipe=str(fake))
    src = tmp_path / "data" / "bengali_train"
    r1 = babel_recid("103", 1)
    assert read_kaldi_map(src / "wav.scp")[r1].startswith(f"{fake} -f wav -p -c 1 ")
    dst = tmp_path / "dump" / "raw" / "bengali_train"
    run([sys.executable, "-m", "dinosr_espnet.bin.dump_audio", "--nj", "2", src, dst])
    utts = check_data_dir(dst)
    assert utts == check_data_dir(src)
    n = read_kaldi_map(dst / "utt2num_samples")
    # 0.500-1.250 s at 8 kHz = 6000 samples -> 12000 at 16 kHz; 1.900-2.755 s = 6840 -> 13680.
    assert n[f"{r1}_0000050_0000125"] == "12000" and n[f"{r1}_0000190_0000276"] == "13680"
    for utt in utts:
        info = soundfile.info(read_kaldi_map(dst / "wav.scp")[utt])
        assert (info.samplerate, info.channels, info.frames) == (16000, 1, int(n[utt]))
    assert "resampled to 16000 Hz: 4 utts from 8000 Hz" in (dst / "log" / "dump.log").read_text()
