"""RESULTS.md writer parts: the per-utterance scoring file and the environment block."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dinosr_espnet.bin.score_utterances import main as score_utterances
from dinosr_espnet.decode.environment import environment_block
from dinosr_espnet.decode.utterance_scores import utterance_report


def test_cer_blocks_align_characters_and_mark_errors():
    text = utterance_report({"b": "ab c", "a": "xy"}, {"b": "ab", "a": "xzy"}, "cer")
    header, first, second = text.split("\n\n")[:3]
    assert header.startswith("# CER per utterance (characters): CER 50.00% (S=0 D=2 I=1 N=6;")
    assert first.splitlines() == [  # sorted by id
        "id: (a)", "Scores: (#C #S #D #I) 2 0 0 1",
        "REF:  x *** y", "HYP:  x z   y", "Eval:   I"]
    assert second.splitlines() == [
        "id: (b)", "Scores: (#C #S #D #I) 2 0 2 0",
        "REF:  a b <space> c", "HYP:  a b ***     ***", "Eval:     D       D"]


def test_mismatched_utterances_are_one_line_errors(tmp_path, capsys):
    (tmp_path / "ref").write_text("u1 A B\nu2 C\n")
    (tmp_path / "hyp").write_text("u1 A B\n")
    assert score_utterances(["--ref", str(tmp_path / "ref"), "--hyp", str(tmp_path / "hyp"),
                             "--out", str(tmp_path / "out.txt")]) == 1
    assert not (tmp_path / "out.txt").exists()
    with pytest.raises(ValueError, match=r"1 utterances have no hypothesis, e.g. 'u2'"):
        utterance_report({"u1": "A", "u2": "C"}, {"u1": "A"}, "wer")


def test_environment_block_names_versions_and_commit(tmp_path):
    import espnet
    import torch

    lines = environment_block(date="Mon Jan 1 00:00:00 UTC 2029")
    assert lines[:2] == ["## Environments", "- date: `Mon Jan 1 00:00:00 UTC 2029`"]
    assert f"- pytorch version: `pytorch {torch.__version__}`" in lines
    assert f"- espnet version: `espnet {espnet.__version__}`" in lines
    assert lines[2].startswith(f"- python version: `{sys.version.split()[0]}")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    assert any(line.startswith(f"- Git hash: `{commit}`") for line in lines)
    assert "- Git hash: `not a git checkout`" in environment_block(repo=tmp_path)
