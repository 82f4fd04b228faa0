"""CTC emissions and Viterbi transcripts of a fine-tuned DinoSR ASR model.

``python -m dinosr_espnet.bin.asr_inference`` loads an ASR experiment (``config.yaml`` + a
``.pth`` from ``dinosr_espnet.bin.asr_train``), runs it on a data directory's ``wav.scp`` in
length-sorted, padded batches and writes to ``--output_dir``:

- ``emissions.ark`` / ``emissions.scp``: per utterance, CTC log-probabilities (T, V) float32
  (kaldiio; column v is token v of ``tokens.txt``, blank = ``<blank>``);
- ``text``: Viterbi (best path) hypotheses (``dinosr_espnet.decode.viterbi``; ``|`` → space);
- ``tokens.txt``: the model's token list, one per line.

The decoding package (``dinosr_espnet.decode``) turns the emissions into LM-decoded text.

Example::

    python -m dinosr_espnet.bin.asr_inference --asr_train_config exp/asr_10h/config.yaml \\
        --asr_model_file exp/asr_10h/valid.cer_ctc.ave.pth --data_dir dump/raw/test_other \\
        --output_dir exp/asr_10h/decode_test_other --batch_size 16 --ngpu 1
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch

from dinosr_espnet.bin.cli import HelpFormatter, run_cli

logger = logging.getLogger("dinosr_espnet.asr_inference")


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description="Write CTC log-probabilities (emissions.scp) and Viterbi hypotheses "
        "(text) of a fine-tuned DinoSR ASR model for a data directory.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--asr_train_config", required=True,
                        help="config.yaml written by dinosr_espnet.bin.asr_train")
    parser.add_argument("--asr_model_file", required=True,
                        help="model weights, e.g. exp/asr/valid.cer_ctc.ave.pth")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--data_dir", help="Kaldi data dir with wav.scp (and utt2num_samples, "
                      "used to batch utterances of similar length)")
    data.add_argument("--wav_scp", help="a wav.scp file instead of --data_dir")
    parser.add_argument("--speech_type", default="sound",
                        help="ESPnet data type of the scp entries (sound, kaldi_ark, ...)")
    parser.add_argument("--key_file", default=None,
                        help="only decode these utterance ids (first column); for splitting "
                        "a set over parallel jobs")
    parser.add_argument("--output_dir", required=True, help="where the outputs are written")
    parser.add_argument("--batch_size", type=int, default=8, help="utterances per batch")
    parser.add_argument("--ngpu", type=int, default=0, choices=[0, 1],
                        help="0: CPU; 1: one GPU (split the data with --key_file for more)")
    parser.add_argument("--dtype", default="float32",
                        choices=["float32", "float16", "bfloat16"],
                        help="model and input precision")
    parser.add_argument("--num_workers", type=int, default=1,
                        help="DataLoader worker processes reading audio")
    parser.add_argument("--log_level", default="INFO",
                        choices=["ERROR", "WARNING", "INFO", "DEBUG"], help="logging level")
    return parser


def read_keys(scp: Path, key_file: Optional[str]) -> list[str]:
    """Utterance ids of ``scp`` (in file order), restricted to ``key_file`` if given."""
    from dinosr_espnet.data.kaldi_dir import read_kaldi_map

    keys = list(read_kaldi_map(scp))
    if key_file is not None:
        wanted = list(read_kaldi_map(key_file, allow_empty_value=True))
        known = set(keys)
        missing = [k for k in wanted if k not in known]
        if missing:
            raise ValueError(f"{key_file}: {len(missing)} ids not in {scp}, "
                             f"e.g. {missing[0]!r}")
        keys = wanted
    if not keys:
        raise ValueError(f"no utterances to decode in {scp}"
                         + (f" with --key_file {key_file}" if key_file else ""))
    return keys


def length_sorted_batches(keys: Sequence[str], lengths_file: Path, batch_size: int
                          ) -> list[list[str]]:
    """Batches of ``batch_size`` ids, longest first when ``lengths_file`` (utt2num_samples)
    exists (less padding), else in the given order."""
    if batch_size < 1:
        raise ValueError(f"--batch_size must be >= 1, got {batch_size}")
    order = list(keys)
    if lengths_file.is_file():
        from dinosr_espnet.data.kaldi_dir import read_kaldi_map

        lengths = read_kaldi_map(lengths_file)
        missing = [k for k in order if k not in lengths]
        if missing:
            raise ValueError(f"{lengths_file}: no length for {len(missing)} utterances, "
                             f"e.g. {missing[0]!r}")
        order.sort(key=lambda k: -int(lengths[k].split(",")[0]))
    else:
        logger.info(f"{lengths_file} not found: batching in scp order")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def run(args: argparse.Namespace) -> None:
    """Decode every utterance and write the outputs (see module docstring)."""
    import kaldiio
    from espnet2.train.collate_fn import CommonCollateFn
    from espnet2.train.dataset import ESPnetDataset
    from tqdm import tqdm

    from dinosr_espnet.data.kaldi_dir import write_kaldi_map
    from dinosr_espnet.decode.viterbi import viterbi_decode
    from dinosr_espnet.espnet.asr_task import DinoSRASRTask

    scp = Path(args.wav_scp) if args.wav_scp else Path(args.data_dir) / "wav.scp"
    if not scp.is_file():
        raise FileNotFoundError(f"{scp} does not exist")
    keys = read_keys(scp, args.key_file)
    batches = length_sorted_batches(keys, scp.parent / "utt2num_samples", args.batch_size)

    if args.ngpu > 0 and not torch.cuda.is_available():
        raise ValueError("--ngpu 1 but no CUDA device is available")
    device = "cuda" if args.ngpu > 0 else "cpu"
    model, train_args = DinoSRASRTask.build_model_from_file(
        args.asr_train_config, args.asr_model_file, device)
    model.to(dtype=getattr(torch, args.dtype)).eval()
    token_list = list(train_args.token_list)
    if token_list[0] != "<blank>":
        raise ValueError(f"{args.asr_train_config}: token 0 must be '<blank>' (the CTC blank), "
                         f"got {token_list[0]!r}")

    scps = [str(scp)] if args.speech_type == "sound" else []
    dataset = ESPnetDataset([(str(scp), "speech", args.speech_type)],
                            preprocess=DinoSRASRTask.checked_preprocess_fn(
                                train_args, False, scps),
                            float_dtype="float32")
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=batches, num_workers=args.num_workers,
        collate_fn=CommonCollateFn(float_pad_value=0.0, int_pad_value=-1),
        pin_memory=args.ngpu > 0)

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokens.txt").write_text("".join(t + "\n" for t in token_list), encoding="utf-8")
    hyps: dict[str, str] = {}
    with kaldiio.WriteHelper(f"ark,scp:{out / 'emissions.ark'},{out / 'emissions.scp'}"
                             ) as writer, torch.inference_mode():
        for uids, batch in tqdm(loader, total=len(batches), desc="asr_inference",
                                unit="batch", file=sys.stderr):
            speech = batch["speech"].to(device)
            lengths = batch["speech_lengths"].to(device)
            enc, enc_lens = model.encode(speech, lengths)
            log_probs = model.ctc.log_softmax(enc).float().cpu()
            for i, uid in enumerate(uids):
                emissions = log_probs[i, : int(enc_lens[i])].numpy()
                writer[uid] = emissions
                hyps[uid] = viterbi_decode(emissions, token_list)
    _sort_scp(out / "emissions.scp")
    write_kaldi_map(out / "text", hyps)
    logger.info(f"wrote {len(hyps)} utterances to {out}/emissions.scp and {out}/text")


def _sort_scp(path: Path) -> None:
    """Sort an scp in C order (Kaldi convention; it was written in length order)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(sorted(lines, key=lambda s: s.split(maxsplit=1)[0].encode())),
                    encoding="utf-8")


def main(cmd: Optional[Sequence[str]] = None) -> int:
    """Entry point: ``python -m dinosr_espnet.bin.asr_inference --help``; returns the exit
    status (1 with one line on bad input)."""
    return run_cli(get_parser, run, cmd)


if __name__ == "__main__":
    sys.exit(main())
