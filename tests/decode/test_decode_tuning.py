"""LM weight / word score grid search picks the lowest dev error."""
from __future__ import annotations

import kaldiio
import pytest
import yaml
from decode_fixtures import TOKENS, cat_or_car, write_arpa

from dinosr_espnet.bin import ctc_decode, tune_lm
from dinosr_espnet.decode.beam_search import BeamSearchConfig
from dinosr_espnet.decode.lexicon import arpa_words, write_lexicon
from dinosr_espnet.decode.scoring import ErrorCounts
from dinosr_espnet.decode.tuning import (Trial, beam_search_evaluator, best_trial, grid_search,
                                         value_range)


def test_value_range_includes_stop():
    assert value_range(0, 8, 1) == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert value_range(-5, 5, 2.5) == [-5, -2.5, 0, 2.5, 5]
    assert value_range(0.1, 0.3, 0.1) == [0.1, 0.2, 0.3]
    with pytest.raises(ValueError, match="step"):
        value_range(0, 1, 0)


def _surface(lm_weight: float, word_score: float) -> ErrorCounts:
    """Errors = |lm_weight - 3| + |word_score + 1| out of 100 reference words."""
    errors = int(abs(lm_weight - 3) + abs(word_score + 1))
    return ErrorCounts(1, 100, 100 - errors, errors, 0, 0, int(errors > 0))


@pytest.mark.parametrize("nj", [1, 2])
def test_grid_search_finds_minimum(nj):
    trials = grid_search(_surface, value_range(0, 8, 1), value_range(-5, 5, 1), nj=nj)
    assert len(trials) == 99
    assert [(t.lm_weight, t.word_score) for t in trials[:2]] == [(0, -5), (0, -4)]
    best = best_trial(trials)
    assert (best.lm_weight, best.word_score, best.counts.error_rate) == (3, -1, 0.0)


def test_ties_go_to_the_first_grid_point():
    same = ErrorCounts(1, 10, 9, 1, 0, 0, 1)
    trials = [Trial(1, 0, same), Trial(2, 0, same), Trial(3, 0, ErrorCounts(1, 10, 8, 2, 0, 0, 1))]
    assert best_trial(trials).lm_weight == 1


@pytest.fixture()
def dev(tmp_path):
    arpa = write_arpa(tmp_path / "lm.arpa")
    write_lexicon(tmp_path / "lexicon.txt", arpa_words(arpa))
    (tmp_path / "tokens.txt").write_text("".join(t + "\n" for t in TOKENS))
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path / 'e.ark'},{tmp_path / 'e.scp'}") as w:
        w["utt1"] = cat_or_car()
    (tmp_path / "text").write_text("utt1 THE CAT SAT\n")
    return tmp_path


def test_beam_search_tuning_prefers_the_lm(dev):
    evaluate = beam_search_evaluator({"utt1": cat_or_car()}, {"utt1": "THE CAT SAT"}, TOKENS,
                                     dev / "lexicon.txt", dev / "lm.arpa",
                                     BeamSearchConfig(beam=50), "wer")
    trials = grid_search(evaluate, [0.0, 2.0], [0.0])
    assert [t.counts.error_rate for t in trials] == pytest.approx([1 / 3, 0.0])
    assert best_trial(trials).lm_weight == 2.0
    with pytest.raises(ValueError, match="no reference, e.g. 'utt2'"):
        beam_search_evaluator({"utt2": cat_or_car()}, {"utt1": "X"}, TOKENS, dev / "lexicon.txt",
                              dev / "lm.arpa", BeamSearchConfig(), "wer")


def test_tune_lm_cli_then_decode_with_best(dev):
    best = dev / "best.yaml"
    assert tune_lm.main(["--emissions", str(dev / "e.scp"), "--tokens", str(dev / "tokens.txt"),
                         "--ref", str(dev / "text"), "--lm", str(dev / "lm.arpa"),
                         "--lexicon", str(dev / "lexicon.txt"), "--lm_weight_range", "0", "2", "2",
                         "--word_score_range", "-1", "0", "1", "--beam", "50",
                         "--out", str(best)]) == 0
    result = yaml.safe_load(best.read_text())
    assert result["beam_search"]["lm_weight"] == 2.0 and result["beam_search"]["beam"] == 50
    assert result["dev"]["error_rate"] == 0.0 and len(result["trials"]) == 4
    hyp = dev / "hyp.txt"
    common = ["--emissions", str(dev / "e.scp"), "--tokens", str(dev / "tokens.txt"),
              "--lm", str(dev / "lm.arpa"), "--lexicon", str(dev / "lexicon.txt"),
              "--out", str(hyp), "--decode_config", str(best)]
    assert ctc_decode.main(common) == 0
    assert hyp.read_text() == "utt1 THE CAT SAT\n"
    assert ctc_decode.main(common + ["--lm_weight", "0"]) == 0  # explicit flag wins
    assert hyp.read_text() == "utt1 THE CAR SAT\n"
