"""Units report of a DinoSR model: unit quality per codebook layer, MFCC k-means baseline, ABX
and pictures, written as OUT_DIR/report.md, report.json and PNG files.

Example::

    python -m dinosr_espnet.bin.units_report --model_file exp/dinosr/valid.loss.best.pth \\
        --wav_scp data/dev_clean/wav.scp --phones alignments/dev_clean.phn \\
        --item abx/dev_clean.item --out_dir exp/units --layers all --mfcc_k 100,256 \\
        --train_log exp/dinosr/train.log --ngpu 1

--phones: 100 Hz frame labels (uid<TAB>ph1,ph2,...); --item: ZeroSpeech 2021 item file whose
#file column is the utterance id. Layers are hidden-state indices (0 = transformer input,
i = layer i); unit quality and JS-ABX apply to the layers that have a codebook. Also kept:
OUT_DIR/codewords/layer{i}.txt (units) and OUT_DIR/joint/*.npz (phone x unit counts);
layer features go to OUT_DIR/work (float16, ABX utterances only) and are deleted at the end
unless --keep_features.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from dinosr_espnet.bin.cli import HelpFormatter, run_cli
from dinosr_espnet.bin.extract import add_model_arguments, load_model, make_extractor, make_loader
from dinosr_espnet.eval.abx.slicing import SLICING_MODES
from dinosr_espnet.eval.extract_io import read_wav_scp
from dinosr_espnet.eval.extraction import codebook_layers, parse_layers
from dinosr_espnet.eval.report import ReportOptions, UnitsReport


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    return values


def _limit(text: str) -> Optional[int]:
    return None if text.lower() == "none" else int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dinosr_espnet.bin.units_report", description=__doc__,
                                     formatter_class=HelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--wav_scp", required=True, type=Path, help="utterances to analyse")
    parser.add_argument("--phones", required=True, type=Path, help="frame phone labels (.phn)")
    parser.add_argument("--item", required=True, type=Path, help="ABX .item file")
    parser.add_argument("--out_dir", required=True, type=Path, help="where the report goes")
    parser.add_argument("--layers", default="all", help="'all' or hidden-state indices, e.g. 5,8,11")
    parser.add_argument("--mfcc_k", type=_ints, default=[100, 256],
                        help="MFCC k-means baseline sizes, comma-separated ('' to skip)")
    parser.add_argument("--mfcc_n_init", type=int, default=20, help="k-means++ restarts")
    parser.add_argument("--mfcc_max_frames", type=int, help="fit k-means on at most this many frames")
    parser.add_argument("--mfcc_fit_wav_scp", type=Path,
                        help="fit the MFCC k-means on these utterances (e.g. training audio, as "
                             "HuBERT and the DinoSR codebooks); default: the --wav_scp set")
    parser.add_argument("--train_log", type=Path, help="ESPnet train.log for the training curves")
    parser.add_argument("--label_rate", type=float, default=100.0, help="phone label frames per second")
    parser.add_argument("--strip_stress", action="store_true", help="AH0/AH1 -> AH")
    parser.add_argument("--abx_max_size_group", type=_limit, default=10, help="'none': no subsampling")
    parser.add_argument("--abx_max_x_across", type=_limit, default=5, help="'none': all X speakers")
    parser.add_argument("--abx_slicing", choices=SLICING_MODES, default="corrected",
                        help="legacy: libri-light (drops each token's last frame); corrected: "
                        "keeps it")
    parser.add_argument("--seed", type=int, default=0, help="ABX subsampling, k-means and t-SNE seed")
    parser.add_argument("--embedding", choices=("tsne", "pca"), default="tsne",
                        help="2-D map of the codewords")
    parser.add_argument("--keep_features", action="store_true", help="keep OUT_DIR/work")
    return parser


def run(args: argparse.Namespace) -> dict:
    inference = load_model(args)
    layers = parse_layers(args.layers, inference.config.num_layers + 1)
    books = codebook_layers(inference)
    if not any(i in books for i in layers):
        raise SystemExit(f"--layers {args.layers}: none has a codebook (layers with one: "
                         f"{min(books)}..{max(books)})")
    options = ReportOptions(
        layers=layers, mfcc_k=args.mfcc_k, mfcc_n_init=args.mfcc_n_init,
        mfcc_max_frames=args.mfcc_max_frames, label_rate=args.label_rate,
        strip_stress=args.strip_stress, abx_max_size_group=args.abx_max_size_group,
        abx_max_x_across=args.abx_max_x_across, abx_slicing=args.abx_slicing, seed=args.seed,
        device="cuda" if args.ngpu else "cpu", embedding=args.embedding,
        keep_features=args.keep_features)
    extractor = make_extractor(inference, args, layers, codewords=True, head_probs=True)
    report = UnitsReport(extractor, args.out_dir, options)
    fit = read_wav_scp(args.mfcc_fit_wav_scp) if args.mfcc_fit_wav_scp else None
    results = report.run(read_wav_scp(args.wav_scp), make_loader(inference, args), args.phones,
                         args.item, args.train_log, mfcc_fit=fit)
    print((args.out_dir / "report.md").read_text(encoding="utf-8"))
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_cli(build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
