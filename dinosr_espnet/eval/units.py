"""Unit quality against frame-level phone labels (HuBERT's measure; evaluation.md, spec §7–§8).

Inputs:

- units per utterance at the model rate (DinoSR: 50 Hz): a text file with one line
  ``uid<TAB>u1 u2 u3 ...`` (integers, space separated) or a directory of ``<uid>.npy`` 1-D
  integer arrays;
- phone labels at the label rate (100 Hz forced alignments), fairseq style, one line
  ``uid<TAB>ph1,ph2,...`` (commas; spaces are accepted too).

Each unit is repeated ``repeat`` times (label rate / unit rate: 2 for 50 Hz units and 100 Hz
labels); per utterance both sequences are truncated to the shorter length and the difference is
reported. Without ``repeat`` it is inferred from the lengths (median label/unit length ratio,
rounded, within ``RATIO_TOLERANCE`` of an integer); a given ``repeat`` that leaves more than
``MAX_GAP_SHARE`` of the label frames unmatched while another factor fits the lengths is refused
with the factor to use, since a frame-rate mismatch would otherwise give a plausible-looking but
wrong PNMI. From the joint distribution
p(y, z) of phone y and unit z over all aligned frames:

- phone purity ``sum_z max_y p(y, z)``; cluster purity ``sum_y max_z p(y, z)``;
- PNMI ``I(y; z) / H(y)``; codebook perplexity ``exp(H(z))``; active codewords (units seen).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]
MAX_GAP_SHARE = 0.25  # unmatched label frames tolerated with a given repeat
RATIO_TOLERANCE = 0.1  # relative distance of the length ratio to an integer repeat


def _split_line(line: str, where: str) -> tuple[str, str]:
    parts = line.strip().split(maxsplit=1)
    if len(parts) != 2:
        raise ValueError(f"{where}: expected 'uid<TAB>values', got {line.strip()[:60]!r}")
    return parts[0], parts[1]


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"{path}: not a readable .npy array ({err})") from None


def read_units(path: PathLike) -> dict[str, np.ndarray]:
    """Units per utterance from a ``uid<TAB>u1 u2 ...`` text file or a directory of ``.npy``."""
    path = Path(path)
    if path.is_dir():
        units = {p.stem: _load_npy(p) for p in sorted(path.glob("*.npy"))}
        if not units:
            raise ValueError(f"{path}: no <uid>.npy unit files")
        for uid, values in units.items():
            if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
                raise ValueError(f"{path / (uid + '.npy')}: units must be a 1-D integer array")
        return units
    units = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            uid, text = _split_line(line, f"{path}:{number}")
            try:
                units[uid] = np.array([int(v) for v in text.split()], dtype=np.int64)
            except ValueError as err:
                raise ValueError(f"{path}:{number}: units of {uid!r} must be integers") from err
    if not units:
        raise ValueError(f"{path}: no units")
    return units


def write_units(path: PathLike, units: Mapping[str, Sequence[int]]) -> None:
    """Write units in the ``uid<TAB>u1 u2 ...`` text format (sorted by uid)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for uid in sorted(units):
            handle.write(uid + "\t" + " ".join(str(int(u)) for u in units[uid]) + "\n")


def read_phone_labels(path: PathLike, strip_stress: bool = False) -> dict[str, list[str]]:
    """Frame phone labels ``uid<TAB>ph1,ph2,...``; ``strip_stress`` drops ARPAbet digits (AH0 -> AH)."""
    path = Path(path)
    labels = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            uid, text = _split_line(line, f"{path}:{number}")
            phones = [p for p in re.split(r"[,\s]+", text) if p]
            labels[uid] = [re.sub(r"\d+$", "", p) or p for p in phones] if strip_stress else phones
    if not labels:
        raise ValueError(f"{path}: no phone labels")
    return labels


@dataclass
class JointCounts:
    """Frame counts ``counts[y, z]`` of phone ``phones[y]`` with unit ``units[z]``."""

    counts: np.ndarray
    phones: list[str]
    units: list[int]
    num_utterances: int
    mismatch_frames: int  # sum over utterances of |len(labels) - repeat * len(units)|
    max_mismatch: int
    skipped: dict[str, int]
    repeat: int = 1

    def save(self, path: PathLike) -> None:
        """Store counts and axis names as ``.npz`` (input of the plots)."""
        np.savez(path, counts=self.counts, phones=np.array(self.phones), units=np.array(self.units))


def length_ratio(units: Mapping[str, np.ndarray], labels: Mapping[str, Sequence[str]],
                 uids: Sequence[str]) -> Optional[float]:
    """Median over ``uids`` of ``len(labels) / len(units)`` (``None`` if no utterance has units)."""
    ratios = [len(labels[u]) / len(units[u]) for u in uids if len(units[u])]
    return float(np.median(ratios)) if ratios else None


def infer_repeat(units: Mapping[str, np.ndarray], labels: Mapping[str, Sequence[str]]) -> int:
    """Label frames per unit, from the median length ratio of the utterances on both sides."""
    common = sorted(set(units) & set(labels))
    ratio = length_ratio(units, labels, common)
    if ratio is None:
        raise ValueError(_nothing_to_score(units, labels, {}, None, None))
    repeat = max(1, round(ratio))
    if abs(ratio - repeat) > RATIO_TOLERANCE * repeat:
        raise ValueError(
            f"unit quality: cannot infer --repeat: phone labels are {ratio:.2f}x as long as the units "
            f"(median over {len(common)} utterances), not close to an integer; check the frame rates "
            "of both and give --repeat"
        )
    logger.info("unit quality: labels are %.2fx as long as the units: repeat %d", ratio, repeat)
    return repeat


def _examples(names: set[str]) -> str:
    shown = sorted(names)[:3]
    return ", ".join(repr(n) for n in shown) + (", ..." if len(names) > 3 else "")


def _nothing_to_score(units: Mapping[str, np.ndarray], labels: Mapping[str, Sequence[str]],
                      skipped: Mapping[str, int], max_mismatch: Optional[int], smallest_gap: Optional[int]
                      ) -> str:
    """Why no utterance is left, reason by reason."""
    only_units, only_labels = set(units) - set(labels), set(labels) - set(units)
    reasons = []
    if not set(units) & set(labels):
        reasons.append(f"no utterance id is in both inputs (units: {_examples(set(units))}; "
                       f"phone labels: {_examples(set(labels))})")
    else:
        if only_units:
            reasons.append(f"{len(only_units)} have units but no phone labels")
        if only_labels:
            reasons.append(f"{len(only_labels)} have phone labels but no units")
        empty = sum(1 for u in set(units) & set(labels) if not len(units[u]) or not len(labels[u]))
        if empty:
            reasons.append(f"{empty} have no unit or no label frame")
        if skipped.get("too_long_mismatch"):
            reasons.append(
                f"{skipped['too_long_mismatch']} differ in length by more than --max-mismatch "
                f"{max_mismatch} label frames (smallest difference {smallest_gap}; raise "
                "--max-mismatch or check --repeat)"
            )
    return "unit quality: no utterance left to score: " + "; ".join(reasons)


def joint_counts(
    units: Mapping[str, np.ndarray],
    labels: Mapping[str, Sequence[str]],
    repeat: Optional[int] = None,
    max_mismatch: Optional[int] = None,
) -> JointCounts:
    """Align units (repeated ``repeat`` times; ``None``: ``infer_repeat``) with labels and count
    phone/unit pairs.

    Utterances present on one side only, and (when ``max_mismatch`` is set) utterances whose
    lengths differ by more than ``max_mismatch`` label frames, are skipped, counted and logged.
    Raises ``ValueError`` when nothing is left (saying why) or when ``repeat`` does not match the
    frame rates (saying which factor does).
    """
    if repeat is None:
        repeat = infer_repeat(units, labels)
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    skipped = {
        "no_labels": len(set(units) - set(labels)),
        "no_units": len(set(labels) - set(units)),
        "too_long_mismatch": 0,
    }
    aligned_phones, aligned_units, kept = [], [], []
    total_mismatch, worst, smallest_skipped = 0, 0, None
    for uid in sorted(set(units) & set(labels)):
        frames = np.repeat(np.asarray(units[uid], dtype=np.int64), repeat)
        phones = labels[uid]
        gap = abs(len(frames) - len(phones))
        if max_mismatch is not None and gap > max_mismatch:
            skipped["too_long_mismatch"] += 1
            smallest_skipped = gap if smallest_skipped is None else min(smallest_skipped, gap)
            logger.warning(
                "unit quality: %s: %d label frames vs %d unit frames, skipped",
                uid, len(phones), len(frames),
            )
            continue
        total_mismatch, worst = total_mismatch + gap, max(worst, gap)
        length = min(len(frames), len(phones))
        aligned_units.append(frames[:length])
        aligned_phones.extend(phones[:length])
        kept.append(uid)
    for reason, count in skipped.items():
        if count:
            logger.warning("unit quality: skipped %d utterances (%s)", count, reason)
    if not aligned_phones:
        raise ValueError(_nothing_to_score(units, labels, skipped, max_mismatch, smallest_skipped))
    _check_repeat(units, labels, kept, repeat, total_mismatch)
    phone_names, phone_index = np.unique(np.array(aligned_phones), return_inverse=True)
    unit_ids, unit_index = np.unique(np.concatenate(aligned_units), return_inverse=True)
    counts = np.zeros((len(phone_names), len(unit_ids)), dtype=np.int64)
    np.add.at(counts, (phone_index.ravel(), unit_index.ravel()), 1)
    return JointCounts(
        counts, [str(p) for p in phone_names], [int(u) for u in unit_ids],
        len(aligned_units), total_mismatch, worst, skipped, repeat,
    )


def _check_repeat(units: Mapping[str, np.ndarray], labels: Mapping[str, Sequence[str]], kept: Sequence[str],
                  repeat: int, total_mismatch: int) -> None:
    """Refuse a ``repeat`` that leaves many label frames unmatched when another one fits better."""
    label_frames = sum(len(labels[u]) for u in kept)
    share = total_mismatch / max(1, label_frames)
    ratio = length_ratio(units, labels, kept)
    better = max(1, round(ratio)) if ratio is not None else repeat
    if share <= MAX_GAP_SHARE or better == repeat:
        return
    fits = abs(ratio - better) <= RATIO_TOLERANCE * better
    advice = f"use --repeat {better}" if fits else "check the frame rates of both"
    raise ValueError(
        f"unit quality: with --repeat {repeat}, {share:.0%} of the {label_frames} label frames have no "
        f"unit: the phone labels are {ratio:.2f}x as long as the units (median over {len(kept)} "
        f"utterances); {advice}"
    )


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


@dataclass
class UnitQuality:
    """Unit-quality measures (natural logarithms)."""

    phone_purity: float
    cluster_purity: float
    pnmi: float
    perplexity: float
    active_codewords: int
    phone_entropy: float
    unit_entropy: float
    mutual_information: float
    num_frames: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return asdict(self)


def quality_from_counts(counts: np.ndarray) -> UnitQuality:
    """Purities, PNMI, perplexity and active codewords of a (phones x units) count table."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if counts.ndim != 2 or total <= 0:
        raise ValueError("joint counts must be a non-empty 2-D table")
    joint = counts / total
    p_phone, p_unit = joint.sum(1), joint.sum(0)
    nonzero = joint > 0
    outer = np.outer(p_phone, p_unit)
    mutual = float((joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])).sum())
    h_phone, h_unit = _entropy(p_phone), _entropy(p_unit)
    return UnitQuality(
        phone_purity=float(joint.max(0).sum()),
        cluster_purity=float(joint.max(1).sum()),
        pnmi=mutual / h_phone if h_phone > 0 else float("nan"),
        perplexity=float(np.exp(h_unit)),
        active_codewords=int((counts.sum(0) > 0).sum()),
        phone_entropy=h_phone,
        unit_entropy=h_unit,
        mutual_information=mutual,
        num_frames=int(total),
    )
