"""Every launcher goes through bin/cli.py: defaults in --help, one line + exit 1 for user
errors, the traceback only with --debug."""
from __future__ import annotations

import argparse
import importlib
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dinosr_espnet.bin.cli import HelpFormatter, run_cli, run_guarded

BIN = Path(__file__).resolve().parents[2] / "dinosr_espnet" / "bin"
LAUNCHERS = sorted(p.stem for p in BIN.glob("*.py")  # modules with a command line
                   if 'if __name__ == "__main__":' in p.read_text(encoding="utf-8"))
ESPNET_TRAINERS = ("asr_train", "dinosr_train")  # ESPnet builds their parsers


def _builder(module):
    return getattr(module, "build_parser", None) or module.get_parser


def _entry(name: str):
    module = importlib.import_module(f"dinosr_espnet.bin.{name}")
    return module.cli if name in ESPNET_TRAINERS else module.main


def _missing(tmp_path: Path) -> str:
    return str(tmp_path / "missing_input")


# One failing command line per tool: each names a file that does not exist (or, for
# prepare_babel and tune_lm, an impossible value); the error line must name it.
def _bad_commands(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    m, out = _missing(tmp_path), str(tmp_path / "out")
    return {
        "abx": (["--item", m, "--features", m], "missing_input"),
        "asr_inference": (["--asr_train_config", m, "--asr_model_file", m, "--data_dir", m,
                           "--output_dir", out], "missing_input"),
        "codeword_sharing": (["--model_file", m, "--lang_scp", f"xx={m}", "--out", out],
                             "missing_input"),
        "ctc_decode": (["--emissions", m, "--tokens", m, "--out", out], "missing_input"),
        "dump_audio": ([m, out], "missing_input"),
        "export_fairseq": ([m, out + ".pt"], "missing_input"),
        "extract": (["--model_file", m, "--wav_scp", m, "--out_dir", out], "missing_input"),
        "import_fairseq": ([m, out], "missing_input"),
        "make_corpus": (["--out", out, "--size", m + ".yaml"], "missing_input"),
        "prepare_babel": (["--langs", "999", "--babel_root", m], "999"),
        "prepare_librilight": (["--root", m, "--out", out], "missing_input"),
        "prepare_librispeech": (["--root", m, "--out", out], "missing_input"),
        "probe": (["--model_file", m, "--train_wav_scp", m, "--train_phones", m,
                   "--dev_wav_scp", m, "--dev_phones", m, "--out", out], "missing_input"),
        "results_environment": (["--out", str(tmp_path)], str(tmp_path)),
        "score": (["--ref", m, "--hyp", m], "missing_input"),
        "score_utterances": (["--ref", m, "--hyp", m, "--out", out], "missing_input"),
        "train_lm": (["--arpa", m + ".arpa", "--out", out, "--kenlm_bin", m], "missing_input"),
        "tune_lm": (["--emissions", m, "--tokens", m, "--ref", m, "--out", out], "--lm"),
        "unit_quality": (["--units", m, "--phones", m], "missing_input"),
        "units_report": (["--model_file", m, "--wav_scp", m, "--phones", m, "--item", m,
                          "--out_dir", out], "missing_input"),
    }


def test_every_launcher_is_wrapped():
    assert {"extract", "dinosr_train", "make_corpus"} <= set(LAUNCHERS)
    for name in LAUNCHERS:
        source = (BIN / f"{name}.py").read_text(encoding="utf-8")
        wrapper = "run_guarded(" if name in ESPNET_TRAINERS else "run_cli("
        assert wrapper in source, f"{name} does not go through bin/cli.py"
        assert "basicConfig" not in source, f"{name} configures logging itself"


@pytest.mark.parametrize("name", [n for n in LAUNCHERS if n not in ESPNET_TRAINERS])
def test_help_shows_every_default(name, capsys):
    module = importlib.import_module(f"dinosr_espnet.bin.{name}")
    with pytest.raises(SystemExit) as done:
        module.main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    packed = re.sub(r"\s+", "", text)  # help lines wrap at spaces and hyphens
    assert "--debug" in text
    for action in _builder(module)()._actions:
        default = action.default
        if (not action.option_strings or default is None or default is argparse.SUPPRESS
                or (action.nargs == 0 and isinstance(default, bool))
                or "%(default)" in (action.help or "")):
            continue
        assert re.sub(r"\s+", "", f"(default: {default})") in packed, (name, action.dest)
    assert "(default: None)" not in text and "(default: False)" not in text


@pytest.mark.parametrize("name", ESPNET_TRAINERS)
def test_espnet_trainers_help_shows_defaults(name, capsys):
    with pytest.raises(SystemExit) as done:
        _entry(name)(["--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert re.search(r"--max_epoch MAX_EPOCH The maximum number epoch to train \(default: \d+\)",
                     text)


@pytest.mark.parametrize("name", [n for n in LAUNCHERS if n not in ESPNET_TRAINERS])
def test_user_error_is_one_line_and_exit_1(name, tmp_path, caplog, capsys):
    commands = _bad_commands(tmp_path)
    assert name in commands, f"give {name} a failing command line in _bad_commands"
    argv, named = commands[name]
    assert _entry(name)(argv) == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].name == f"dinosr_espnet.{name}"
    assert errors[0].exc_info is None and "\n" not in errors[0].getMessage()
    assert named in errors[0].getMessage()
    assert "Traceback" not in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path):
    argv, _ = _bad_commands(tmp_path)["score"]
    with pytest.raises(FileNotFoundError, match="missing_input"):
        _entry("score")(argv + ["--debug"])


def test_espnet_trainer_user_error(tmp_path, caplog):
    config = tmp_path / "bad.yaml"
    config.write_text("model_conf:\n  codebook_sise: 3\n")
    m = _missing(tmp_path)
    argv = ["--config", str(config), "--output_dir", str(tmp_path / "exp"), "--ngpu", "0",
            "--train_data_path_and_name_and_type", f"{m},speech,sound",
            "--valid_data_path_and_name_and_type", f"{m},speech,sound",
            "--train_shape_file", m, "--valid_shape_file", m]
    assert _entry("dinosr_train")(argv) == 1
    assert "unknown DinoSR config key(s): codebook_sise" in caplog.text
    with pytest.raises(ValueError, match="codebook_sise"):
        _entry("dinosr_train")(argv + ["--debug"])  # --debug is taken out before ESPnet parses


def test_wrapper_passes_bugs_and_tool_errors_through(caplog):
    def build() -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
        parser.add_argument("--key", default=None)
        return parser

    def bug(args: argparse.Namespace) -> None:
        raise TypeError("a bug keeps its traceback")

    def missing_key(args: argparse.Namespace) -> None:
        raise KeyError("utterance 'u1'")

    with pytest.raises(TypeError):
        run_cli(build, bug, [])
    with pytest.raises(KeyError):
        run_cli(build, missing_key, [])
    assert run_cli(build, missing_key, [], user_errors=(KeyError,)) == 1
    assert "utterance 'u1'" in caplog.text and "\"utterance" not in caplog.text
    assert run_guarded(lambda argv: int(argv[0]), ["x"]) == 1  # int("x"): ValueError

    def two_lines(args: argparse.Namespace) -> None:
        raise ValueError("bad.yaml: 2 problems:\n  key a\n  key b")

    caplog.clear()
    assert run_cli(build, two_lines, []) == 1
    assert caplog.messages == ["bad.yaml: 2 problems: key a; key b (--debug shows the traceback)"]


def test_installed_style_invocation_prints_one_line(tmp_path):
    argv, _ = _bad_commands(tmp_path)["score"]
    done = subprocess.run([sys.executable, "-m", "dinosr_espnet.bin.score", *argv],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "ERROR dinosr_espnet.score: " in lines[0], done.stderr
    assert "missing_input" in lines[0] and "--debug" in lines[0]
