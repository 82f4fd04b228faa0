"""Per-utterance scoring file, in the layout of sclite's ``.pra`` (ESPnet's
``score_{wer,cer}/result.txt``): for each utterance its counts and the aligned REF/HYP with the
errors marked, so that a RESULTS.md row can be traced to the utterances behind it.

Same alignment and normalisation as ``decode.scoring`` (jiwer on ``normalise``d text: markup
removed, case ignored, whitespace runs as one space; CER aligns characters, the space shown as
``<space>``), so the per-utterance counts add up to the RESULTS.md row."""
from __future__ import annotations

from typing import Mapping

from dinosr_espnet.decode.scoring import error_counts, normalise

_MARK = {"substitute": "S", "delete": "D", "insert": "I", "equal": ""}


def _token(text: str) -> str:
    return "<space>" if text == " " else text


def _aligned(ref: list[str], hyp: list[str], chunks) -> tuple[str, str, str]:
    """REF, HYP and Eval lines, one column per aligned token (``***`` where one side is empty)."""
    columns = []
    for chunk in chunks:
        rs = ref[chunk.ref_start_idx:chunk.ref_end_idx]
        hs = hyp[chunk.hyp_start_idx:chunk.hyp_end_idx]
        if chunk.type == "delete":
            hs = ["***"] * len(rs)
        elif chunk.type == "insert":
            rs = ["***"] * len(hs)
        for r, h in zip(rs, hs):
            columns.append((_token(r), _token(h), _MARK[chunk.type]))
    widths = [max(len(r), len(h), len(m)) for r, h, m in columns]
    lines = (" ".join(c[k].ljust(w) for c, w in zip(columns, widths)).rstrip() for k in range(3))
    return tuple(lines)  # type: ignore[return-value]


def utterance_report(refs: Mapping[str, str], hyps: Mapping[str, str], metric: str) -> str:
    """The scoring file's text: a header with the set's counts, then one block per utterance
    (sorted by id): ``id``, ``Scores: (#C #S #D #I)``, ``REF``, ``HYP`` and ``Eval``."""
    import jiwer

    total = error_counts(refs, hyps, metric)  # also checks that the utterances match
    process = jiwer.process_words if metric == "wer" else jiwer.process_characters
    keys = sorted(refs)
    out = process([normalise(refs[k]) for k in keys], [normalise(hyps[k]) for k in keys])
    unit = "words" if metric == "wer" else "characters"
    lines = [f"# {metric.upper()} per utterance ({unit}): {total.summary(metric)}", ""]
    for key, ref, hyp, chunks in zip(keys, out.references, out.hypotheses, out.alignments):
        counts = {t: sum(max(c.ref_end_idx - c.ref_start_idx, c.hyp_end_idx - c.hyp_start_idx)
                         for c in chunks if c.type == t) for t in _MARK}
        ref_line, hyp_line, eval_line = _aligned(ref, hyp, chunks)
        lines += [f"id: ({key})",
                  f"Scores: (#C #S #D #I) {counts['equal']} {counts['substitute']} "
                  f"{counts['delete']} {counts['insert']}",
                  f"REF:  {ref_line}", f"HYP:  {hyp_line}", f"Eval: {eval_line}".rstrip(), ""]
    return "\n".join(lines)

