"""Where the shipped configuration files are, in a source checkout and in an installed package.

The repository keeps them in ``conf/`` beside the package (recipes link to them there); a
built wheel carries the same files as ``dinosr_espnet/conf`` (``setup.py`` maps the one onto
the other). Code that needs a shipped file asks ``conf_dir()`` instead of climbing
``__file__``'s parents, so tools work from ``pip install .`` as from the checkout.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def conf_dir() -> Path:
    """``dinosr_espnet/conf`` of an installed package, else the checkout's ``conf/``."""
    installed = PACKAGE_DIR / "conf"
    return installed if installed.is_dir() else PACKAGE_DIR.parent / "conf"
