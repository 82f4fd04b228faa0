"""The recipes' local/data.sh and dump_audio on the generated CI corpus (`ci_corpus` fixture).

The generator writes the real on-disk layouts plus frame-level (100 Hz) alignments keyed by
utterance id, so the prepared ids and the dumped lengths can be checked against it exactly.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_prep_fixtures import REPO, check_data_dir, run, speakers  # noqa: E402

from dinosr_espnet.data.babel import load_languages  # noqa: E402
from dinosr_espnet.data.kaldi_dir import read_kaldi_map  # noqa: E402

LS_PARTS = ("train_clean_100", "train_clean_360", "train_other_500", "dev_clean", "dev_other",
            "test_clean", "test_other")


def alignment_frames(path: Path) -> dict[str, int]:
    """uttid -> number of 10 ms labels in a generator `.phn` file."""
    result = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        utt, labels = line.split("\t")
        result[utt] = len(labels.split(","))
    return result


def recipe(tmp_path: Path, name: str) -> Path:
    work = tmp_path / name.replace("/", "_")
    work.mkdir()
    shutil.copy(REPO / "egs" / name / "db.sh", work / "db.sh")
    (work / "local").symlink_to(REPO / "egs" / name / "local")
    return work


def dump(work: Path, name: str) -> Path:
    run([sys.executable, "-m", "dinosr_espnet.bin.dump_audio", "--nj", "2", f"data/{name}",
         f"dump/raw/{name}"], cwd=work)
    return work / "dump" / "raw" / name


def test_librispeech_recipe(ci_corpus, tmp_path):
    work = recipe(tmp_path, "librispeech/ssl1")
    run(["local/data.sh"], cwd=work, env={"LIBRISPEECH": str(ci_corpus)})
    data = work / "data"
    total = 0
    for part in LS_PARTS:
        utts = check_data_dir(data / part)
        flacs = {p.stem for p in (ci_corpus / "LibriSpeech" / part.replace("_", "-")).rglob("*.flac")}
        assert set(utts) == flacs == set(alignment_frames(ci_corpus / f"alignments/librispeech/{part}.phn"))
        assert (data / part / "log" / "skipped").read_text() == ""
        total += len(utts) if part.startswith("train") else 0
    assert len(check_data_dir(data / "train_960")) == total
    for held_out in ("dev", "test_clean", "test_other"):
        assert not speakers(data / "train_960") & speakers(data / held_out)
    out = dump(work, "dev_clean")
    frames = alignment_frames(ci_corpus / "alignments/librispeech/dev_clean.phn")
    assert {u: int(n) for u, n in read_kaldi_map(out / "utt2num_samples").items()} == {
        u: 160 * f for u, f in frames.items()}


def test_librilight_recipe(ci_corpus, tmp_path):
    work = recipe(tmp_path, "librilight/asr1")
    run(["local/data.sh"], cwd=work, env={"LIBRISPEECH": str(ci_corpus),
                                          "LIBRILIGHT_LIMITED": str(ci_corpus)})
    data = work / "data"
    per_fold = json.loads((ci_corpus / "manifest.json").read_text())["request"]["librilight_utts_per_fold"]
    ten_min, one_h, ten_h = (set(check_data_dir(data / s)) for s in ("train_10min", "train_1h", "train_10h"))
    assert len(ten_min) == 2 * per_fold and len(one_h) == 12 * per_fold
    assert len(ten_h) == 12 * per_fold + 2 * 54 * per_fold
    assert ten_min < one_h < ten_h
    assert (data / "train_100h" / "wav.scp").read_bytes() == (data / "train_clean_100" / "wav.scp").read_bytes()
    assert not speakers(data / "train_10h") & (speakers(data / "dev") | speakers(data / "test_other"))
    out = dump(work, "train_10min")
    assert check_data_dir(out) == sorted(ten_min)


@pytest.mark.parametrize("name, group", [("babel/ssl1", "pretrain"), ("babel/asr1", "finetune")])
def test_babel_recipes(ci_corpus, tmp_path, name, group):
    names, groups = load_languages(REPO / "conf" / "babel_languages.yaml")
    generated = {str(i) for i in json.loads((ci_corpus / "manifest.json").read_text())["request"]["babel_languages"]}
    langs = [i for i in groups[group] if i in generated]
    assert langs, f"the CI corpus has no {group} language"
    work = recipe(tmp_path, name)
    env = {"BABEL_ROOT": str(ci_corpus / "babel")}
    run(["local/data.sh", "--langs", " ".join(langs)], cwd=work, env=env)
    data = work / "data"
    for lang in langs:
        for split, suffix in (("training", "train"), ("dev", "dev"), ("eval", "eval")):
            set_dir = data / f"{names[lang]}_{suffix}"
            utts = set(check_data_dir(set_dir))
            skipped = set(read_kaldi_map(set_dir / "log" / "skipped"))
            # Every generated segment is either prepared or listed as skipped, under the shared id.
            assert utts | skipped == set(alignment_frames(ci_corpus / f"alignments/babel/{lang}_{split}.phn"))
            assert utts and not utts & skipped
        assert not speakers(data / f"{names[lang]}_train") & speakers(data / f"{names[lang]}_dev")
    if group == "pretrain":
        multi = set(check_data_dir(data / "train_multilingual"))
        assert multi == set().union(*(check_data_dir(data / f"{names[i]}_train") for i in langs))
    else:
        assert not (data / "train_multilingual").exists()
    set_name = f"{names[langs[0]]}_train"
    out = dump(work, set_name)
    frames = alignment_frames(ci_corpus / f"alignments/babel/{langs[0]}_training.phn")
    for utt, n in read_kaldi_map(out / "utt2num_samples").items():
        start_cs, end_cs = (int(x) for x in utt.rsplit("_", 2)[1:])
        assert int(n) == 160 * (end_cs - start_cs) == 160 * frames[utt]
