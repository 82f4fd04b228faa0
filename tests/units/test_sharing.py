"""Multilingual codeword sharing on hand-computable cases and through the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dinosr_espnet.bin.codeword_sharing import main as sharing_main
from dinosr_espnet.bin.extract import main as extract_main
from dinosr_espnet.eval.sharing import codeword_counts, sharing_counts, sharing_markdown
from dinosr_espnet.eval.units import read_units
from dinosr_espnet.inference import DinoSRResult

# 3 languages, 2 codebooks of 4 codewords: frames per codeword.
COUNTS = {
    "A": np.array([[5, 0, 1, 0], [1, 1, 1, 1]]),
    "B": np.array([[2, 3, 0, 0], [0, 0, 0, 4]]),
    "C": np.array([[1, 0, 0, 0], [0, 0, 0, 9]]),
}


def test_hand_computed_table():
    # min_count 1 -- codebook 0: cw0 in A,B,C (3), cw1 in B (1), cw2 in A (1), cw3 nowhere (0)
    #               codebook 1: cw0, cw1, cw2 in A only (1 each), cw3 in A,B,C (3)
    assert sharing_counts(COUNTS).tolist() == [[1, 2, 0, 1], [0, 3, 0, 1]]
    # min_count 2 -- codebook 0: cw0 in A,B (2), cw1 in B (1), cw2, cw3 nowhere
    #               codebook 1: cw3 in B,C (2), the rest nowhere
    assert sharing_counts(COUNTS, min_count=2).tolist() == [[2, 1, 1, 0], [3, 0, 1, 0]]
    text = sharing_markdown(sharing_counts(COUNTS), [11, 12], ["A", "B", "C"],
                            {lang: (c >= 1).sum(1).tolist() for lang, c in COUNTS.items()})
    assert "| layer | unused | n=1 | n=2 | n=3 |" in text
    assert "| 11 | 25.0 | 50.0 | 0.0 | 25.0 |" in text and "| 12 | 0.0 | 75.0 | 0.0 | 25.0 |" in text
    assert "| A | 2 | 4 |" in text and "| C | 1 | 1 |" in text
    with pytest.raises(ValueError, match="different codebook shapes"):
        sharing_counts({"A": np.zeros((2, 4)), "B": np.zeros((2, 5))})


def test_codeword_counts():
    results = [DinoSRResult(3, {}, torch.tensor([[0, 0, 2], [1, 1, 1]]), None),
               DinoSRResult(1, {}, torch.tensor([[3], [0]]), None)]
    assert codeword_counts(results, 2, 4).tolist() == [[2, 0, 1, 1], [1, 3, 0, 0]]
    with pytest.raises(ValueError, match="no codeword indices"):
        codeword_counts([DinoSRResult(1, {}, None, None)], 2, 4)


def test_cli_matches_extracted_units(experiment, corpus, tmp_path):
    lines = corpus["wav_scp"].read_text().splitlines(keepends=True)
    scps = {}
    for lang, part in (("l1", lines[:3]), ("l2", lines[3:])):
        scps[lang] = tmp_path / f"{lang}.scp"
        scps[lang].write_text("".join(part))
    out = tmp_path / "share" / "table.md"
    assert sharing_main(["--model_file", str(experiment), "--out", str(out), "--lang_scp",
                         *(f"{lang}={p}" for lang, p in scps.items())]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["layers"] == [2, 3] and report["languages"] == ["l1", "l2"]
    # independent check: active sets from the extract CLI's codeword files
    active = {}
    for lang, scp in scps.items():
        assert extract_main(["--model_file", str(experiment), "--wav_scp", str(scp), "--out_dir",
                             str(tmp_path / lang), "--what", "codewords", "--layers", "2,3"]) == 0
        units = [read_units(tmp_path / lang / f"codewords/layer{i}.txt") for i in (2, 3)]
        active[lang] = [set(np.concatenate(list(u.values()))) for u in units]
    for k in range(2):
        in_n = [sum(v in active[lang][k] for lang in scps) for v in range(8)]
        assert report["sharing_counts"][k] == np.bincount(in_n, minlength=3).tolist()
        for lang in scps:
            assert report["active_per_language"][lang][k] == len(active[lang][k])
    assert "| layer | unused | n=1 | n=2 |" in out.read_text()
    with pytest.raises(SystemExit):
        sharing_main(["--model_file", str(experiment), "--out", str(out), "--lang_scp", "nolang"])
