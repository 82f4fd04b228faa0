"""Generate the embedded corpora: plan in this process, synthesise in a worker pool, then write
alignments, ABX items, LM resources and `manifest.json`.

Workers are started with `spawn` and never synthesise themselves: each utterance is
synthesised in a fresh fork of a never-synthesising process (`espeak.synth_isolated`, through
the worker's `synth_server`), so the output is byte-identical for a given request whatever
`nj` is.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import shutil
import time
from contextlib import contextmanager
from multiprocessing.util import Finalize
from pathlib import Path

from tqdm import tqdm

from dinosr_espnet.data.atomic import atomic_write_text
from dinosr_espnet.data.synth import babel, librispeech, synth_server
from dinosr_espnet.data.synth.audio import HOP, RATE, frame_labels
from dinosr_espnet.data.synth.config import (
    BABEL_SPLITS,
    CONF_DIR,
    GENERATOR_VERSION,
    LIBRISPEECH_SPLITS,
    Request,
)
from dinosr_espnet.data.synth.grammar import Grammar
from dinosr_espnet.data.synth.labels import triphone_items, write_alignments, write_items, write_phone_set
from dinosr_espnet.data.synth.wordlists import build_vocabulary, load_languages

logger = logging.getLogger(__name__)

GENERATOR = "dinosr_espnet.data.synth"
OWNED = ("LibriSpeech", "librispeech_finetuning", "babel", "alignments", "abx", "lm", "manifest.json")
PARTIAL = ".make_corpus.partial"
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def kaldi_name(split: str) -> str:
    """`dev-clean` -> `dev_clean` (ESPnet data dir names)."""
    return split.replace("-", "_")


def read_manifest(out: Path) -> dict | None:
    path = out / "manifest.json"
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _prepare_out(out: Path, request: Request, overwrite: bool) -> None:
    """Clear a previous generated corpus in `out`; refuse to touch anything not generated here."""
    present = [name for name in OWNED if (out / name).exists()]
    if not present:
        return
    manifest = read_manifest(out)
    if (out / PARTIAL).exists():
        logger.info("removing the partial corpus of an interrupted run in %s", out)
    elif manifest is None or manifest.get("generator") != GENERATOR:
        raise FileExistsError(
            f"{out} already has {', '.join(present)} but no manifest.json from make_corpus: "
            f"not a generated corpus, refusing to overwrite it; choose another --out"
        )
    elif not overwrite:
        old = manifest.get("request", {})
        diff = sorted(k for k in set(old) | set(request.to_dict()) if old.get(k) != request.to_dict().get(k))
        raise FileExistsError(
            f"{out} holds a corpus generated with a different request (differs in: {', '.join(diff)}); "
            f"pass --overwrite to replace it or choose another --out"
        )
    for name in present:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def _init_worker() -> None:
    synth_server.start()
    Finalize(None, synth_server.stop, exitpriority=10)


def _render(job):
    return job.render()


@contextmanager
def _single_threaded_children():
    """Start workers with single-threaded BLAS (nj workers already use nj cores); the parent's
    environment is restored afterwards."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_jobs(jobs: list, nj: int) -> list:
    """Render all jobs in `nj` spawned worker processes, with a progress bar."""
    if nj < 1:
        raise ValueError(f"--nj must be >= 1, got {nj}")
    jobs = sorted(jobs, key=lambda j: -j.cost)
    ctx = mp.get_context("spawn")
    with _single_threaded_children():
        pool = ctx.Pool(min(nj, max(len(jobs), 1)), initializer=_init_worker)
    with pool:
        bar = tqdm(
            pool.imap_unordered(_render, jobs, chunksize=1), total=len(jobs), desc="synthesising", unit="job"
        )
        results = list(bar)
        pool.close()
        pool.join()
    return results


def _hours(num_samples: int, rate: int = RATE) -> float:
    return round(num_samples / rate / 3600, 6)


def _finish_librispeech(
    out: Path, request: Request, plan: librispeech.LibriPlan, grammar: Grammar, results: dict
) -> dict:
    """Text files, alignments and ABX items of the LibriSpeech / fine-tuning trees; counts."""
    counts: dict = {"librispeech": {}, "librilight": {}}
    num_samples = {uttid: res.num_samples for uttid, res in results.items()}
    if "librispeech" in request.corpora:
        root = out / "LibriSpeech"
        by_split = plan.by_split()
        for split in LIBRISPEECH_SPLITS:
            utts = by_split[split]
            librispeech.write_transcripts(root / split, utts)
            counts["librispeech"][split] = {
                "speakers": len({u.speaker.id for u in utts}),
                "chapters": len({u.chapter for u in utts}),
                "utterances": len(utts),
                "hours": _hours(sum(num_samples[u.uttid] for u in utts)),
            }
            if split in librispeech.EVAL_SPLITS:
                lines = [
                    line
                    for u in utts
                    for line in triphone_items(u.uttid, u.speaker.id, results[u.uttid].spans)
                ]
                write_items(out / "abx" / f"{kaldi_name(split)}.item", lines)
        librispeech.write_speakers_txt(root / "SPEAKERS.TXT", plan, num_samples)
        (root / "LICENSE.TXT").write_text(librispeech.LICENSE_TEXT, encoding="utf-8")
        librispeech.write_lm_resources(out / "lm", plan, grammar)
        counts["lm_sentences"] = len(plan.lm_sentences)
    if "librilight" in request.corpora:
        for sub, utts in plan.finetuning.items():
            librispeech.write_transcripts(out / "librispeech_finetuning" / sub, utts)
            counts["librilight"][sub] = {
                "utterances": len(utts),
                "hours": _hours(sum(num_samples[u.uttid] for u in utts)),
            }
    rows: dict[str, dict[str, list[str]]] = {}
    for uttid, res in results.items():
        rows.setdefault(res.split, {})[uttid] = frame_labels(res.spans, res.num_samples)
    align_dir = out / "alignments" / "librispeech"
    for split, split_rows in rows.items():
        write_alignments(align_dir / f"{kaldi_name(split)}.phn", split_rows)
    write_phone_set(align_dir / "phones.txt", {k: v for r in rows.values() for k, v in r.items()})
    return counts


def _finish_babel(out: Path, results: list[babel.RecordingResult], langs: dict) -> dict:
    """BABEL alignments and counts per language and split."""
    counts: dict = {}
    all_rows: dict[str, list[str]] = {}
    for lang_id, lang in langs.items():
        counts[lang.dirname] = {}
        for split in BABEL_SPLITS:
            recs = [r for r in results if r.lang_id == lang_id and r.split == split]
            rows = {uid: labels for r in recs for uid, labels in r.rows().items()}
            write_alignments(out / "alignments" / "babel" / f"{lang_id}_{split}.phn", rows)
            all_rows.update(rows)
            speech = [(s, e) for r in recs for s, e, text in r.segments if text != babel.NO_SPEECH]
            counts[lang.dirname][split] = {
                "recordings": len(recs),
                "segments": len(speech),
                "hours": _hours(sum(len(r.labels) for r in recs) * HOP),
                "speech_hours": _hours(sum(e - s for s, e in speech) * HOP),
            }
    write_phone_set(out / "alignments" / "babel" / "phones.txt", all_rows)
    return counts


def generate_corpus(
    out: str | os.PathLike,
    request: Request,
    nj: int = 2,
    overwrite: bool = False,
    conf_dir: str | os.PathLike = CONF_DIR,
) -> dict:
    """Generate (or, when `out/manifest.json` matches `request`, skip) the corpora; returns the manifest."""
    out = Path(out)
    manifest = read_manifest(out)
    if manifest is not None and manifest.get("request") == request.to_dict():
        logger.info("%s already holds this corpus (manifest.json matches the request): nothing to do", out)
        return manifest
    _prepare_out(out, request, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    (out / PARTIAL).write_text("make_corpus is writing this directory\n", encoding="utf-8")
    start = time.time()
    conf_dir = Path(conf_dir)
    grammar = Grammar.from_yaml(conf_dir / "english_grammar.yaml")
    jobs: list = []
    plan = None
    if {"librispeech", "librilight"} & set(request.corpora):
        plan = librispeech.plan_librispeech(request, grammar)
        jobs += librispeech.utterance_jobs(plan, request, out)
    langs = {}
    if "babel" in request.corpora:
        table = {lang.id: lang for lang in load_languages(conf_dir / "babel_languages.yaml")}
        for lang_id in request.babel_languages:
            lang = langs[lang_id] = table[lang_id]
            vocab = build_vocabulary(lang, request.babel_lexicon_words)
            babel.write_lexicon(
                out / "babel" / lang.dirname / "conversational" / "reference_materials" / "lexicon.txt", vocab
            )
            jobs += babel.plan_language(request, lang, vocab, out)
    logger.info(
        "planned %d synthesis jobs in %.1f s; rendering with %d workers", len(jobs), time.time() - start, nj
    )
    results = run_jobs(jobs, nj)
    counts: dict = {}
    if plan is not None:
        utt_results = {r.uttid: r for r in results if isinstance(r, librispeech.UtteranceResult)}
        counts.update(_finish_librispeech(out, request, plan, grammar, utt_results))
    if langs:
        counts["babel"] = _finish_babel(
            out, [r for r in results if isinstance(r, babel.RecordingResult)], langs
        )
    manifest = {
        "generator": GENERATOR,
        "version": GENERATOR_VERSION,
        "seed": request.seed,
        "size": request.size,
        "request": request.to_dict(),
        "counts": counts,
    }
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    (out / PARTIAL).unlink()
    logger.info("generated %s in %.1f s", out, time.time() - start)
    return manifest
