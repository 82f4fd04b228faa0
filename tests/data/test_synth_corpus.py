"""The generated CI corpus: layout, audio formats, transcripts, alignments, items, speakers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dinosr_espnet.data.synth.config import BABEL_SPLITS, CONF_DIR, LIBRISPEECH_SPLITS, resolve_request
from dinosr_espnet.data.synth.generate import generate_corpus
from dinosr_espnet.data.synth.labels import ITEM_HEADER
from dinosr_espnet.data.synth.wordlists import load_languages

TIMESTAMP = re.compile(r"^\[(\d+\.\d{3})\]$")


def _trans(root: Path) -> dict[str, tuple[str, Path]]:
    """uttid -> (text, flac path) for every trans.txt line under root."""
    out = {}
    for trans in sorted(root.rglob("*.trans.txt")):
        for line in trans.read_text(encoding="utf-8").splitlines():
            uttid, text = line.split(" ", 1)
            out[uttid] = (text, trans.parent / f"{uttid}.flac")
    return out


def _phn(path: Path) -> dict[str, list[str]]:
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        uid, labels = line.split("\t")
        rows[uid] = labels.split(",")
    return rows


def _babel_dirs(root: Path) -> list[Path]:
    return sorted((root / "babel").iterdir())


def test_librispeech_layout_and_transcripts_match_audio(ci_corpus):
    ls = ci_corpus / "LibriSpeech"
    assert (ls / "LICENSE.TXT").is_file()
    for split in LIBRISPEECH_SPLITS:
        utts = _trans(ls / split)
        assert utts, split
        flacs = {p.stem for p in (ls / split).rglob("*.flac")}
        assert flacs == set(utts), f"{split}: trans.txt and FLAC files differ"
        for uttid, (text, path) in utts.items():
            spk, chapter, utt4 = uttid.split("-")
            assert path == ls / split / spk / chapter / f"{uttid}.flac" and len(utt4) == 4
            assert re.fullmatch(r"[A-Z']+( [A-Z']+)*", text), text


def test_flac_is_16khz_mono_pcm16(ci_corpus):
    for path in sorted((ci_corpus / "LibriSpeech").rglob("*.flac"))[::7]:
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.format, info.subtype) == (
            16000,
            1,
            "FLAC",
            "PCM_16",
        ), path


def test_speakers_txt_lists_every_speaker_once_per_subset(ci_corpus):
    rows = [
        [c.strip() for c in line.split("|")]
        for line in (ci_corpus / "LibriSpeech" / "SPEAKERS.TXT").read_text().splitlines()
        if not line.startswith(";")
    ]
    listed = {(r[0], r[2]) for r in rows}
    for split in LIBRISPEECH_SPLITS:
        for spk in (ci_corpus / "LibriSpeech" / split).iterdir():
            assert (spk.name, split) in listed
    assert all(r[1] in ("M", "F") and float(r[3]) > 0 for r in rows)


def test_speakers_are_disjoint_between_splits(ci_corpus):
    spk = {s: {p.name for p in (ci_corpus / "LibriSpeech" / s).iterdir()} for s in LIBRISPEECH_SPLITS}
    for i, a in enumerate(LIBRISPEECH_SPLITS):
        for b in LIBRISPEECH_SPLITS[i + 1 :]:
            assert not spk[a] & spk[b], (a, b)
    for lang_dir in _babel_dirs(ci_corpus):
        per_split = {
            split: {
                p.stem.split("_")[3] for p in (lang_dir / "conversational" / split / "audio").glob("*.wav")
            }
            for split in BABEL_SPLITS
        }
        assert not per_split["training"] & (per_split["dev"] | per_split["eval"]), lang_dir.name
        assert not per_split["dev"] & per_split["eval"], lang_dir.name


def test_other_sets_are_noisier_than_clean_sets(ci_corpus):
    """Frame-level SNR estimate from the alignments: speech energy over silence energy."""

    def snr(split: str) -> float:
        rows = _phn(ci_corpus / "alignments" / "librispeech" / f"{split.replace('-', '_')}.phn")
        values = []
        for uttid, (_, path) in _trans(ci_corpus / "LibriSpeech" / split).items():
            x, _ = sf.read(path)
            frames = (x[: len(rows[uttid]) * 160].reshape(-1, 160) ** 2).mean(axis=1)
            sil = np.array([lab == "sil" for lab in rows[uttid]])
            values.append(10 * np.log10(frames[~sil].mean() / max(frames[sil].mean(), 1e-12)))
        return float(np.mean(values))

    assert snr("dev-clean") > snr("dev-other") + 10
    assert snr("test-clean") > snr("test-other") + 10


def test_finetuning_tree_is_a_1_to_9_subset_of_train(ci_corpus):
    ft = ci_corpus / "librispeech_finetuning"
    train = {}
    for split in ("train-clean-100", "train-clean-360", "train-other-500"):
        train.update(_trans(ci_corpus / "LibriSpeech" / split))
    one_hour = {}
    for k in range(6):
        for cond in ("clean", "other"):
            utts = _trans(ft / "1h" / str(k) / cond)
            assert utts, f"1h/{k}/{cond}"
            one_hour.update(utts)
    nine_hour = {**_trans(ft / "9h" / "clean"), **_trans(ft / "9h" / "other")}
    assert len(nine_hour) == 9 * len(one_hour) and not set(one_hour) & set(nine_hour)
    for uttid, (text, path) in {**one_hour, **nine_hour}.items():
        assert train[uttid][0] == text
        assert path.read_bytes() == train[uttid][1].read_bytes()


def test_librispeech_alignments_have_one_label_per_10ms(ci_corpus):
    for split in LIBRISPEECH_SPLITS:
        rows = _phn(ci_corpus / "alignments" / "librispeech" / f"{split.replace('-', '_')}.phn")
        utts = _trans(ci_corpus / "LibriSpeech" / split)
        assert set(rows) == set(utts), split
        for uttid, (_, path) in utts.items():
            frames = sf.info(path).frames
            assert abs(len(rows[uttid]) - round(frames / 16000 * 100)) <= 1, uttid
            assert rows[uttid][0] == rows[uttid][-1] == "sil"
            assert sum(lab != "sil" for lab in rows[uttid]) > len(rows[uttid]) // 4


def test_abx_items_point_into_dev_test_utterances(ci_corpus):
    for split in ("dev-clean", "dev-other", "test-clean", "test-other"):
        name = split.replace("-", "_")
        lines = (ci_corpus / "abx" / f"{name}.item").read_text(encoding="utf-8").splitlines()
        assert lines[0] + "\n" == ITEM_HEADER and len(lines) > 10
        utts = _trans(ci_corpus / "LibriSpeech" / split)
        rows = _phn(ci_corpus / "alignments" / "librispeech" / f"{name}.phn")
        for line in lines[1:]:
            uttid, onset, offset, phone, prev, nxt, spk = line.split(" ")
            onset, offset = float(onset), float(offset)
            assert uttid in utts and spk == uttid.split("-")[0]
            assert 0 <= onset < offset <= sf.info(utts[uttid][1]).duration
            assert "sil" not in (phone, prev, nxt)
            labels = rows[uttid][int(onset * 100) : int(np.ceil(offset * 100))]
            assert phone in labels and prev in labels and nxt in labels, line


def test_babel_layout_audio_and_transcriptions(ci_corpus):
    manifest = json.loads((ci_corpus / "manifest.json").read_text())
    table = {lang.id: lang for lang in load_languages(CONF_DIR / "babel_languages.yaml")}
    langs = [table[i] for i in manifest["request"]["babel_languages"]]
    assert (
        sum(lang.role == "pretrain" for lang in langs) >= 6
        and sum(lang.role == "finetune" for lang in langs) >= 2
    )
    assert [p.name for p in _babel_dirs(ci_corpus)] == sorted(lang.dirname for lang in langs)
    for lang in langs:
        conv = ci_corpus / "babel" / lang.dirname / "conversational"
        lexicon = (conv / "reference_materials" / "lexicon.txt").read_text(encoding="utf-8").splitlines()
        words = {line.split("\t")[0] for line in lexicon}
        assert all(len(line.split("\t")) == 2 and line.split("\t")[1] for line in lexicon)
        for split in BABEL_SPLITS:
            wavs = sorted((conv / split / "audio").glob("*.wav"))
            assert len(wavs) == manifest["request"]["babel"][split]["recordings"]
            for wav in wavs:
                info = sf.info(wav)
                assert (info.samplerate, info.channels, info.subtype) == (8000, 1, "PCM_16")
                lines = (
                    (conv / split / "transcription" / f"{wav.stem}.txt")
                    .read_text(encoding="utf-8")
                    .splitlines()
                )
                times = [float(TIMESTAMP.match(t).group(1)) for t in lines[0::2]]
                texts = lines[1::2]
                assert len(times) == len(texts) + 1 and times[0] == 0.0
                assert all(a < b for a, b in zip(times, times[1:]))
                assert times[-1] == pytest.approx(info.frames / 8000, abs=1e-6)
                assert texts[0] == texts[-1] == "<no-speech>"
                for text in texts[1::2]:
                    tokens = [
                        t for t in text.split() if t not in {"<hes>", "(())", "~"} and not t.startswith("<")
                    ]
                    assert tokens and set(tokens) <= words, text


def test_babel_alignments_cover_every_segment(ci_corpus):
    for lang_dir in _babel_dirs(ci_corpus):
        lang_id = lang_dir.name.split("_")[0]
        for split in BABEL_SPLITS:
            rows = _phn(ci_corpus / "alignments" / "babel" / f"{lang_id}_{split}.phn")
            expected = set()
            for txt in (lang_dir / "conversational" / split / "transcription").glob("*.txt"):
                lines = txt.read_text(encoding="utf-8").splitlines()
                times = [round(float(t[1:-1]) * 100) for t in lines[0::2]]
                for start, end, text in zip(times, times[1:], lines[1::2]):
                    uid = f"{txt.stem}_{start:07d}_{end:07d}"
                    expected.add(uid)
                    assert len(rows[uid]) == end - start
                    if text == "<no-speech>":
                        assert set(rows[uid]) == {"sil"}
                    else:
                        assert set(rows[uid]) - {"sil", "nsn", "hes"}, uid
            assert set(rows) == expected


def test_lm_text_excludes_dev_test_and_lexicon_covers_all_words(ci_corpus):
    lm = (ci_corpus / "lm" / "librispeech-lm-norm.txt").read_text().splitlines()
    assert len(lm) == json.loads((ci_corpus / "manifest.json").read_text())["counts"]["lm_sentences"]
    held_out = set()
    vocab = set()
    for split in LIBRISPEECH_SPLITS:
        texts = [t for t, _ in _trans(ci_corpus / "LibriSpeech" / split).values()]
        vocab.update(w for t in texts for w in t.split())
        if not split.startswith("train"):
            held_out.update(texts)
    assert not held_out & set(lm)
    vocab.update(w for line in lm for w in line.split())
    lexicon = {}
    for line in (ci_corpus / "lm" / "librispeech-lexicon.txt").read_text().splitlines():
        word, spelling = line.split("\t")
        lexicon[word] = spelling
    assert vocab <= set(lexicon)
    assert lexicon["THE"] == "T H E"


def test_manifest_counts_and_idempotent_rerun(ci_corpus):
    manifest = json.loads((ci_corpus / "manifest.json").read_text())
    assert manifest["seed"] == 0 and manifest["size"] == "ci"
    for split in LIBRISPEECH_SPLITS:
        assert manifest["counts"]["librispeech"][split]["utterances"] == len(
            _trans(ci_corpus / "LibriSpeech" / split)
        )
    stamp = (ci_corpus / "manifest.json").stat().st_mtime_ns
    assert generate_corpus(ci_corpus, resolve_request("ci", seed=0)) == manifest
    assert (ci_corpus / "manifest.json").stat().st_mtime_ns == stamp


def test_refuses_to_overwrite_other_data(ci_corpus, tmp_path):
    (tmp_path / "LibriSpeech").mkdir()
    with pytest.raises(FileExistsError, match="not a generated corpus"):
        generate_corpus(tmp_path, resolve_request("ci"))
    with pytest.raises(FileExistsError, match="differs in: .*seed"):
        generate_corpus(ci_corpus, resolve_request("ci", seed=1))


def test_same_seed_gives_byte_identical_corpora(tmp_path):
    """A small request generated twice (1 and 2 workers) gives the same bytes everywhere."""
    request = resolve_request(
        "ci", corpora=["librispeech", "babel"], speakers=1, utts_per_speaker=2, languages=["101"]
    )
    a, b = tmp_path / "a", tmp_path / "b"
    generate_corpus(a, request, nj=1)
    generate_corpus(b, request, nj=2)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert any(p.suffix == ".flac" for p in files_a) and any(p.suffix == ".wav" for p in files_a)
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
