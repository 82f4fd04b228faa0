"""KenLM LM building (lmplz/build_binary), clear failures without it, and the CLIs."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

import kaldiio
import pytest
from decode_fixtures import LM_SENTENCES, TOKENS, cat_or_car

from dinosr_espnet.bin import ctc_decode, score, train_lm
from dinosr_espnet.decode import kenlm_build
from dinosr_espnet.decode.kenlm_build import KenLMNotFoundError, find_kenlm_program

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "utils" / "install_kenlm.sh"


def _kenlm_bin() -> Path:
    try:
        return find_kenlm_program("lmplz").parent
    except KenLMNotFoundError:
        pytest.skip("KenLM's lmplz is not built: run utils/install_kenlm.sh --install-deps")


@pytest.fixture()
def dev_set(tmp_path):
    """Emissions of one "THE CA? SAT" utterance, its token list and reference."""
    (tmp_path / "tokens.txt").write_text("".join(t + "\n" for t in TOKENS))
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path / 'e.ark'},{tmp_path / 'e.scp'}") as w:
        w["utt1"] = cat_or_car()
    (tmp_path / "text").write_text("utt1 THE CAT SAT\n")
    (tmp_path / "lm.txt").write_text("".join(s + "\n" for s in LM_SENTENCES * 20))
    return tmp_path


def test_missing_lmplz_names_install_script_and_packages(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(KenLMNotFoundError,
                       match=r"lmplz not found in .*empty.*utils/install_kenlm.sh"):
        find_kenlm_program("lmplz", empty)
    monkeypatch.setattr(kenlm_build, "missing_build_packages",
                        lambda: ["libboost-thread-dev", "liblzma-dev"])
    with pytest.raises(KenLMNotFoundError,
                       match="missing Debian packages: libboost-thread-dev liblzma-dev"):
        find_kenlm_program("lmplz", empty)
    monkeypatch.setenv("KENLM_BIN", str(empty))
    with pytest.raises(KenLMNotFoundError, match="empty"):
        find_kenlm_program("build_binary")


def test_train_lm_fails_clearly_viterbi_still_works(dev_set, monkeypatch, caplog):
    empty = dev_set / "empty"
    empty.mkdir()
    monkeypatch.setenv("KENLM_BIN", str(empty))
    with caplog.at_level(logging.ERROR):
        rc = train_lm.main(["--text", str(dev_set / "lm.txt"), "--out", str(dev_set / "lm")])
    assert rc == 1
    assert "lmplz not found" in caplog.text and "utils/install_kenlm.sh" in caplog.text
    hyp = dev_set / "hyp.txt"
    assert ctc_decode.main(["--emissions", str(dev_set / "e.scp"), "--tokens",
                            str(dev_set / "tokens.txt"), "--out", str(hyp)]) == 0
    assert hyp.read_text() == "utt1 THE CAR SAT\n"


def test_train_lm_decode_and_score(dev_set, capsys):
    kenlm_bin = _kenlm_bin()
    out = dev_set / "lm"
    assert train_lm.main(["--text", str(dev_set / "lm.txt"), "--order", "4", "--out", str(out),
                          "--memory", "64M", "--kenlm_bin", str(kenlm_bin)]) == 0
    arpa = (out / "4gram.arpa").read_text()
    assert "ngram 4=" in arpa and "\tCAT SAT ON THE" in arpa
    assert (out / "4gram.bin").stat().st_size > 0
    lexicon = (out / "lexicon.txt").read_text().splitlines()
    assert "CAT C A T |" in lexicon and "CAR C A R |" in lexicon and len(lexicon) == 8
    hyp = dev_set / "hyp.txt"
    common = ["--emissions", str(dev_set / "e.scp"), "--tokens", str(dev_set / "tokens.txt"),
              "--lexicon", str(out / "lexicon.txt"), "--out", str(hyp), "--beam", "50"]
    assert ctc_decode.main(common + ["--lm", str(out / "4gram.bin"), "--lm_weight", "2",
                                     "--word_score", "-1"]) == 0
    assert hyp.read_text() == "utt1 THE CAT SAT\n"
    assert ctc_decode.main(common + ["--lm_weight", "0"]) == 0  # lexicon only, zero LM
    assert hyp.read_text() == "utt1 THE CAR SAT\n"
    md = dev_set / "RESULTS.md"
    assert score.main(["--ref", str(dev_set / "text"), "--hyp", str(hyp), "--set-name", "dev",
                       "--results", str(md)]) == 0
    assert "|dev|1|3|66.7|33.3|0.0|0.0|33.3|100.0|" in md.read_text()
    # an existing ARPA (the official LibriSpeech 4-gram route): binarise + lexicon
    assert train_lm.main(["--arpa", str(out / "4gram.arpa"), "--out", str(dev_set / "lm2"),
                          "--memory", "64M", "--kenlm_bin", str(kenlm_bin)]) == 0
    assert (dev_set / "lm2" / "4gram.bin").is_file()
    assert (dev_set / "lm2" / "lexicon.txt").read_text() == (out / "lexicon.txt").read_text()


def test_install_script_help_and_idempotent(tmp_path):
    help_text = subprocess.run(["bash", str(INSTALL), "--help"], capture_output=True, text=True,
                               check=True).stdout
    assert "--install-deps" in help_text and "PREFIX" in help_text
    kenlm_bin = _kenlm_bin()
    (tmp_path / "bin").mkdir()
    for name in ("lmplz", "build_binary"):
        shutil.copy2(kenlm_bin / name, tmp_path / "bin" / name)
    done = subprocess.run(["bash", str(INSTALL), str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0 and "already installed" in done.stdout


def test_install_script_names_missing_package(tmp_path):
    """Without cmake on PATH (and no --install-deps) the script stops naming the package."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/bin"):
        for name in os.listdir(directory) if os.path.isdir(directory) else []:
            if name != "cmake" and not (fake_bin / name).exists():
                (fake_bin / name).symlink_to(Path(directory) / name)
    env = {"PATH": str(fake_bin), "HOME": str(tmp_path)}
    run = subprocess.run(["bash", str(INSTALL), str(tmp_path / "prefix")], capture_output=True,
                         text=True, env=env)
    assert run.returncode == 1
    assert "apt-get install cmake" in run.stderr
    assert not (tmp_path / "prefix").exists()
