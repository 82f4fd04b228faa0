"""Summary of the mini recipe: WER of both inits (Viterbi and LM), the checks the demo must
pass, the units report's highlights and the time of every stage; printed and written as
Markdown (``exp/summary.md``)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional

from dinosr_espnet.data.kaldi_dir import read_kaldi_map
from dinosr_espnet.decode.scoring import ErrorCounts, error_counts


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dinosr", type=Path, required=True, help="fine-tuning exp, DinoSR init")
    parser.add_argument("--random", type=Path, required=True, help="fine-tuning exp, random init")
    parser.add_argument("--dumpdir", type=Path, default=Path("dump"), help="dump dir (references)")
    parser.add_argument("--sets", default="dev test_clean test_other", help="sets to report")
    parser.add_argument("--units", type=Path, help="units report dir (report.json)")
    parser.add_argument("--times", type=Path, help="stage times (tsv: stage, name, seconds, log)")
    parser.add_argument("--size", default="demo", help="corpus size, for the title")
    parser.add_argument("--elapsed", type=int, help="wall-clock seconds of the run so far")
    parser.add_argument("--out", type=Path, required=True, help="Markdown summary to write")
    return parser


def decode_dir(exp: Path) -> Path:
    """The decoding dir of an experiment (``decode_<model>``)."""
    dirs = sorted(exp.glob("decode_*"))
    if len(dirs) != 1:
        raise FileNotFoundError(f"{exp}: expected one decode_* dir, found {len(dirs)}")
    return dirs[0]


def wer(exp: Path, dumpdir: Path, set_name: str, mode: str) -> Optional[ErrorCounts]:
    """Corpus WER of one set and decoding mode (``viterbi`` or ``lm``), None if not decoded."""
    d = decode_dir(exp) / set_name
    hyp = d / "viterbi" / "text" if mode == "viterbi" else next(iter(sorted(d.glob("lm_*/text"))), None)
    if hyp is None or not hyp.is_file():
        return None
    refs = read_kaldi_map(dumpdir / "raw" / set_name / "text", allow_empty_value=True)
    return error_counts(refs, read_kaldi_map(hyp, allow_empty_value=True), "wer")


def pct(c: Optional[ErrorCounts]) -> str:
    return "n/a" if c is None else f"{100 * c.error_rate:.1f}"


def wer_section(args: argparse.Namespace, sets: list[str]) -> tuple[list[str], list[str]]:
    """The WER table and the demo's checks (both inits, every set)."""
    rows = {name: {(s, m): wer(exp, args.dumpdir, s, m) for s in sets for m in ("viterbi", "lm")}
            for name, exp in (("DinoSR init", args.dinosr), ("random init", args.random))}
    head = "| fine-tuned from | " + " | ".join(f"{s} Viterbi | {s} 4-gram" for s in sets) + " |"
    lines = [head, "|---" * (1 + 2 * len(sets)) + "|"]
    for name, r in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{pct(r[s, 'viterbi'])} | {pct(r[s, 'lm'])}"
                                                   for s in sets) + " |")
    checks = []
    for mode in ("viterbi", "lm"):
        pairs = [(rows["DinoSR init"][s, mode], rows["random init"][s, mode]) for s in sets]
        if all(a is not None and b is not None for a, b in pairs):
            ok = all(a.error_rate < b.error_rate for a, b in pairs)
            checks.append(f"- DinoSR init below random init ({mode}, every set): {'yes' if ok else 'NO'}")
    for name, r in rows.items():
        if all(r[s, "lm"] is not None for s in sets):
            ok = all(r[s, "lm"].error_rate < r[s, "viterbi"].error_rate for s in sets)
            checks.append(f"- 4-gram below Viterbi ({name}, every set): {'yes' if ok else 'NO'}")
    return lines, checks


def units_checks(report: dict) -> list[str]:
    """The units effects: the best codebook's PNMI above MFCC k-means with as many clusters
    (k = V), and the best layer's cosine ABX (within and across) below the MFCCs'."""
    quality, abx = report["unit_quality"], report["abx"]
    checks = []
    mfcc_q = quality.get(f"mfcc_k{report['codebook_size']}")
    codebooks = [q["pnmi"] for name, q in quality.items() if name.startswith("layer")]
    if mfcc_q is not None and codebooks:
        ok = max(codebooks) > mfcc_q["pnmi"]
        checks.append(f"- DinoSR codebook PNMI above MFCC k-means with k = V = "
                      f"{report['codebook_size']} ({max(codebooks):.3f} vs {mfcc_q['pnmi']:.3f}): "
                      f"{'yes' if ok else 'NO'}")
    mfcc_abx = abx.get("mfcc/cosine", {})
    for cond in ("within", "across"):
        layers = [a[cond] for name, a in abx.items()
                  if name.startswith("layer") and name.endswith("/cosine") and a.get(cond) is not None]
        if layers and mfcc_abx.get(cond) is not None:
            ok = min(layers) < mfcc_abx[cond]
            checks.append(f"- DinoSR ABX {cond} speaker below MFCC ({100 * min(layers):.1f}% vs "
                          f"{100 * mfcc_abx[cond]:.1f}%): {'yes' if ok else 'NO'}")
    return checks


def units_section(units: Optional[Path]) -> list[str]:
    """Codebook layers vs MFCC k-means: PNMI and ABX (cosine), then the units checks."""
    if units is None or not (units / "report.json").is_file():
        return ["(no units report)"]
    report = json.loads((units / "report.json").read_text(encoding="utf-8"))
    quality, abx = report["unit_quality"], report["abx"]
    lines = ["| units | PNMI | phone purity | perplexity | ABX within | ABX across |",
             "|---|---|---|---|---|---|"]
    for name, q in quality.items():
        features = f"{name}/cosine" if name.startswith("layer") else "mfcc/cosine"
        a = abx.get(features, {})
        within, across = (("n/a" if a.get(k) is None else f"{100 * a[k]:.1f}") for k in ("within", "across"))
        label = (f"layer {name[5:]} codebook" if name.startswith("layer")
                 else f"MFCC k-means, k={name.split('_k')[-1]}")
        lines.append(f"| {label} | {q['pnmi']:.3f} | {q['phone_purity']:.3f} | {q['perplexity']:.1f} "
                     f"| {within} | {across} |")
    return lines + ["", *units_checks(report), "", f"Full report: `{units / 'report.md'}`"]


def times_section(times: Optional[Path], elapsed: Optional[int]) -> list[str]:
    """Seconds per stage (the two fine-tunings run side by side) and the wall-clock total."""
    if times is None or not times.is_file():
        return []
    lines = ["| stage | seconds | log |", "|---|---|---|"]
    total = 0
    for line in times.read_text(encoding="utf-8").splitlines():
        stage, name, seconds, log = (line.split("\t") + [""])[:4]
        total += int(seconds)
        lines.append(f"| {stage} {name} | {seconds} | `{log}` |")
    lines.append(f"| sum of the stages | {total} | |")
    if elapsed is not None:
        lines.append(f"| wall clock, corpus to summary | {elapsed} | |")
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    sets = args.sets.split()
    table, checks = wer_section(args, sets)
    text = [f"# Mini recipe summary ({args.size} corpus)", "",
            "## WER (%)", "", *table, "",
            "4-gram: lm_weight and word_score tuned on dev only, then applied to every set.", "",
            "## Checks", "", *checks, "",
            "## Units of the pretrained model (dev_clean)", "", *units_section(args.units), ""]
    timing = times_section(args.times, args.elapsed)
    if timing:
        text += ["## Time per stage", "", *timing, ""]
    text += [f"Results: `{args.dinosr}/RESULTS.md`, `{args.random}/RESULTS.md`"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
