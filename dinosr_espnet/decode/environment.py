"""The ``## Environments`` block of a RESULTS.md, as ESPnet's ``show_asr_result.sh`` writes it
(date, python, espnet, pytorch, git commit and its date), plus the dinosr_espnet version, so
that a table of results says what produced it."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _git(repo: Path, *args: str) -> Optional[str]:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _version(module: str) -> str:
    try:
        return getattr(__import__(module), "__version__", "unknown")
    except ImportError:
        return "not installed"


def environment_block(repo: Path = PACKAGE_DIR.parent, date: Optional[str] = None) -> list[str]:
    """Markdown lines of the block; the commit is the one of ``repo`` (the source tree of this
    package), "not a git checkout" for an installed wheel, and "(uncommitted changes)" marks
    a tree that differs from it."""
    import dinosr_espnet

    commit = _git(repo, "rev-parse", "HEAD")
    lines = ["## Environments",
             f"- date: `{date or time.strftime('%a %b %d %H:%M:%S %Z %Y')}`",
             f"- python version: `{sys.version.replace(chr(10), ' ')}`",
             f"- espnet version: `espnet {_version('espnet')}`",
             f"- pytorch version: `pytorch {_version('torch')}`",
             f"- dinosr_espnet version: `dinosr_espnet {dinosr_espnet.__version__}`"]
    if commit is None:
        lines.append("- Git hash: `not a git checkout`")
    else:
        dirty = _git(repo, "status", "--porcelain", "--untracked-files=no")
        lines.append(f"- Git hash: `{commit}`" + (" (uncommitted changes)" if dirty else ""))
        lines.append(f"  - Commit date: `{_git(repo, 'log', '-1', '--format=%cd') or 'unknown'}`")
    return lines
