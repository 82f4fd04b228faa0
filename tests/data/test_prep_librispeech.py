"""LibriSpeech and Libri-light preparation: Python prep, local/data.sh wrappers, bad input."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import soundfile

sys.path.insert(0, str(Path(__file__).parent))
from test_prep_fixtures import (  # noqa: E402
    LIBRISPEECH_LAYOUT,
    REPO,
    check_data_dir,
    make_librilight,
    make_librispeech,
    run,
    snapshot,
    speakers,
    write_audio,
)

from dinosr_espnet.data.dump import dump_data_dir  # noqa: E402
from dinosr_espnet.data.dump_worker import DumpOptions  # noqa: E402
from dinosr_espnet.data.kaldi_dir import read_kaldi_map  # noqa: E402
from dinosr_espnet.data.librilight import prepare_librilight  # noqa: E402
from dinosr_espnet.data.librispeech import prepare_librispeech  # noqa: E402

LS_RECIPE = REPO / "egs" / "librispeech" / "ssl1"
LL_RECIPE = REPO / "egs" / "librilight" / "asr1"


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> tuple[Path, dict, dict]:
    root = tmp_path_factory.mktemp("corpora")
    return root, make_librispeech(root), make_librilight(root)


def recipe_copy(tmp_path: Path, recipe: Path) -> Path:
    """A recipe dir (db.sh + local/) placed like egs/<corpus>/<recipe> so utils/ resolves."""
    dst = REPO / "egs" / recipe.parent.name / recipe.name
    work = tmp_path / "recipe"
    work.mkdir()
    shutil.copy(dst / "db.sh", work / "db.sh")
    (work / "local").symlink_to(dst / "local")
    return work


def test_prepare_librispeech_parts(corpora, tmp_path):
    root, ls_texts, _ = corpora
    counts = prepare_librispeech(root, list(LIBRISPEECH_LAYOUT), tmp_path / "data")
    assert counts == {"train_clean_100": 4, "train_clean_360": 2, "train_other_500": 2,
                      "dev_clean": 3, "dev_other": 2, "test_clean": 2, "test_other": 2}
    dev = tmp_path / "data" / "dev_clean"
    # C order puts "1272-..." before "84-..." (byte '1' < '8').
    assert check_data_dir(dev) == ["1272-128104-0000", "84-121123-0000", "84-121123-0001"]
    assert read_kaldi_map(dev / "text") == ls_texts["dev-clean"]
    assert read_kaldi_map(dev / "utt2spk")["84-121123-0001"] == "84-121123"
    assert (dev / "spk2utt").read_text() == (
        "1272-128104 1272-128104-0000\n84-121123 84-121123-0000 84-121123-0001\n")
    wav = read_kaldi_map(dev / "wav.scp")["84-121123-0000"]
    assert wav == str(root / "LibriSpeech/dev-clean/84/121123/84-121123-0000.flac")
    assert (dev / "log" / "skipped").read_text() == ""


def test_librispeech_data_sh_combines_and_is_idempotent(corpora, tmp_path):
    root, ls_texts, _ = corpora
    work = recipe_copy(tmp_path, LS_RECIPE)
    run(["local/data.sh"], cwd=work, env={"LIBRISPEECH": str(root)})
    data = work / "data"
    train = check_data_dir(data / "train_960")
    expected_train = {u for p in ("train-clean-100", "train-clean-360", "train-other-500")
                      for u in ls_texts[p]}
    assert set(train) == expected_train and len(train) == 8
    assert set(check_data_dir(data / "dev")) == set(ls_texts["dev-clean"]) | set(ls_texts["dev-other"])
    for held_out in ("dev_clean", "dev_other", "test_clean", "test_other"):
        assert not speakers(data / "train_960") & speakers(data / held_out)
    before = snapshot(data)
    run(["local/data.sh"], cwd=work, env={"LIBRISPEECH": str(root)})
    assert snapshot(data) == before


@pytest.mark.parametrize("value, message", [
    (None, "LIBRISPEECH is not set"),
    ("/nonexistent/path", "LIBRISPEECH=/nonexistent/path is not a directory"),
    ("/tmp", "fix LIBRISPEECH in db.sh"),
])
def test_data_sh_names_the_db_variable(tmp_path, value, message):
    work = recipe_copy(tmp_path, LS_RECIPE)
    env = {"LIBRISPEECH": value} if value else {"LIBRISPEECH": ""}
    proc = run(["local/data.sh"], cwd=work, env=env, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_librilight_sets(corpora, tmp_path):
    root, _, ll_texts = corpora
    counts = prepare_librilight(root, ["train_10min", "train_1h", "train_10h"], tmp_path / "data")
    assert counts == {"train_10min": 2, "train_1h": 12, "train_10h": 14}
    ten_min = check_data_dir(tmp_path / "data" / "train_10min")
    assert set(ten_min) == set(ll_texts["1h/0/clean"]) | set(ll_texts["1h/0/other"])
    one_h = set(check_data_dir(tmp_path / "data" / "train_1h"))
    ten_h = set(check_data_dir(tmp_path / "data" / "train_10h"))
    assert set(ten_min) < one_h < ten_h
    assert ten_h - one_h == set(ll_texts["9h/clean"]) | set(ll_texts["9h/other"])


def test_librilight_data_sh(corpora, tmp_path):
    root, ls_texts, _ = corpora
    work = recipe_copy(tmp_path, LL_RECIPE)
    env = {"LIBRISPEECH": str(root), "LIBRILIGHT_LIMITED": str(root)}
    run(["local/data.sh"], cwd=work, env=env)
    data = work / "data"
    for name in ("train_10min", "train_1h", "train_10h", "train_100h", "dev", "test_other"):
        check_data_dir(data / name)
    assert (data / "train_100h" / "text").read_bytes() == (data / "train_clean_100" / "text").read_bytes()
    assert not (data / "train_960").exists()
    for held_out in ("dev", "test_clean", "test_other"):
        assert not speakers(data / "train_10h") & speakers(data / held_out)
    proc = run(["local/data.sh"], cwd=work, env={"LIBRISPEECH": str(root)}, check=False)
    assert proc.returncode != 0 and "LIBRILIGHT_LIMITED is not set" in proc.stderr


def broken_part(tmp_path: Path) -> Path:
    """A dev-clean part with one flaw per chapter."""
    root = tmp_path / "corpus"
    make_librispeech(root, {"dev-clean": {("1", "10"): 3, ("2", "20"): 2}})
    part = root / "LibriSpeech" / "dev-clean"
    (part / "1" / "10" / "1-10-0001.flac").unlink()                      # transcript, no audio
    write_audio(part / "2" / "20" / "2-20-0007.flac", 0.2)               # audio, no transcript
    trans = part / "2" / "20" / "2-20.trans.txt"
    trans.write_text(trans.read_text() + "2-20-0002\n")                  # empty transcript
    write_audio(part / "2" / "20" / "2-20-0002.flac", 0.2)
    return root


def test_bad_librispeech_input_is_counted_and_listed(tmp_path):
    root = broken_part(tmp_path)
    counts = prepare_librispeech(root, ["dev-clean"], tmp_path / "data")
    assert counts == {"dev_clean": 4}
    out = tmp_path / "data" / "dev_clean"
    assert check_data_dir(out) == ["1-10-0000", "1-10-0002", "2-20-0000", "2-20-0001"]
    skipped = read_kaldi_map(out / "log" / "skipped")
    assert sorted(skipped) == ["1-10-0001", "2-20-0002", "2-20-0007"]
    assert skipped["1-10-0001"].startswith("no audio")
    assert skipped["2-20-0002"].startswith("empty transcript")
    assert skipped["2-20-0007"].startswith("no transcript")


def test_non_utf8_transcript_is_an_error_naming_file_and_line(tmp_path):
    root = tmp_path / "corpus"
    make_librispeech(root, {"dev-clean": {("1", "10"): 2}})
    trans = root / "LibriSpeech" / "dev-clean" / "1" / "10" / "1-10.trans.txt"
    trans.write_bytes(trans.read_bytes() + b"1-10-0002 CAF\xe9\n")
    with pytest.raises(ValueError, match=r"1-10\.trans\.txt:3: not valid UTF-8"):
        prepare_librispeech(root, ["dev-clean"], tmp_path / "data")
    proc = run([sys.executable, "-m", "dinosr_espnet.bin.prepare_librispeech", "--root", root,
                "--parts", "dev-clean", "--out", tmp_path / "data"], check=False)
    assert proc.returncode == 1 and "not valid UTF-8" in proc.stderr and "Traceback" not in proc.stderr


def test_malformed_ids_and_missing_parts_are_errors(tmp_path):
    root = tmp_path / "corpus"
    make_librispeech(root, {"dev-clean": {("1", "10"): 1}})
    with pytest.raises(FileNotFoundError, match="part 'test-other' not found"):
        prepare_librispeech(root, ["test-other"], tmp_path / "data")
    trans = root / "LibriSpeech" / "dev-clean" / "1" / "10" / "1-10.trans.txt"
    trans.write_text("9-99-0000 WRONG SPEAKER\n")
    with pytest.raises(ValueError, match=r"1-10\.trans\.txt:1: utterance '9-99-0000' does not start"):
        prepare_librispeech(root, ["dev-clean"], tmp_path / "data")


def test_prepare_then_dump(corpora, tmp_path):
    root, ls_texts, ll_texts = corpora
    prepare_librispeech(root, ["dev-other"], tmp_path / "data")
    prepare_librilight(root, ["train_10min"], tmp_path / "data")
    for name in ("dev_other", "train_10min"):
        src = tmp_path / "data" / name
        dst = tmp_path / "dump" / "raw" / name
        dump_data_dir(src, str(dst), DumpOptions(), nj=2, chunk_size=1)
        utts = check_data_dir(dst)
        assert utts == check_data_dir(src)
        sources = read_kaldi_map(src / "wav.scp")
        for utt, n in read_kaldi_map(dst / "utt2num_samples").items():
            dumped = read_kaldi_map(dst / "wav.scp")[utt]
            assert int(n) == soundfile.info(sources[utt]).frames == soundfile.info(dumped).frames
        assert (dst / "text").read_bytes() == (src / "text").read_bytes()
    assert set(read_kaldi_map(tmp_path / "dump/raw/train_10min/text")) == (
        set(ll_texts["1h/0/clean"]) | set(ll_texts["1h/0/other"]))
