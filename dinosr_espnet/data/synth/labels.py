"""Frame-level phone alignments (fairseq `.phn` rows) and ZeroSpeech-2021 triphone `.item` files.

Alignment row: `<uttid><TAB>ph1,ph2,...`, one label per 10 ms frame (100 Hz), silence `sil`.
Item row: `<file> <onset> <offset> <phone> <prev-phone> <next-phone> <speaker>`, the onset and
offset (seconds, relative to the utterance file) spanning the whole triphone. Items whose
centre or context is silence or non-speech are left out, since a pause of arbitrary length
would otherwise sit inside the token.
"""

from __future__ import annotations

from pathlib import Path

from dinosr_espnet.data.synth.audio import HESITATION_LABEL, NOISE_LABEL, RATE
from dinosr_espnet.data.synth.espeak import SILENCE

ITEM_HEADER = "#file onset offset #phone prev-phone next-phone speaker\n"
NON_PHONES = {SILENCE, NOISE_LABEL, HESITATION_LABEL}


def write_alignments(path: Path, rows: dict[str, list[str]]) -> None:
    """Write `uid<TAB>labels` rows sorted by uid (C locale order)."""
    for uid, labels in rows.items():
        bad = [lab for lab in set(labels) if not lab or "," in lab or any(c.isspace() for c in lab)]
        if bad or not labels:
            raise ValueError(f"{path}: utterance {uid} has invalid or no frame labels {bad}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for uid in sorted(rows):
            f.write(f"{uid}\t{','.join(rows[uid])}\n")


def write_phone_set(path: Path, rows: dict[str, list[str]]) -> None:
    """The sorted set of labels used in `rows`, one per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    labels = sorted({lab for labels in rows.values() for lab in labels})
    path.write_text("".join(f"{lab}\n" for lab in labels), encoding="utf-8")


def triphone_items(
    uttid: str, speaker: str, spans: list[tuple[str, int, int]], rate: int = RATE
) -> list[str]:
    """Item lines for every phone with a phone (not silence/noise) on both sides."""
    lines = []
    for prev, cur, nxt in zip(spans, spans[1:], spans[2:]):
        if {prev[0], cur[0], nxt[0]} & NON_PHONES:
            continue
        lines.append(
            f"{uttid} {prev[1] / rate:.4f} {nxt[2] / rate:.4f} {cur[0]} {prev[0]} {nxt[0]} {speaker}\n"
        )
    return lines


def write_items(path: Path, lines: list[str]) -> None:
    """Write an `.item` file: the header, then the rows in the given order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ITEM_HEADER + "".join(lines), encoding="utf-8")
