"""Libri-light limited-supervision splits (`librispeech_finetuning/{1h/{0..5},9h}/{clean,other}`).

Standard splits (wav2vec 2.0 / DinoSR fine-tuning): 10 min = `1h/0`, 1 h = all of `1h`,
10 h = `1h` + `9h`. Dev/test sets and the 100 h split come from LibriSpeech.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from dinosr_espnet.data.librispeech import read_flac_tree
from dinosr_espnet.data.skips import SkipLog

logger = logging.getLogger(__name__)

_ONE_HOUR = [f"1h/{i}/{kind}" for i in range(6) for kind in ("clean", "other")]
LIBRILIGHT_SETS: dict[str, list[str]] = {
    "train_10min": ["1h/0/clean", "1h/0/other"],
    "train_1h": _ONE_HOUR,
    "train_10h": _ONE_HOUR + ["9h/clean", "9h/other"],
}


def find_librilight_root(root: str | os.PathLike) -> Path:
    """Locate `librispeech_finetuning/` under `root` (or `root` itself)."""
    root = Path(root)
    for candidate in (root / "librispeech_finetuning", root):
        if (candidate / "1h").is_dir():
            return candidate
    raise FileNotFoundError(
        f"Libri-light limited set not found: no {root / 'librispeech_finetuning' / '1h'} "
        f"nor {root / '1h'}"
    )


def prepare_librilight(
    root: str | os.PathLike, sets: list[str], out_dir: str | os.PathLike
) -> dict[str, int]:
    """Write `out_dir/<set>` for each of `train_10min`, `train_1h`, `train_10h`."""
    base = find_librilight_root(root)
    counts = {}
    for name in sets:
        if name not in LIBRILIGHT_SETS:
            raise ValueError(
                f"unknown Libri-light set {name!r}; choose from {list(LIBRILIGHT_SETS)}"
            )
        dirs = [base / sub for sub in LIBRILIGHT_SETS[name]]
        for d in dirs:
            if not d.is_dir():
                raise FileNotFoundError(f"Libri-light set {name}: missing directory {d}")
        skips = SkipLog(name, logger)
        data = read_flac_tree(dirs, skips)
        set_dir = Path(out_dir) / name
        skips.write(set_dir / "log" / "skipped")
        data.write(set_dir)
        counts[name] = len(data.utt2spk)
        logger.info("%s: %d utterances from %d directories", set_dir, len(data.utt2spk), len(dirs))
    return counts
