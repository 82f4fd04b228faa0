"""Dump a Kaldi data dir as 16 kHz mono 16-bit audio (ESPnet `dump/raw/<set>`).

Reads wav.scp (+segments; paths, `cmd |` pipes or ark offsets), converts to mono (multi-channel
input is an error unless --mix_channels), resamples other rates to --fs (counted in
log/dump.log), filters by duration and writes data/*.flac|wav (or arks), wav.scp,
utt2num_samples and the restricted text/utt2spk/spk2utt. Utterances with NaN/inf samples are
skipped. Skipped utterances are listed with their reason in log/skipped. A rerun with unchanged
inputs and options does nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Optional, Sequence

from dinosr_espnet.bin.cli import HelpFormatter, run_cli
from dinosr_espnet.data.audio import AudioError, ChannelError
from dinosr_espnet.data.dump import dump_data_dir
from dinosr_espnet.data.dump_worker import DumpOptions


def get_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m dinosr_espnet.bin.dump_audio", description=__doc__,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("src", help="Kaldi data dir, e.g. data/train_960")
    parser.add_argument("dst", help="output dir, e.g. dump/raw/train_960")
    parser.add_argument("--nj", type=int, default=1, help="parallel worker processes")
    parser.add_argument("--fs", type=int, default=16000, help="output sampling rate (Hz)")
    parser.add_argument("--audio_format", default="flac", choices=("flac", "wav", "ark"),
                        help="one file per utterance (flac/wav) or kaldiio arks (ark)")
    parser.add_argument("--min_dur", type=float, default=0.0,
                        help="drop utterances shorter than this (seconds)")
    parser.add_argument("--max_dur", type=float, default=math.inf,
                        help="drop utterances longer than this (seconds)")
    parser.add_argument("--mix_channels", action="store_true",
                        help="average multi-channel input to mono instead of stopping")
    parser.add_argument("--on_error", default="skip", choices=("skip", "fail"),
                        help="unreadable/missing/empty audio or NaN/inf samples: skip the "
                        "utterance (listed in log/skipped) or stop")
    parser.add_argument("--chunk_size", type=int, default=200,
                        help="utterances per task (and per ark); changes ark file names only")
    return parser


def run(args: argparse.Namespace) -> None:
    """Dump ``args.src`` into ``args.dst``."""
    opts = DumpOptions(fs=args.fs, audio_format=args.audio_format, min_dur=args.min_dur,
                       max_dur=args.max_dur, mix_channels=args.mix_channels,
                       on_error=args.on_error)
    dump_data_dir(args.src, args.dst, opts, nj=args.nj, chunk_size=args.chunk_size)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the dump; returns the exit status (1 with one line on bad input or audio)."""
    return run_cli(get_parser, run, argv,
                   user_errors=(OSError, RuntimeError, AudioError, ChannelError))


if __name__ == "__main__":
    sys.exit(main())
