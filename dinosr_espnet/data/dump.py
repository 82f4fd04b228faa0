"""Dump a Kaldi data dir to `dump/raw/<set>`: 16 kHz mono 16-bit audio, one file per utterance.

Outputs: `data/<utt>.flac|wav` (or `data/data.NNNNNN.ark`), `wav.scp`, `utt2num_samples`,
`text`/`utt2spk`/`spk2utt` restricted to the dumped utterances, `log/dump.log` (counts) and
`log/skipped` (every utterance left out, with its reason). Utterances with NaN or infinite
samples are skipped (reason `non-finite samples`, counted by kind). Every output file is
written atomically (temporary file, fsync, rename). A stamp (`.done`) holds a hash of the
inputs and options; a rerun with the same inputs is skipped, anything else redoes the dump.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from dinosr_espnet.data.atomic import atomic_write_text, fsync_dir
from dinosr_espnet.data.dump_worker import DumpOptions, Recording, TaskResult, run_task
from dinosr_espnet.data.kaldi_dir import (
    c_sort_key,
    read_kaldi_map,
    read_segments,
    spk2utt_from_utt2spk,
    write_kaldi_map,
)

logger = logging.getLogger(__name__)

STAMP_VERSION = "dump-v1"


def build_recordings(src: Path) -> tuple[list[Recording], dict[str, str]]:
    """Group the utterances of `src` by recording (sorted); returns them and utt2spk."""
    utt2spk = read_kaldi_map(src / "utt2spk")
    wav_scp = read_kaldi_map(src / "wav.scp")
    groups: dict[str, list[tuple[str, float, float]]] = {}
    if (src / "segments").exists():
        for utt, seg in read_segments(src / "segments").items():
            if seg.recording not in wav_scp:
                raise ValueError(
                    f"{src}/segments: recording {seg.recording!r} of {utt!r} is not in wav.scp"
                )
            groups.setdefault(seg.recording, []).append((utt, seg.start, seg.end))
    else:
        groups = {utt: [(utt, 0.0, -1.0)] for utt in wav_scp}
    audio_utts = {u for utts in groups.values() for u, _, _ in utts}
    if audio_utts != set(utt2spk):
        bad = sorted(audio_utts ^ set(utt2spk), key=c_sort_key)[0]
        raise ValueError(
            f"{src}: utterance {bad!r} is in only one of utt2spk and wav.scp/segments; "
            f"run utils/fix_data_dir.sh {src}"
        )
    recordings = [
        Recording(key, wav_scp[key], sorted(groups[key], key=lambda u: c_sort_key(u[0])))
        for key in sorted(groups, key=c_sort_key)
    ]
    return recordings, utt2spk


def chunk_recordings(recordings: list[Recording], chunk_size: int) -> list[list[Recording]]:
    """Cut the recording list into tasks of about `chunk_size` utterances (never splitting one)."""
    tasks: list[list[Recording]] = [[]]
    count = 0
    for rec in recordings:
        if count >= chunk_size:
            tasks.append([])
            count = 0
        tasks[-1].append(rec)
        count += len(rec.utts)
    return tasks


def input_signature(src: Path, dst: str, opts: DumpOptions, recordings: list[Recording]) -> str:
    """Hash of options, input files and the size/mtime of every source audio file."""
    h = hashlib.sha256()
    h.update(json.dumps([STAMP_VERSION, dst, asdict(opts)], default=str).encode())
    for name in ("wav.scp", "segments", "text", "utt2spk"):
        if (src / name).exists():
            h.update(name.encode() + (src / name).read_bytes())
    for rec in recordings:
        if os.path.exists(rec.entry):
            st = os.stat(rec.entry)
            h.update(f"{rec.entry} {st.st_size} {st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _is_up_to_date(dst: Path, signature: str) -> bool:
    stamp = dst / ".done"
    if not stamp.exists() or stamp.read_text().strip() != signature:
        return False
    if not (dst / "wav.scp").exists():
        return False
    entries = read_kaldi_map(dst / "wav.scp", allow_empty_value=True)
    return all(os.path.exists(v.rsplit(":", 1)[0] if ".ark:" in v else v) for v in entries.values())


def _run_tasks(tasks, dst: str, opts: DumpOptions, nj: int, total: int) -> list[TaskResult]:
    results: list[TaskResult | None] = [None] * len(tasks)
    bar = tqdm(total=total, unit="utt", desc=f"dump {os.path.basename(dst)}", mininterval=2)
    if nj <= 1:
        for i, task in enumerate(tasks):
            results[i] = run_task(i, task, dst, opts)
            bar.update(sum(len(r.utts) for r in task))
    else:
        pool = ProcessPoolExecutor(max_workers=nj)
        try:
            futures = {pool.submit(run_task, i, task, dst, opts): i for i, task in enumerate(tasks)}
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                bar.update(sum(len(r.utts) for r in tasks[i]))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    bar.close()
    return results  # type: ignore[return-value]


def _write_outputs(
    src: Path, dst: Path, results: list[TaskResult], utt2spk: dict[str, str], fs: int
) -> dict:
    wav_scp, num_samples, skipped = {}, {}, {}
    rates: dict[int, int] = {}
    nonfinite: dict[str, int] = {}
    mixed = clipped = 0
    for r in results:
        wav_scp.update(r.wav_scp)
        num_samples.update(r.num_samples)
        skipped.update({u: " ".join(f"{why}: {detail}".split()) for u, why, detail in r.skipped})
        for rate, n in r.source_rates.items():
            rates[rate] = rates.get(rate, 0) + n
        for kind, n in r.nonfinite.items():
            nonfinite[kind] = nonfinite.get(kind, 0) + n
        mixed += r.mixed
        clipped += r.clipped
    write_kaldi_map(dst / "log" / "skipped", skipped)
    if not wav_scp:
        raise RuntimeError(f"{src}: no utterance could be dumped; see {dst / 'log' / 'skipped'}")
    write_kaldi_map(dst / "wav.scp", wav_scp)
    write_kaldi_map(dst / "utt2num_samples", {u: str(n) for u, n in num_samples.items()})
    kept_spk = {u: utt2spk[u] for u in wav_scp}
    write_kaldi_map(dst / "utt2spk", kept_spk)
    write_kaldi_map(dst / "spk2utt", spk2utt_from_utt2spk(kept_spk))
    if (src / "text").exists():
        text = read_kaldi_map(src / "text", allow_empty_value=True)
        write_kaldi_map(dst / "text", {u: text[u] for u in wav_scp if u in text})
    reasons: dict[str, int] = {}
    for value in skipped.values():
        reason = value.split(":", 1)[0]
        reasons[reason] = reasons.get(reason, 0) + 1
    return {
        "dumped": len(wav_scp),
        "hours": sum(num_samples.values()) / fs / 3600,
        "skipped": reasons,
        "source_rates": rates,
        "mixed_to_mono": mixed,
        "clipped_samples": clipped,
        "nonfinite_samples": nonfinite,
    }


def dump_data_dir(
    src: str | os.PathLike, dst: str, opts: DumpOptions, nj: int = 1, chunk_size: int = 200
) -> dict:
    """Dump `src` (a Kaldi data dir) into `dst`; returns the counters written to the log."""
    if opts.audio_format not in ("flac", "wav", "ark"):
        raise ValueError(f"--audio_format must be flac, wav or ark, not {opts.audio_format!r}")
    src_path, dst_path = Path(src), Path(dst)
    recordings, utt2spk = build_recordings(src_path)
    signature = input_signature(src_path, dst, opts, recordings)
    if _is_up_to_date(dst_path, signature):
        logger.info("%s is up to date (remove %s to force a rerun)", dst, dst_path / ".done")
        return {"up_to_date": True}
    for stale in (dst_path / ".done", dst_path / "data"):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    (dst_path / "data").mkdir(parents=True)
    tasks = chunk_recordings(recordings, chunk_size)
    results = _run_tasks(tasks, dst, opts, nj, len(utt2spk))
    fsync_dir(dst_path / "data")  # the renames of the audio files, before the stamp
    stats = _write_outputs(src_path, dst_path, results, utt2spk, opts.fs)
    lines = _summary_lines(src, dst, opts, stats)
    for line in lines:
        warn = line.startswith(("skipped", "clipped", "non-finite"))
        logger.log(logging.WARNING if warn else logging.INFO, line)
    report = "".join(f"{line}\n" for line in lines)
    atomic_write_text(dst_path / "log" / "dump.log", report)
    atomic_write_text(dst_path / ".done", signature + "\n")
    return stats


def _summary_lines(src, dst, opts: DumpOptions, stats: dict) -> list[str]:
    """Human-readable counters (also written to `log/dump.log`)."""
    lines = [
        f"{src} -> {dst}: {stats['dumped']} utterances, {stats['hours']:.3f} h at {opts.fs} Hz"
    ]
    resampled = {r: n for r, n in stats["source_rates"].items() if r != opts.fs}
    if resampled:
        parts = ", ".join(f"{n} utts from {r} Hz" for r, n in sorted(resampled.items()))
        lines.append(f"resampled to {opts.fs} Hz: {parts}")
    if stats["mixed_to_mono"]:
        lines.append(f"averaged multi-channel input to mono: {stats['mixed_to_mono']} utterances")
    if stats["clipped_samples"]:
        lines.append(f"clipped {stats['clipped_samples']} samples while converting to 16 bit")
    if stats["nonfinite_samples"]:
        parts = ", ".join(f"{n} {k}" for k, n in stats["nonfinite_samples"].items())
        num = stats["skipped"].get("non-finite samples", 0)
        lines.append(f"non-finite samples ({parts}) in {num} utterances: skipped them")
    if stats["skipped"]:
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(stats["skipped"].items()))
        where = os.path.join(dst, "log", "skipped")
        total = sum(stats["skipped"].values())
        lines.append(f"skipped {total} utterances ({counts}); list in {where}")
    return lines
