"""The BABEL recipes on tiny SPHERE corpora: what --help shows, --langs checking (unknown,
missing, several ids), the groups of a generated corpus, and per-language fine-tuning lists."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from recipe_helpers import EGS, clean_env, link_recipe, run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from test_prep_fixtures import BABEL_TRANSCRIPT, make_babel_language  # noqa: E402

ONE_RECORDING = {"training": [BABEL_TRANSCRIPT], "dev": [BABEL_TRANSCRIPT]}


def babel_root(tmp_path: Path, ids: tuple[str, ...], generated: bool = False) -> Path:
    """`tmp/corpus/babel/BABEL_OP1_<id>` per id; with `generated`, make_corpus's manifest.json
    beside it, as in a generated corpus."""
    root = tmp_path / "corpus" / "babel"
    for lang in ids:
        make_babel_language(root, lang, ONE_RECORDING, seconds=3.0)
    if generated:
        manifest = {"generator": "dinosr_espnet.data.synth", "version": "2"}
        (root.parent / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return root


def data_sh(rdir: Path, root: Path, *opts: str):
    return run(["local/data.sh", *opts], cwd=rdir, env=clean_env(BABEL_ROOT=str(root)))


def prepared(rdir: Path) -> list[str]:
    return sorted(p.name for p in (rdir / "data").iterdir() if p.name.endswith("_train"))


def test_asr_help_shows_the_values_the_recipe_runs_with():
    out = run(["./run.sh", "--help"], cwd=EGS / "babel" / "asr1")
    assert out.returncode == 0, out.stdout
    values = {line.split()[0]: line.split()[1] for line in out.stdout.splitlines()
              if line.startswith("  --")}
    assert values["--metric"] == "cer"
    assert values["--use-lm"] == "false"
    assert values["--pretrain-exp"] == "../ssl1/exp/ssl_babel"
    assert values["--asr-config"] == "conf/finetune_10h.yaml"
    assert values["--train-set"] == "<lang>_train" and values["--test-sets"] == "<lang>_dev"
    assert "--langs" in out.stdout


def test_ssl_help_shows_the_values_the_recipe_runs_with():
    out = run(["./run.sh", "--help"], cwd=EGS / "babel" / "ssl1")
    assert out.returncode == 0, out.stdout
    for option, value in (("--train-set", "train_multilingual"), ("--ssl-tag", "babel"),
                          ("--valid-set", "dev_multilingual")):
        assert any(line.split()[:2] == [option, value] for line in out.stdout.splitlines()), \
            f"{option} {value} not in --help"


def test_several_langs_unknown_and_missing_ones(tmp_path):
    root = babel_root(tmp_path, ("101", "103"))
    rdir = link_recipe("babel/ssl1", tmp_path / "r")
    out = data_sh(rdir, root, "--langs", "101", "103")  # as --local_data_opts "--langs 101 103"
    assert out.returncode != 0 and "unexpected argument(s) '103'" in out.stdout
    assert "--langs 101,103" in out.stdout
    out = data_sh(rdir, root, "--langs", "101,999")
    assert out.returncode != 0 and "['999'] are not in" in out.stdout
    out = data_sh(rdir, root, "--langs", "101,104,207")
    assert out.returncode != 0
    assert "104 (pashto)" in out.stdout and "207 (tok_pisin)" in out.stdout
    assert not (rdir / "data" / "cantonese_train").exists()  # checked before preparing any
    out = data_sh(rdir, root, "--langs", "101,103")
    assert out.returncode == 0, out.stdout
    assert prepared(rdir) == ["bengali_train", "cantonese_train"]
    assert (rdir / "data" / "train_multilingual" / "wav.scp").is_file()


@pytest.mark.parametrize("generated", [False, True])
def test_default_groups_on_a_corpus_without_some_languages(tmp_path, generated):
    root = babel_root(tmp_path, ("101", "103"), generated=generated)
    rdir = link_recipe("babel/ssl1", tmp_path / "r")
    out = data_sh(rdir, root)
    if not generated:  # a real corpus: every missing language named, nothing prepared
        assert out.returncode != 0
        for missing in ("104 (pashto)", "404 (georgian)", "105 (turkish)"):
            assert missing in out.stdout
        assert not (rdir / "data" / "cantonese_train").exists()
        return
    assert out.returncode == 0, out.stdout
    assert "is a generated corpus" in out.stdout
    assert "left out BABEL language 104 (pashto)" in out.stdout
    assert prepared(rdir) == ["bengali_train", "cantonese_train"]
    assert (rdir / "data" / "train_multilingual" / "wav.scp").is_file()


def test_asr_run_fine_tunes_the_prepared_languages_and_checks_langs(tmp_path):
    root = babel_root(tmp_path, ("102", "202"), generated=True)
    rdir = link_recipe("babel/asr1", tmp_path / "r")
    env = clean_env(BABEL_ROOT=str(root))
    out = run(["./run.sh", "--stop_stage", "1"], cwd=rdir, env=env)
    assert out.returncode == 0, out.stdout
    assert prepared(rdir) == ["assamese_train", "swahili_train"]
    for lang in ("assamese", "swahili"):
        assert f"exp/{lang}/asr_finetune_10h_dinosr" in out.stdout
    out = run(["./run.sh", "--langs", "swahili,lao", "--stop_stage", "1"], cwd=rdir, env=env)
    assert out.returncode != 0
    assert "language 'lao' was not prepared" in out.stdout
    assert "prepared: assamese swahili)" in out.stdout
