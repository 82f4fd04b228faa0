"""ssl.sh and asr.sh pass the dump's channel and error options (--mix_channels, --on_error)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from recipe_helpers import link_recipe, run

SCRIPTS = {"ssl.sh": "librispeech/ssl1", "asr.sh": "librilight/asr1"}


def stereo_set(rdir: Path, name: str) -> None:
    """data/<name>: a stereo utterance and an empty (0-byte) file."""
    data = rdir / "data" / name
    data.mkdir(parents=True)
    t = np.arange(8000) / 16000
    soundfile.write(rdir / "st.wav", np.stack([np.sin(2 * np.pi * 200 * t)] * 2, 1) * 0.3,
                    16000, subtype="PCM_16")
    (rdir / "empty.wav").write_bytes(b"")
    (data / "wav.scp").write_text(f"s-1 {rdir / 'st.wav'}\ns-2 {rdir / 'empty.wav'}\n")
    (data / "utt2spk").write_text("s-1 s\ns-2 s\n")
    (data / "spk2utt").write_text("s s-1 s-2\n")
    (data / "text").write_text("s-1 A\ns-2 B\n")


def dump_stage(script: str, rdir: Path, *options: str):
    """Stage 2 of the recipe's run.sh (which calls ``script``) on the set ``st``."""
    sets = (["--train_set", "st", "--valid_set", "st", "--min_dur", "0"] if script == "ssl.sh"
            else ["--train_set", "st", "--valid_set", "st", "--test_sets", "st"])
    return run(["./run.sh", "--stage", "2", "--stop_stage", "2", "--nj", "1", *sets,
                *options], cwd=rdir)


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_dump_options_reach_dump_audio(script, tmp_path):
    rdir = link_recipe(SCRIPTS[script], tmp_path / "r")
    stereo_set(rdir, "st")
    out = dump_stage(script, rdir)
    assert out.returncode != 0 and "pass --mix_channels" in out.stdout, out.stdout

    out = dump_stage(script, rdir, "--mix_channels", "true")
    assert out.returncode == 0, out.stdout
    log = (rdir / "dump" / "raw" / "st" / "log" / "dump.log").read_text()
    assert "averaged multi-channel input to mono: 1 utterances" in log
    assert "skipped 1 utterances (empty file: 1)" in log
    audio, _ = soundfile.read(rdir / "dump" / "raw" / "st" / "data" / "s-1.flac")
    assert audio.ndim == 1 and len(audio) == 8000

    out = dump_stage(script, rdir, "--mix_channels", "true", "--on_error", "fail")
    assert out.returncode != 0 and "recording s-2" in out.stdout, out.stdout


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_bad_dump_option_values_are_named(script, tmp_path):
    rdir = link_recipe(SCRIPTS[script], tmp_path / "r")
    out = dump_stage(script, rdir, "--on_error", "ignore")
    assert out.returncode != 0 and "--on_error must be skip or fail, not 'ignore'" in out.stdout
    out = dump_stage(script, rdir, "--mix_channels", "yes")
    assert out.returncode != 0 and "--mix_channels expects true or false" in out.stdout
