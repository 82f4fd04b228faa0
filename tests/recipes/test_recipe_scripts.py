"""Fast checks of the recipe shell scripts: help, corpus-path errors, stage gating and logs,
and the LM stage without KenLM (no training involved; a few seconds each)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from recipe_helpers import EGS, RECIPES, clean_env, link_recipe, run

LIB = EGS / "TEMPLATE" / "lib.sh"


@pytest.mark.parametrize("recipe", RECIPES)
def test_help_lists_stages_and_options(recipe):
    out = run(["./run.sh", "--help"], cwd=EGS / recipe)
    assert out.returncode == 0, out.stdout
    text = out.stdout
    assert "Stages:" in text
    for option in ("--stage ", "--stop-stage ", "--ngpu " if recipe != "mini/asr1" else "--size "):
        assert option in text, f"{recipe}: {option!r} missing from --help"
    stage_lines = [line for line in text.splitlines() if line.strip()[:2].strip().isdigit()]
    assert len(stage_lines) >= 5, text


@pytest.mark.parametrize("script,stages", [
    ("TEMPLATE/ssl1/ssl.sh", ["data preparation", "dump", "stats", "pretraining", "units report"]),
    ("TEMPLATE/asr1/asr.sh", ["data preparation", "dump", "stats", "fine-tuning", "inference",
                              "LM:", "LM decoding", "scoring"]),
])
def test_stage_scripts_describe_every_stage(script, stages, tmp_path):
    rdir = link_recipe("librispeech/ssl1", tmp_path / "r")
    out = run([str(EGS / script), "--help"], cwd=rdir)
    assert out.returncode == 0, out.stdout
    for i, name in enumerate(stages, 1):
        assert f"  {i}  {name}" in out.stdout, f"stage {i} ({name}) not in the help of {script}"


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("option,value", [("--stage", "abc"), ("--stop_stage", "2.5"),
                                          ("--stop-stage=", "")])
def test_non_integer_stage_is_an_error(recipe, option, value, tmp_path):
    rdir = link_recipe(recipe, tmp_path / "r")
    args = [option + value] if option.endswith("=") else [option, value]
    out = run(["./run.sh", *args], cwd=rdir)
    assert out.returncode != 0, out.stdout
    assert "expects a whole number, got" in out.stdout, out.stdout
    assert "integer expression expected" not in out.stdout
    assert "done" not in out.stdout


def test_unknown_option_is_rejected():
    out = run(["./run.sh", "--no_such_option", "1"], cwd=EGS / "librispeech" / "ssl1")
    assert out.returncode != 0
    assert "invalid option --no_such_option" in out.stdout


@pytest.mark.parametrize("recipe,variable", [
    ("librispeech/ssl1", "LIBRISPEECH"),
    ("librilight/asr1", "LIBRISPEECH"),
    ("babel/ssl1", "BABEL_ROOT"),
    ("babel/asr1", "BABEL_ROOT"),
])
@pytest.mark.parametrize("value", ["", "/no/such/corpus"])
def test_missing_corpus_stops_naming_the_variable(recipe, variable, value, tmp_path):
    rdir = link_recipe(recipe, tmp_path / "r")
    env = clean_env(**({variable: value} if value else {}))
    out = run(["./run.sh", "--stage", "1", "--stop_stage", "1"], cwd=rdir, env=env)
    assert out.returncode != 0, out.stdout
    assert "stage 1 (data_prep) failed" in out.stdout
    assert variable in out.stdout.split("failed", 1)[1], out.stdout
    assert "db.sh" in out.stdout
    assert not (rdir / "data" / ".done_data_prep").exists()


def test_lm_stage_without_kenlm_names_the_missing_program(tmp_path):
    rdir = link_recipe("librilight/asr1", tmp_path / "r")
    text = tmp_path / "lm.txt"
    text.write_text("THE CAT SAT\nTHE DOG RAN\n")
    empty = tmp_path / "no_kenlm"
    empty.mkdir()
    out = run(["./run.sh", "--stage", "6", "--stop_stage", "6", "--lm_text", str(text)],
              cwd=rdir, env=clean_env(KENLM_BIN=str(empty)))
    assert out.returncode != 0, out.stdout
    assert "stage 6 (lm) failed" in out.stdout
    assert "lmplz" in out.stdout and "install_kenlm.sh" in out.stdout, out.stdout
    assert not (rdir / "exp" / "lm_4gram" / ".done").exists()


def _bash(snippet: str, cwd: Path) -> subprocess.CompletedProcess:
    script = f"set -euo pipefail\nstage=1\nstop_stage=2\n. '{LIB}'\n{snippet}"
    return subprocess.run(["bash", "-c", script], cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=30)


def test_run_stage_logs_gates_and_skips_when_done(tmp_path):
    snippet = """
work() { echo "ran $1"; echo "$1" >> calls; }
run_stage 1 one log/one.log marks/one k1 work a
run_stage 1 one log/one.log marks/one k1 work b
run_stage 2 two log/two.log marks/two k1 work c
run_stage 2 two log/two.log marks/two k2 work d
run_stage 3 three log/three.log "" "" work e
"""
    out = _bash(snippet, tmp_path)
    assert out.returncode == 0, out.stdout
    assert (tmp_path / "calls").read_text().split() == ["a", "c", "d"]  # b: done; e: gated
    assert (tmp_path / "log" / "one.log").read_text() == "ran a\n"
    assert (tmp_path / "log" / "two.log").read_text() == "ran d\n"  # a changed key reruns
    assert (tmp_path / "marks" / "two").read_text() == "k2\n"
    assert "stage 1 (one): already done, skipped" in out.stdout
    assert not (tmp_path / "log" / "three.log").exists()


def test_failing_stage_stops_with_its_log_and_no_marker(tmp_path):
    snippet = """
work() { echo "working"; false; echo "never printed"; }
run_stage 1 bad log/bad.log marks/bad k work
echo "after the stage"
"""
    out = _bash(snippet, tmp_path)
    assert out.returncode == 1
    assert "stage 1 (bad) failed (exit code 1)" in out.stdout
    assert "working" in out.stdout and "never printed" not in out.stdout
    assert "after the stage" not in out.stdout
    assert not (tmp_path / "marks" / "bad").exists()


def test_guard_exp_refuses_to_resume_another_experiment(tmp_path):
    out = _bash("guard_exp exp/a key1\nguard_exp exp/a key1\nguard_exp exp/a key2", tmp_path)
    assert out.returncode == 1
    assert "exp/a was started with other inputs" in out.stdout
    assert (tmp_path / "exp" / "a" / "inputs.key").read_text() == "key1\n"


def test_scoring_stage_writes_environment_tables_and_utterance_links(tmp_path):
    rdir = link_recipe("librilight/asr1", tmp_path / "r")
    decode = rdir / "exp" / "asr_finetune_10h_dinosr" / "decode_valid.cer_ctc.ave"
    refs = {"dev_other": "u1 THE CAT SAT\nu2 A DOG\n", "dev_clean": "c1 HELLO WORLD\n"}
    hyps = {"dev_other": "u1 THE BAT SAT\nu2 A DOG\n", "dev_clean": "c1 HELLO WORLD\n"}
    for name in refs:
        (rdir / "dump" / "raw" / name).mkdir(parents=True)
        (rdir / "dump" / "raw" / name / "text").write_text(refs[name])
        for mode in ("viterbi", "lm_4gram"):
            (decode / name / mode).mkdir(parents=True)
            (decode / name / mode / "text").write_text(hyps[name])
    out = run(["./run.sh", "--stage", "8", "--test_sets", "dev_clean"], cwd=rdir)
    assert out.returncode == 0, out.stdout
    results = (decode.parent / "RESULTS.md").read_text()
    for line in ("## Environments", "- python version: `", "- espnet version: `espnet ",
                 "- pytorch version: `pytorch ", "- dinosr_espnet version: `dinosr_espnet ",
                 "- Git hash: `", "- date: `"):
        assert line in results, line
    assert results.index("## Environments") < results.index("|dataset|")
    assert "|dev_other|2|5|80.0|20.0|0.0|0.0|20.0|50.0|" in results
    for mode in ("viterbi", "lm_4gram"):
        link = f"[dev_other](decode_valid.cer_ctc.ave/dev_other/{mode}/score_wer/result.txt)"
        assert link in results, results
        section = results.split(f" {mode}\n", 1)[1].split("\n## ", 1)[0]
        assert link in section and "|dev_clean|1|2|100.0|" in section
    scored = (decode / "dev_other" / "viterbi" / "score_wer" / "result.txt").read_text()
    assert "id: (u1)\nScores: (#C #S #D #I) 2 1 0 0\nREF:  the cat sat\nHYP:  the bat sat\n" \
        "Eval:     S" in scored
    assert "id: (u2)\nScores: (#C #S #D #I) 2 0 0 0" in scored
