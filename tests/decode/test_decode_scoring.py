"""Corpus-level WER/CER counts (hand-computed) and the RESULTS.md tables."""
from __future__ import annotations

from pathlib import Path

import pytest

from dinosr_espnet.bin import score
from dinosr_espnet.data.babel_markup import MarkupPolicy
from dinosr_espnet.decode.scoring import (
    ErrorCounts, error_counts, is_markup, normalise, results_row, update_results,
)


def test_wer_counts_substitution_and_insertion():
    c = error_counts({"u1": "A B C D"}, {"u1": "A X C D E"}, "wer")
    assert (c.num_ref, c.hits, c.substitutions, c.deletions, c.insertions) == (4, 3, 1, 0, 1)
    assert c.error_rate == pytest.approx(0.5)
    assert c.sentence_errors == 1


def test_cer_counts_spaces():
    # ref chars A B ␣ C D (5), hyp A B ␣ D: one deletion
    c = error_counts({"u1": "AB CD"}, {"u1": "AB  D"}, "cer")
    assert (c.num_ref, c.substitutions, c.deletions, c.insertions) == (5, 0, 1, 0)
    assert c.error_rate == pytest.approx(0.2)


def test_corpus_level_micro_average_and_sentence_errors():
    refs = {"u1": "A B C D", "u2": "E F", "u3": "G"}
    hyps = {"u1": "A X C D E", "u2": "", "u3": "G"}
    c = error_counts(refs, hyps, "wer")
    # errors 1+1 (u1) + 2 deletions (u2) over 4+2+1 reference words; mean of rates would differ
    assert (c.substitutions, c.deletions, c.insertions, c.num_ref) == (1, 2, 1, 7)
    assert c.error_rate == pytest.approx(4 / 7)
    assert (c.sentence_errors, c.num_sentences) == (2, 3)


def test_missing_or_extra_hypotheses_are_errors():
    with pytest.raises(ValueError, match="1 utterances have no hypothesis, e.g. 'u2'"):
        error_counts({"u1": "A", "u2": "B"}, {"u1": "A"}, "wer")
    with pytest.raises(ValueError, match="no reference, e.g. 'u9'"):
        error_counts({"u1": "A"}, {"u1": "A", "u9": "B"}, "wer")


def test_results_row_percentages():
    c = ErrorCounts(num_sentences=2, num_ref=4, hits=3, substitutions=1, deletions=0,
                    insertions=1, sentence_errors=1)
    assert results_row("test_clean", c) == "|test_clean|2|4|75.0|25.0|0.0|25.0|50.0|50.0|"


def test_results_md_add_replace_and_sections(tmp_path):
    md = tmp_path / "RESULTS.md"
    ok = ErrorCounts(1, 4, 4, 0, 0, 0, 0)
    bad = ErrorCounts(1, 4, 3, 1, 0, 1, 1)
    update_results(md, "dev", "wer", bad)
    update_results(md, "test", "wer", ok)
    update_results(md, "dev", "wer", ok)  # replaces the dev row
    update_results(md, "dev", "cer", bad)
    assert md.read_text() == (
        "# RESULTS\n\n### WER\n\n"
        "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|\n|---|---|---|---|---|---|---|---|---|\n"
        "|dev|1|4|100.0|0.0|0.0|0.0|0.0|0.0|\n|test|1|4|100.0|0.0|0.0|0.0|0.0|0.0|\n\n"
        "### CER\n\n"
        "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|\n|---|---|---|---|---|---|---|---|---|\n"
        "|dev|1|4|75.0|25.0|0.0|25.0|50.0|100.0|\n")
    update_results(md, "dev", "wer", bad, title="exp/asr_10h 4-gram")
    text = md.read_text()
    top, section = text.split("## exp/asr_10h 4-gram\n")
    assert "|dev|1|4|100.0|" in top and "|dev|1|4|75.0|" in section
    assert section.count("|dev|") == 1


def test_score_cli(tmp_path, capsys):
    (tmp_path / "ref").write_text("u1 A B C D\nu2 E F\n")
    (tmp_path / "hyp").write_text("u1 A X C D E\nu2 E F\n")
    md = tmp_path / "RESULTS.md"
    assert score.main(["--ref", str(tmp_path / "ref"), "--hyp", str(tmp_path / "hyp"),
                       "--metric", "wer", "--set-name", "dev", "--results", str(md)]) == 0
    assert "dev: WER 33.33% (S=1 D=0 I=1 N=6" in capsys.readouterr().out
    assert "|dev|2|6|83.3|16.7|0.0|16.7|33.3|50.0|" in md.read_text()
    (tmp_path / "hyp").write_text("u1 A\n")
    assert score.main(["--ref", str(tmp_path / "ref"), "--hyp", str(tmp_path / "hyp")]) == 1


BABEL_REFS = {"a": "<hes> habari yako <noise> rafiki", "b": "<unk> ndiyo <hes>", "c": "<noise>"}
BABEL_HYPS = {"a": "habari yako rafiki", "b": "ndiyo", "c": ""}


def test_babel_markup_is_removed_from_both_sides():
    for metric in ("cer", "wer"):
        counts = error_counts(BABEL_REFS, BABEL_HYPS, metric)
        assert counts.error_rate == 0.0 and counts.sentence_errors == 0
    assert error_counts(BABEL_REFS, BABEL_HYPS, "cer").num_ref == len("habari yako rafiki") + len("ndiyo")
    # markup in the hypothesis does not count either; scored as words it would
    assert error_counts(BABEL_REFS, {**BABEL_HYPS, "b": "<hes> ndiyo <laugh>"}, "wer").error_rate == 0.0
    kept = error_counts(BABEL_REFS, BABEL_HYPS, "cer", remove_markup=False)
    tags = len("<hes><noise><unk><hes><noise>")
    assert (kept.deletions, kept.num_ref) == (tags + 4, 23 + tags + 4)  # and 4 spaces
    # only whole tokens are markup
    assert normalise("x<hes> <hes>y <a b>") == "x<hes> <hes>y <a b>"


def test_every_symbol_the_babel_policy_writes_is_markup():
    policy = MarkupPolicy.from_yaml(Path(__file__).resolve().parents[2] / "conf" / "babel_markup.yaml")
    emitted = {policy.noise_symbol, policy.unk_symbol}
    emitted |= {token for token, action in policy.tokens.items() if action == "keep"}
    assert emitted >= {"<noise>", "<unk>", "<hes>"} and all(is_markup(t) for t in emitted)
    raw = "<breath> habari (()) yako <hes> <foreign> rafiki~ <no-speech> *ndiyo*"
    assert normalise(policy.normalise(raw)) == "habari yako rafiki~ ndiyo"


def test_case_is_ignored_like_sclite_unless_asked():
    refs, hyps = {"u": "Habari YAKO"}, {"u": "habari yako"}
    assert error_counts(refs, hyps, "wer").error_rate == 0.0
    strict = error_counts(refs, hyps, "wer", ignore_case=False)
    assert strict.substitutions == 2
    assert error_counts({"u": "THE CAT"}, {"u": "THE CAT"}, "cer", ignore_case=False).error_rate == 0.0


def test_score_cli_babel_cer(tmp_path, capsys):
    (tmp_path / "ref").write_text("".join(f"{k} {v}\n" for k, v in BABEL_REFS.items()))
    (tmp_path / "hyp").write_text("".join(f"{k} {v}\n" for k, v in BABEL_HYPS.items()))
    common = ["--ref", str(tmp_path / "ref"), "--hyp", str(tmp_path / "hyp"), "--metric", "cer",
              "--set-name", "swahili_dev"]
    assert score.main(common) == 0
    assert "swahili_dev: CER 0.00% (S=0 D=0 I=0 N=23;" in capsys.readouterr().out
    assert score.main(common + ["--keep-markup"]) == 0
    assert "CER 58.93% (S=0 D=33 I=0 N=56;" in capsys.readouterr().out


def test_babel_recipe_scores_with_markup_removed():
    root = Path(__file__).resolve().parents[2]
    assert (root / "egs/babel/asr1/asr.sh").resolve() == (root / "egs/TEMPLATE/asr1/asr.sh").resolve()
    recipe = (root / "egs/TEMPLATE/asr1/asr.sh").read_text()
    assert "dinosr_espnet.bin.score" in recipe and "dinosr_espnet.bin.tune_lm" in recipe
    assert "--keep-markup" not in recipe and "--case-sensitive" not in recipe  # ESPnet-style defaults
