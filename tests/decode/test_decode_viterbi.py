"""Viterbi (best-path) CTC decoding on hand-built emissions."""
from __future__ import annotations

import numpy as np
import pytest
from decode_fixtures import TOKENS, emissions

from dinosr_espnet.decode.viterbi import viterbi_decode, viterbi_path


def test_collapse_repeats_remove_blanks_boundary_to_space():
    frames = ["<blank>", "C", "C", "<blank>", "A", "A", "T", "|", "T", "<blank>", "T"]
    e = emissions(frames)
    ids = viterbi_path(e)
    assert [TOKENS[i] for i in ids] == ["C", "A", "T", "|", "T", "T"]
    assert viterbi_decode(e, TOKENS) == "CAT TT"


def test_outer_and_repeated_boundaries_give_single_spaces():
    e = emissions(["|", "A", "|", "<blank>", "|", "C", "|", "|"])
    assert viterbi_decode(e, TOKENS) == "A C"


def test_empty_and_bad_shapes():
    assert viterbi_decode(np.zeros((0, len(TOKENS)), np.float32), TOKENS) == ""
    with pytest.raises(ValueError, match="columns"):
        viterbi_decode(np.zeros((3, len(TOKENS) + 1), np.float32), TOKENS)
    with pytest.raises(ValueError, match="token 0"):
        viterbi_decode(np.zeros((3, 2), np.float32), ["A", "<blank>"])
