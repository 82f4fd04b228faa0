"""Corpus-level WER / CER with jiwer, and ESPnet ``RESULTS.md`` tables.

Error rate = (S + D + I) / N_ref over the whole set (sclite's Sum/Avg, jiwer 4's
``process_words(...).wer``), spec evaluation protocol. Before alignment, reference and
hypothesis are normalised as ESPnet's scoring does:

- markup tokens, i.e. whitespace-separated tokens of the form ``<...>`` (BABEL's ``<hes>``,
  ``<noise>``, ``<unk>``, ... left by ``conf/babel_markup.yaml``; ESPnet's BABEL recipes list
  them as non-linguistic symbols and remove them from both sides), are removed
  (``remove_markup``);
- letters are compared case-insensitively (``ignore_case``, ``str.lower`` on both sides), as
  sclite does without ``-s`` (ESPnet's call);
- runs of whitespace count as one space, and CER counts those spaces (BABEL protocol).

No punctuation normalisation. LibriSpeech transcripts (upper case, no markup) are unchanged.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

METRICS = ("wer", "cer")
TABLE_HEADER = "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|"
TABLE_RULE = "|---|---|---|---|---|---|---|---|---|"
MARKUP_TOKEN = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class ErrorCounts:
    """Alignment counts of a set; ``num_ref`` words (WER) or characters (CER)."""

    num_sentences: int
    num_ref: int
    hits: int
    substitutions: int
    deletions: int
    insertions: int
    sentence_errors: int

    @property
    def errors(self) -> int:
        """S + D + I."""
        return self.substitutions + self.deletions + self.insertions

    @property
    def error_rate(self) -> float:
        """(S + D + I) / N_ref; +inf if the references are all empty but errors were made."""
        if self.num_ref == 0:
            return 0.0 if self.errors == 0 else float("inf")
        return self.errors / self.num_ref

    def summary(self, metric: str) -> str:
        """One line with the rate and every count."""
        return (f"{metric.upper()} {100 * self.error_rate:.2f}% (S={self.substitutions} "
                f"D={self.deletions} I={self.insertions} N={self.num_ref}; "
                f"{self.sentence_errors}/{self.num_sentences} sentences with errors)")


def is_markup(token: str) -> bool:
    """True for a non-linguistic markup token such as ``<hes>`` or ``<noise>``."""
    return MARKUP_TOKEN.fullmatch(token) is not None


def normalise(text: str, remove_markup: bool = True, ignore_case: bool = True) -> str:
    """The text that is scored: markup tokens removed, lower-cased, single spaces."""
    words = [w for w in text.split() if not (remove_markup and is_markup(w))]
    joined = " ".join(words)
    return joined.lower() if ignore_case else joined


def error_counts(refs: Mapping[str, str], hyps: Mapping[str, str], metric: str,
                 remove_markup: bool = True, ignore_case: bool = True) -> ErrorCounts:
    """Score ``hyps`` against ``refs`` (both ``utt_id -> text``) with ``metric`` wer or cer,
    after ``normalise`` of both sides.

    Every reference needs a hypothesis and vice versa (ValueError names the count and an example);
    an empty hypothesis is scored as all deletions.
    """
    import jiwer

    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if not refs:
        raise ValueError("no reference utterances")
    for a, b, what in ((refs, hyps, "no hypothesis"), (hyps, refs, "no reference")):
        missing = [k for k in a if k not in b]
        if missing:
            raise ValueError(f"{len(missing)} utterances have {what}, e.g. {missing[0]!r}")
    keys = list(refs)
    ref_texts = [normalise(refs[k], remove_markup, ignore_case) for k in keys]
    hyp_texts = [normalise(hyps[k], remove_markup, ignore_case) for k in keys]
    process = jiwer.process_words if metric == "wer" else jiwer.process_characters
    out = process(ref_texts, hyp_texts)
    num_ref = sum(len(r) for r in out.references)
    sentence_errors = sum(any(c.type != "equal" for c in a) for a in out.alignments)
    return ErrorCounts(num_sentences=len(keys), num_ref=num_ref, hits=out.hits,
                       substitutions=out.substitutions, deletions=out.deletions,
                       insertions=out.insertions, sentence_errors=sentence_errors)


def results_row(set_name: str, counts: ErrorCounts) -> str:
    """ESPnet ``RESULTS.md`` row: Corr/Sub/Del/Ins/Err in % of Wrd, S.Err in % of Snt."""
    n = max(counts.num_ref, 1)
    pct = [100 * x / n for x in (counts.hits, counts.substitutions, counts.deletions,
                                 counts.insertions, counts.errors)]
    s_err = 100 * counts.sentence_errors / max(counts.num_sentences, 1)
    cells = [set_name, str(counts.num_sentences), str(counts.num_ref)]
    cells += [f"{x:.1f}" for x in (*pct, s_err)]
    return "|" + "|".join(cells) + "|"


def _block(lines: list[str], title: Optional[str]) -> tuple[int, int]:
    """Line range of the ``## title`` section (whole top part before any ``##`` if no title);
    appends the heading when absent."""
    if title is None:
        end = next((i for i, l in enumerate(lines) if l.startswith("## ")), len(lines))
        return 0, end
    heading = f"## {title}"
    if heading not in lines:
        lines += ["", heading]
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
               len(lines))
    return start, end


def update_results(path: str | os.PathLike, set_name: str, metric: str, counts: ErrorCounts,
                   title: Optional[str] = None) -> None:
    """Add or replace ``set_name``'s row in the ``### WER``/``### CER`` table of a RESULTS.md
    (under ``## title`` if given); creates the file, section and table as needed."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if "|" in set_name or not set_name.strip():
        raise ValueError(f"bad set name {set_name!r} (empty or contains '|')")
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else ["# RESULTS"]
    start, end = _block(lines, title)
    row = results_row(set_name, counts)
    section = f"### {metric.upper()}"
    if section not in lines[start:end]:
        while end > start and not lines[end - 1].strip():
            end -= 1
        lines[end:end] = ["", section, "", TABLE_HEADER, TABLE_RULE, row]
    else:
        i = lines.index(section, start, end)
        header = next((j for j in range(i + 1, end) if lines[j].startswith("|")), None)
        if header is None or lines[header] != TABLE_HEADER:
            raise ValueError(f"{path}: the {section} section has no {TABLE_HEADER} table")
        j = header + 2
        while j < len(lines) and lines[j].startswith("|"):
            if lines[j].split("|")[1] == set_name:
                lines[j] = row
                break
            j += 1
        else:
            lines.insert(j, row)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")
