"""SUPERB-style phone recognition probe: frozen DinoSR, learned softmax layer weights, linear CTC.

Example::

    python -m dinosr_espnet.bin.probe --model_file exp/dinosr/valid.loss.best.pth \\
        --train_wav_scp data/train_clean_100/wav.scp --train_phones alignments/train_clean_100.phn \\
        --dev_wav_scp data/dev_clean/wav.scp --dev_phones alignments/dev_clean.phn \\
        --out exp/probe_pr --ngpu 1

Phone labels are 100 Hz frame alignments (``uid<TAB>ph1,ph2,...``); runs merge into phone
sequences and silence/noise labels are dropped unless --keep_sil. The probe with the best dev
PER is kept (and scored on --test_* when given). Writes OUT/probe.json (PER with counts, layer
weights, history) and OUT/probe.pth (featuriser + head weights, phone list).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch

from dinosr_espnet.bin.cli import HelpFormatter, run_cli
from dinosr_espnet.bin.extract import add_model_arguments, load_model, make_loader
from dinosr_espnet.eval.extract_io import read_wav_scp
from dinosr_espnet.eval.probing import (
    DEFAULT_DROP, LinearCTCProbe, PhoneVocab, ProbeConfig, UpstreamFeatures, collapse_labels,
    evaluate_probe, train_probe,
)
from dinosr_espnet.eval.units import read_phone_labels
from dinosr_espnet.eval.upstream import DinoSRUpstream

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dinosr_espnet.bin.probe", description=__doc__,
                                     formatter_class=HelpFormatter)
    add_model_arguments(parser, extraction=False)
    data = parser.add_argument_group("data")
    for split, required in (("train", True), ("dev", True), ("test", False)):
        data.add_argument(f"--{split}_wav_scp", required=required, type=Path,
                          help=f"{split} utterances (Kaldi wav.scp)")
        data.add_argument(f"--{split}_phones", required=required, type=Path,
                          help="100 Hz frame phone labels, uid<TAB>ph1,ph2,...")
    data.add_argument("--keep_sil", action="store_true",
                      help=f"keep {', '.join(DEFAULT_DROP)} as phone tokens (default: dropped)")
    data.add_argument("--strip_stress", action="store_true", help="AH0/AH1 -> AH")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    train = parser.add_argument_group("training")
    train.add_argument("--layer_norm", action="store_true", help="layer-normalise each hidden state")
    train.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate")
    train.add_argument("--batch_size", type=int, default=32, help="utterances per update")
    train.add_argument("--max_steps", type=int, default=20000, help="updates")
    train.add_argument("--eval_steps", type=int, default=1000, help="dev PER every N updates")
    train.add_argument("--seed", type=int, default=0, help="initialisation and batch order")
    train.add_argument("--cache_features", action="store_true",
                       help="keep every hidden state in memory (float16) after its first use")
    return parser


def _phone_sequences(wav_scp: Path, phones: Path, args: argparse.Namespace, split: str
                     ) -> tuple[dict[str, str], dict[str, list[str]]]:
    """wav.scp entries and phone sequences of the utterances that have both (others counted)."""
    entries = read_wav_scp(wav_scp)
    labels = read_phone_labels(phones, strip_stress=args.strip_stress)
    drop = () if args.keep_sil else DEFAULT_DROP
    seqs = {u: collapse_labels(labels[u], drop) for u in entries if u in labels}
    empty = [u for u, s in seqs.items() if not s]
    skipped = {"no_phones": len(set(entries) - set(labels)), "no_audio": len(set(labels) - set(entries)),
               "only_silence": len(empty) if split != "train" else 0}
    if split != "train":  # an empty reference has no PER; in training it teaches the blank
        seqs = {u: s for u, s in seqs.items() if s}
    for reason, count in skipped.items():
        if count:
            logger.warning("%s: skipped %d utterances (%s)", split, count, reason)
    if not seqs:
        raise ValueError(f"{wav_scp} and {phones}: no utterance with both audio and phones")
    return {u: entries[u] for u in seqs}, seqs


def run(args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    upstream = DinoSRUpstream(load_model(args))
    load = make_loader(upstream.inference, args)
    splits = {"train": (args.train_wav_scp, args.train_phones), "dev": (args.dev_wav_scp, args.dev_phones)}
    if args.test_wav_scp or args.test_phones:
        if not (args.test_wav_scp and args.test_phones):
            raise SystemExit("give both --test_wav_scp and --test_phones")
        splits["test"] = (args.test_wav_scp, args.test_phones)
    data = {name: _phone_sequences(scp, phn, args, name) for name, (scp, phn) in splits.items()}
    sources = {name: UpstreamFeatures(upstream, lambda u, e=entries: load(u, e[u]), args.cache_features)
               for name, (entries, _) in data.items()}
    vocab = PhoneVocab(list(data["train"][1].values()))
    targets = {u: vocab.encode(s, u) for u, s in data["train"][1].items()}
    for name in ("dev", "test"):
        if name in data:
            unseen = {p for s in data[name][1].values() for p in s} - set(vocab.index)
            if unseen:
                logger.warning("%s phones never seen in training (always errors): %s", name, sorted(unseen))
    device = "cuda" if args.ngpu else "cpu"
    probe = LinearCTCProbe(upstream.num_states, upstream.hidden_size, len(vocab), args.layer_norm)
    config = ProbeConfig(lr=args.lr, batch_size=args.batch_size, max_steps=args.max_steps,
                         eval_steps=args.eval_steps, seed=args.seed, device=device)
    result = train_probe(probe, sources["train"], targets, sources["dev"], data["dev"][1], vocab, config)
    report = {"dev": result.dev, "best_step": result.best_step, "layer_weights": result.layer_weights,
              "phones": vocab.phones, "keep_sil": args.keep_sil, "config": vars(config),
              "dev_history": result.dev_history, "train_loss": result.losses}
    if "test" in data:
        report["test"] = evaluate_probe(probe, sources["test"], data["test"][1], vocab,
                                        args.batch_size, device)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "probe.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    torch.save({"state_dict": probe.state_dict(), "phones": vocab.phones, "layer_norm": args.layer_norm},
               args.out / "probe.pth")
    for name in ("dev", "test"):
        if name in report:
            r = report[name]
            print(f"{name} PER {100 * r['per']:.2f}% (S {r['substitutions']} D {r['deletions']} "
                  f"I {r['insertions']} / N {r['num_ref']}, {r['num_utterances']} utterances)")
    print("layer weights: " + " ".join(f"{w:.3f}" for w in result.layer_weights))
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_cli(build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
