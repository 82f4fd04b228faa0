"""Helpers of the recipe tests: run a recipe from a temporary copy made of symlinks, so that
its data/, dump/ and exp/ go to the test's tmp dir and never into the repository."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional, Sequence

REPO = Path(__file__).resolve().parents[2]
EGS = REPO / "egs"
RECIPES = ["librispeech/ssl1", "librilight/asr1", "babel/ssl1", "babel/asr1", "mini/asr1"]
WORK_DIRS = {"data", "dump", "exp", "corpora"}


def link_recipe(recipe: str, dst: Path) -> Path:
    """A directory with a symlink to every file of ``egs/<recipe>`` but its work dirs."""
    dst.mkdir(parents=True, exist_ok=True)
    for entry in (EGS / recipe).iterdir():
        if entry.name not in WORK_DIRS:
            (dst / entry.name).symlink_to(entry)
    return dst


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without corpus paths (so db.sh defaults apply), plus ``extra``."""
    drop = ("LIBRISPEECH", "LIBRILIGHT_LIMITED", "BABEL_ROOT", "MINI_CORPUS", "KENLM_BIN")
    env = {k: v for k, v in os.environ.items()
           if k not in drop and not (k.startswith("BABEL_") and k[6:].isdigit())}
    env.update(extra)
    return env


def run(cmd: Sequence[str], cwd: Path, env: Optional[dict[str, str]] = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a command; stdout and stderr together in ``.stdout``."""
    return subprocess.run(list(cmd), cwd=cwd, env=env if env is not None else clean_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)


def kenlm_available() -> bool:
    """True when KenLM's lmplz and build_binary are installed (tools/bin or PATH)."""
    tools = REPO / "tools" / "bin"
    return all((tools / p).is_file() or shutil.which(p) for p in ("lmplz", "build_binary"))
