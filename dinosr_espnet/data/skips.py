"""Counted, logged skips: every item a data stage leaves out is recorded with its reason."""

from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path

from dinosr_espnet.data.kaldi_dir import c_sort_key


class SkipLog:
    """Collects `(id, reason, detail)` for skipped items; summarises and writes them out.

    `reason` is a short category used for counting (e.g. ``"no audio"``); `detail` is the
    human-readable explanation written next to the id in the report file.
    """

    def __init__(self, name: str, logger: logging.Logger) -> None:
        self.name = name
        self.logger = logger
        self.items: list[tuple[str, str]] = []
        self.counts: Counter[str] = Counter()

    def add(self, item_id: str, reason: str, detail: str = "") -> None:
        """Record one skipped item (an id may appear more than once, each is counted)."""
        text = " ".join((f"{reason}: {detail}" if detail else reason).split())
        self.items.append((item_id.replace(" ", "_"), text))
        self.counts[reason] += 1
        self.logger.debug("%s: skip %s (%s)", self.name, item_id, text)

    def summary(self) -> str:
        """One line: total and per-reason counts."""
        if not self.items:
            return f"{self.name}: nothing skipped"
        parts = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.counts.items()))
        return f"{self.name}: skipped {len(self.items)} ({parts})"

    def write(self, path: str | os.PathLike) -> None:
        """Write the report (`id reason: detail` per line, C order) and log the summary."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = sorted(self.items, key=lambda item: c_sort_key(item[0]))
        path.write_text("".join(f"{key} {text}\n" for key, text in lines), encoding="utf-8")
        level = logging.WARNING if self.items else logging.INFO
        self.logger.log(level, "%s (list: %s)", self.summary(), path)
