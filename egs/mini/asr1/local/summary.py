"""Summary of the mini recipe: WER of both inits (Viterbi and LM), the checks the demo must
pass (the paper's effects: WER ratio, codebook PNMI and ABX against the MFCC baseline, active
codewords; the corpus's difficulty for that baseline), the units report's highlights and the
time of every stage; printed and written as Markdown (``exp/summary.md``)."""
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
    parser.add_argument("--difficulty", type=Path, help="corpus difficulty JSON (corpus_difficulty.py)")
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
    pairs = [(s, rows["DinoSR init"][s, "lm"], rows["random init"][s, "lm"]) for s in sets]
    if all(a is not None and b is not None for _, a, b in pairs):
        ok = all(a.error_rate <= WER_RATIO * b.error_rate for _, a, b in pairs)
        ratios = ", ".join(f"{s} {a.error_rate / max(b.error_rate, 1e-9):.2f}" for s, a, b in pairs)
        checks.append(f"- DinoSR init 4-gram WER <= {WER_RATIO} x random init, every set "
                      f"(ratios: {ratios}): {yes(ok)}")
    for name, r in rows.items():
        if all(r[s, "lm"] is not None for s in sets):
            ok = all(r[s, "lm"].error_rate < r[s, "viterbi"].error_rate for s in sets)
            checks.append(f"- 4-gram below Viterbi ({name}, every set): {'yes' if ok else 'NO'}")
    return lines, checks


WER_RATIO = 0.7          # DinoSR-init WER at most this times the random-init WER (4-gram)
PNMI_RATIO = 1.5         # best codebook PNMI at least this times MFCC k-means PNMI (k = V)
ACTIVE_SHARE = 0.8       # share of the best codebook's codewords in use
# Corpus difficulty for the MFCC baseline on dev_clean (legacy-slicing ABX, k-means k = 100):
# real LibriSpeech is about 11 % / 21 % ABX and PNMI 0.26.
CORPUS_BARS = {"abx_within": 8.0, "abx_across": 15.0, "pnmi": 0.35}


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def best_layer(report: dict) -> Optional[str]:
    """The codebook layer (``layer<i>``) with the highest PNMI, None without codebooks."""
    layers = {name: q["pnmi"] for name, q in report["unit_quality"].items() if name.startswith("layer")}
    return max(layers, key=layers.get) if layers else None


def units_checks(report: dict, layer_kmeans: Optional[dict] = None) -> list[str]:
    """The paper's unit effects on the best codebook layer (highest PNMI): PNMI at least
    1.5 x MFCC k-means with as many clusters (k = V), cosine ABX below the MFCCs' within and
    across speaker, at least 80 % of the codewords active; plus k-means on that layer."""
    quality, abx = report["unit_quality"], report["abx"]
    best = best_layer(report)
    if best is None:
        return []
    size = report["codebook_size"]
    q = quality[best]
    checks = []
    mfcc_q = quality.get(f"mfcc_k{size}")
    if mfcc_q is not None:
        ok = q["pnmi"] >= PNMI_RATIO * mfcc_q["pnmi"]
        checks.append(f"- DinoSR codebook PNMI (layer {best[5:]}) >= {PNMI_RATIO} x MFCC k-means with "
                      f"k = V = {size} ({q['pnmi']:.3f} vs {mfcc_q['pnmi']:.3f}, ratio "
                      f"{q['pnmi'] / mfcc_q['pnmi']:.2f}; paper 0.57 vs 0.28): {yes(ok)}")
    mfcc_abx, layer_abx = abx.get("mfcc/cosine", {}), abx.get(f"{best}/cosine", {})
    for cond in ("within", "across"):
        if layer_abx.get(cond) is not None and mfcc_abx.get(cond) is not None:
            ok = layer_abx[cond] < mfcc_abx[cond]
            checks.append(f"- DinoSR ABX {cond} speaker (layer {best[5:]}) below MFCC "
                          f"({100 * layer_abx[cond]:.1f}% vs {100 * mfcc_abx[cond]:.1f}%): {yes(ok)}")
    if "active_codewords" in q:
        share = q["active_codewords"] / size
        checks.append(f"- codewords active (layer {best[5:]}) >= {ACTIVE_SHARE:.0%} "
                      f"({q['active_codewords']} of {size}): {yes(share >= ACTIVE_SHARE)}")
    if layer_kmeans:
        for k, pnmi in layer_kmeans["pnmi"].items():
            mfcc_k = quality.get(f"mfcc_k{k}")
            mfcc_text = f"MFCC k-means {mfcc_k['pnmi']:.3f}" if mfcc_k else "no MFCC k-means"
            checks.append(f"- k-means on layer {layer_kmeans['layer']} features, k = {k}: PNMI {pnmi:.3f} "
                          f"({mfcc_text}; paper: DinoSR L5 k-means 0.62, MFCC 0.28)")
    return checks


def corpus_checks(difficulty: dict) -> list[str]:
    """The corpus is as hard as real speech for the MFCC baseline (dev_clean) and dev_other
    is harder than dev_clean on every measure."""
    clean = difficulty.get("dev_clean")
    if clean is None or None in clean.values():
        return [f"- dev_clean difficulty not measurable (too few ABX cells): {clean}"]
    hard = (clean["abx_within"] >= CORPUS_BARS["abx_within"] and clean["abx_across"] >= CORPUS_BARS["abx_across"]
            and clean["pnmi"] <= CORPUS_BARS["pnmi"])
    lines = [f"- dev_clean MFCC ABX within {clean['abx_within']:.1f}% (real ≈ 11%), across "
             f"{clean['abx_across']:.1f}% (real ≈ 21%), MFCC k-means PNMI k = {clean['k']} "
             f"{clean['pnmi']:.3f} (real ≈ 0.26); as hard as real speech (within >= "
             f"{CORPUS_BARS['abx_within']:g}%, across >= {CORPUS_BARS['abx_across']:g}%, PNMI <= "
             f"{CORPUS_BARS['pnmi']}): {yes(hard)}"]
    other = difficulty.get("dev_other")
    if other is not None and None not in other.values():
        ok = (other["abx_within"] > clean["abx_within"] and other["abx_across"] > clean["abx_across"]
              and other["pnmi"] < clean["pnmi"])
        lines.append(f"- dev_other harder than dev_clean (ABX within {other['abx_within']:.1f}%, across "
                     f"{other['abx_across']:.1f}%, PNMI {other['pnmi']:.3f}): {yes(ok)}")
    return lines


def units_section(units: Optional[Path]) -> list[str]:
    """Codebook layers vs MFCC k-means: PNMI and ABX (cosine), then the units checks."""
    if units is None or not (units / "report.json").is_file():
        return ["(no units report)"]
    report = json.loads((units / "report.json").read_text(encoding="utf-8"))
    kmeans_path = units / "layer_kmeans.json"
    layer_kmeans = json.loads(kmeans_path.read_text(encoding="utf-8")) if kmeans_path.is_file() else None
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
    return lines + ["", *units_checks(report, layer_kmeans), "", f"Full report: `{units / 'report.md'}`"]


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
    if args.difficulty is not None and args.difficulty.is_file():
        difficulty = json.loads(args.difficulty.read_text(encoding="utf-8"))
        text += ["## Corpus difficulty for the MFCC baseline (legacy-slicing ABX)", "",
                 *corpus_checks(difficulty), ""]
    timing = times_section(args.times, args.elapsed)
    if timing:
        text += ["## Time per stage", "", *timing, ""]
    text += [f"Results: `{args.dinosr}/RESULTS.md`, `{args.random}/RESULTS.md`"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
