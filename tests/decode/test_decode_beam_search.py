"""Lexicon beam search with a word LM: the LM fixes an acoustically ambiguous word."""
from __future__ import annotations

import logging

import kaldiio
import numpy as np
import pytest
from decode_fixtures import TOKENS, cat_or_car, emissions, write_arpa

from dinosr_espnet.decode.beam_search import (BeamSearchConfig, LexiconBeamSearch, decode_all,
                                              log_softmax)
from dinosr_espnet.decode.emissions import iter_emissions, load_emissions
from dinosr_espnet.decode.lexicon import arpa_words, read_lexicon, write_lexicon
from dinosr_espnet.decode.viterbi import viterbi_decode


@pytest.fixture()
def lm_files(tmp_path):
    arpa = write_arpa(tmp_path / "lm.arpa")
    lexicon = tmp_path / "lexicon.txt"
    write_lexicon(lexicon, arpa_words(arpa))
    return arpa, lexicon


def test_lexicon_from_arpa(lm_files):
    arpa, lexicon = lm_files
    assert arpa_words(arpa) == ["THE", "CAT", "CAR", "SAT", "ON", "MAT", "DROVE", "AWAY"]
    entries = read_lexicon(lexicon)
    assert entries[1] == ("CAT", ["C", "A", "T", "|"])
    assert lexicon.read_text().splitlines()[0] == "THE T H E |"


def test_lm_picks_the_plausible_word_where_viterbi_cannot(lm_files):
    arpa, lexicon = lm_files
    e = cat_or_car()
    assert viterbi_decode(e, TOKENS) == "THE CAR SAT"
    with_lm = LexiconBeamSearch(TOKENS, lexicon, arpa, BeamSearchConfig(lm_weight=2, word_score=0))
    assert with_lm(e) == "THE CAT SAT"
    acoustic_only = LexiconBeamSearch(TOKENS, lexicon, arpa,
                                      BeamSearchConfig(lm_weight=0, word_score=0))
    assert acoustic_only(e) == "THE CAR SAT"
    # clear acoustics win over the LM at the same weight when they disagree strongly
    assert with_lm(cat_or_car(p_t=0.01, p_r=0.97)) == "THE CAR SAT"
    assert with_lm(np.zeros((0, len(TOKENS)), np.float32)) == ""


def test_logits_are_normalised_and_trailing_boundary_is_harmless(lm_files):
    arpa, lexicon = lm_files
    decoder = LexiconBeamSearch(TOKENS, lexicon, arpa, BeamSearchConfig(lm_weight=2, word_score=0))
    e = cat_or_car()
    np.testing.assert_allclose(log_softmax(e + 3.0), e, atol=1e-5)
    assert decoder(e + 3.0) == "THE CAT SAT"
    # fairseq-style targets end with "|": same result
    assert decoder(np.concatenate([e, emissions(["|"])])) == "THE CAT SAT"


def test_lexicon_words_with_unknown_tokens_are_skipped(lm_files, tmp_path, caplog):
    arpa, lexicon = lm_files
    with open(lexicon, "a") as f:
        f.write("ZOO Z O O |\n")
    with caplog.at_level(logging.WARNING):
        decoder = LexiconBeamSearch(TOKENS, lexicon, arpa, BeamSearchConfig(lm_weight=2))
    assert "skipping 1 of 9 words" in caplog.text and "'ZOO'" in caplog.text
    assert decoder(cat_or_car()) == "THE CAT SAT"
    bad = tmp_path / "bad_lexicon.txt"
    bad.write_text("ZOO Z O O |\n")
    with pytest.raises(ValueError, match="no word is spelled"):
        LexiconBeamSearch(TOKENS, bad, arpa, BeamSearchConfig())


def test_parallel_decoding_matches_serial(lm_files):
    arpa, lexicon = lm_files
    items = [(f"u{i}", cat_or_car(p_t=0.44 - 0.04 * i, p_r=0.54 + 0.04 * i)) for i in range(11)]

    def make():
        return LexiconBeamSearch(TOKENS, lexicon, arpa, BeamSearchConfig(lm_weight=2, word_score=0))

    serial = decode_all(items, make, nj=1, progress=False)
    assert decode_all(items, make, nj=2, progress=False) == serial
    assert serial["u0"] == "THE CAT SAT" and serial["u10"] == "THE CAR SAT"


def test_config_and_missing_files(lm_files, tmp_path):
    arpa, lexicon = lm_files
    assert BeamSearchConfig.from_dict({"lm_weight": 1.5}).lm_weight == 1.5
    with pytest.raises(ValueError, match="unknown beam search option"):
        BeamSearchConfig.from_dict({"lm_wieght": 1.5})
    with pytest.raises(ValueError, match="beam must be >= 1"):
        BeamSearchConfig(beam=0)
    with pytest.raises(FileNotFoundError, match="language model file"):
        LexiconBeamSearch(TOKENS, lexicon, tmp_path / "no.bin", BeamSearchConfig())


def test_read_emissions_ark_and_scp(tmp_path):
    e = cat_or_car()
    spec = f"ark,scp:{tmp_path / 'e.ark'},{tmp_path / 'e.scp'}"
    with kaldiio.WriteHelper(spec) as writer:
        writer["u1"] = e
        writer["u2"] = e[:3]
    for path in (tmp_path / "e.scp", tmp_path / "e.ark"):
        loaded = load_emissions(path, len(TOKENS))
        assert list(loaded) == ["u1", "u2"]
        np.testing.assert_array_equal(loaded["u2"], e[:3])
    with pytest.raises(ValueError, match=r"e.scp: utterance 'u1': 17 emission columns but 5"):
        next(iter_emissions(tmp_path / "e.scp", 5))
    with kaldiio.WriteHelper(f"ark:{tmp_path / 'nan.ark'}") as writer:
        writer["bad"] = np.full((2, len(TOKENS)), np.nan, np.float32)
    with pytest.raises(ValueError, match="'bad': emissions contain NaN"):
        load_emissions(tmp_path / "nan.ark", len(TOKENS))
