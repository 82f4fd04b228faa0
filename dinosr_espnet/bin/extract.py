"""Extract DinoSR layer features, teacher codewords and student head probabilities.

Example::

    python -m dinosr_espnet.bin.extract --model_file exp/dinosr/valid.loss.best.pth \\
        --wav_scp data/dev_clean/wav.scp --out_dir exp/extract/dev_clean \\
        --layers 5,11 --what features,codewords,probs --format npy --ngpu 1

Layer numbers are hidden-state indices: 0 = transformer input, i = output of layer i
(1-based, as in the paper's "layer 5"). The codebook of layer i is fed by teacher layer i's FFN
output; only the top N layers have one. Outputs in OUT_DIR:

    features/layer{i}/<uid>.npy (T, D)   or features/layer{i}/feats.{ark,scp}
    codewords/layer{i}.txt               uid<TAB>u1 u2 ... (teacher codeword per frame)
    probs/layer{i}/...                   (T, V) softmax of the student head for that codebook
    extract.json                         what was written, frame rate, codebook <-> layer map

Long files are cut into chunks of --chunk_seconds with --context_seconds of extra audio on each
side (dropped from the output); the output always has the CNN's num_frames(whole file) frames.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Optional, Sequence

import torch

from dinosr_espnet.bin.cli import HelpFormatter, run_cli
from dinosr_espnet.eval.extract_io import FORMATS, AudioLoader, MatrixWriter, UnitsWriter, read_wav_scp
from dinosr_espnet.eval.extraction import CorpusExtractor, codebook_layers, parse_layers
from dinosr_espnet.inference import DinoSRInference
from dinosr_espnet.interop.espnet_dir import resolve_model_file

logger = logging.getLogger(__name__)

WHAT = ("features", "codewords", "probs")


def add_model_arguments(parser: argparse.ArgumentParser, extraction: bool = True) -> None:
    """Options shared by the tools that read a DinoSR checkpoint and a wav.scp
    (``extraction``: also batching and chunking of the corpus pass)."""
    group = parser.add_argument_group("model and audio")
    group.add_argument("--model_file", required=True, type=Path,
                       help="ESPnet model (.pth) or experiment directory")
    group.add_argument("--config_file", type=Path,
                       help="config.yaml (default: the one next to the model file)")
    group.add_argument("--ngpu", type=int, default=0, choices=(0, 1), help="0: CPU, 1: one GPU")
    group.add_argument("--resample", action="store_true",
                       help="resample audio at other rates to the model's rate (else: error)")
    group.add_argument("--mix_channels", action="store_true",
                       help="average multi-channel audio (else: error)")
    if extraction:
        group.add_argument("--batch_size", type=int, default=8, help="waveforms per forward pass")
        group.add_argument("--chunk_seconds", type=float, default=30.0,
                           help="cut longer files into chunks of this length (0: never)")
        group.add_argument("--context_seconds", type=float, default=2.0,
                           help="audio added on each side of a chunk and dropped from its output")


def load_model(args: argparse.Namespace) -> DinoSRInference:
    """The inference model named by ``add_model_arguments`` options, on CPU or one GPU."""
    if args.ngpu and not torch.cuda.is_available():
        raise SystemExit("--ngpu 1 given but no CUDA device is visible")
    return DinoSRInference.from_pretrained(resolve_model_file(args.model_file), args.config_file,
                                           device="cuda" if args.ngpu else "cpu")


def make_extractor(inference: DinoSRInference, args: argparse.Namespace, layers: Sequence[int],
                   codewords: bool, head_probs: bool) -> CorpusExtractor:
    """A ``CorpusExtractor`` configured from ``add_model_arguments`` options."""
    return CorpusExtractor(inference, layers, codewords=codewords, head_probs=head_probs,
                           batch_size=args.batch_size,
                           chunk_seconds=args.chunk_seconds or None,
                           context_seconds=args.context_seconds)


def make_loader(inference: DinoSRInference, args: argparse.Namespace) -> AudioLoader:
    return AudioLoader(inference.fs, allow_resample=args.resample, mix_channels=args.mix_channels)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dinosr_espnet.bin.extract", description=__doc__,
                                     formatter_class=HelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--wav_scp", required=True, type=Path, help="utterances to process")
    parser.add_argument("--out_dir", required=True, type=Path, help="where the outputs go")
    parser.add_argument("--layers", default="all", help="'all' or hidden-state indices, e.g. 5,11")
    parser.add_argument("--what", default="features,codewords",
                        help=f"comma list of {','.join(WHAT)}")
    parser.add_argument("--format", choices=FORMATS, default="npy",
                        help="matrices as <uid>.npy files or a Kaldi feats.ark/feats.scp")
    parser.add_argument("--dtype", choices=("float32", "float16"), default="float32",
                        help="storage type of .npy matrices")
    return parser


def run(args: argparse.Namespace) -> dict:
    """Extract as configured by ``args``; returns the ``extract.json`` manifest."""
    what = [w.strip() for w in args.what.split(",") if w.strip()]
    unknown = sorted(set(what) - set(WHAT))
    if unknown or not what:
        raise SystemExit(f"--what: unknown item(s) {unknown}; choose from {', '.join(WHAT)}")
    inference = load_model(args)
    layers = parse_layers(args.layers, inference.config.num_layers + 1)
    books = codebook_layers(inference)
    unit_layers = [i for i in layers if i in books]
    if ("codewords" in what or "probs" in what) and not unit_layers:
        raise SystemExit(f"--layers {args.layers}: none has a codebook (layers with one: "
                         f"{min(books)}..{max(books)})")
    if ("codewords" in what or "probs" in what) and len(unit_layers) < len(layers):
        logger.info("layers %s have no codebook: features only",
                    [i for i in layers if i not in books])
    feature_layers = layers if "features" in what else []
    extractor = make_extractor(inference, args, feature_layers, "codewords" in what, "probs" in what)
    entries = read_wav_scp(args.wav_scp)
    out = args.out_dir
    frames = 0
    with ExitStack() as stack:
        feats = {i: stack.enter_context(MatrixWriter(out / "features" / f"layer{i}", args.format,
                                                     args.dtype)) for i in feature_layers}
        units = ({i: stack.enter_context(UnitsWriter(out / "codewords" / f"layer{i}.txt"))
                  for i in unit_layers} if "codewords" in what else {})
        probs = ({i: stack.enter_context(MatrixWriter(out / "probs" / f"layer{i}", args.format,
                                                      args.dtype)) for i in unit_layers}
                 if "probs" in what else {})
        for uid, result in extractor.iterate(entries, make_loader(inference, args)):
            frames += result.num_frames
            for i, writer in feats.items():
                writer.write(uid, result.hidden_states[i].numpy())
            for i, writer in units.items():
                writer.write(uid, result.codeword_indices[books[i]].numpy())
            for i, writer in probs.items():
                writer.write(uid, result.head_probs[books[i]].numpy())
    manifest = {
        "model_file": str(resolve_model_file(args.model_file)),
        "wav_scp": str(args.wav_scp),
        "num_utterances": len(entries),
        "num_frames": frames,
        "frame_rate": inference.fs / inference.config.conv_stride,
        "codebook_of_layer": {str(i): books[i] for i in unit_layers},
        "codebook_size": inference.config.codebook_size,
        "features": {str(i): str(w.source) for i, w in feats.items()},
        "codewords": {str(i): str(w.path) for i, w in units.items()},
        "probs": {str(i): str(w.source) for i, w in probs.items()},
        "chunk_seconds": args.chunk_seconds or None,
        "context_seconds": args.context_seconds,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "extract.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    logger.info("extracted %d utterances, %d frames into %s", len(entries), frames, out)
    return manifest


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_cli(build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
