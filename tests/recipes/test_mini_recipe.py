"""End to end: the mini recipe at CI size (egs/mini/asr1/run.sh --size ci), in a tmp dir.

One run (a few minutes on 2 cores) generates the CI corpus, pretrains, fine-tunes from the
DinoSR init and from a random init, decodes (Viterbi, and the 4-gram when KenLM is built),
scores and writes the units report; the tests check its outputs. KenLM's lmplz is not pip
installable: without it (utils/install_kenlm.sh) the run is made with --use_lm false and the
LM outputs are not checked (a warning says so).
"""
from __future__ import annotations

import math
import time
import warnings
from pathlib import Path

import pytest
import torch
import yaml
from recipe_helpers import clean_env, kenlm_available, link_recipe, run

from dinosr_espnet.data.kaldi_dir import read_kaldi_map
from dinosr_espnet.decode.scoring import error_counts
from dinosr_espnet.inference import load_state_dict

pytestmark = pytest.mark.e2e

SETS = ("dev", "test_clean", "test_other")
SSL = "exp/ssl_mini_ci"
ASR = {"dinosr": "exp/asr_dinosr_ci", "random": "exp/asr_random_ci"}
DECODE = "decode_valid.cer_ctc.ave"
STUDENT_ONLY = ("teacher.", "codebooks.", "heads.", "num_updates")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> dict:
    rdir = link_recipe("mini/asr1", tmp_path_factory.mktemp("mini") / "asr1")
    use_lm = kenlm_available()
    if not use_lm:
        warnings.warn("KenLM's lmplz is not built (utils/install_kenlm.sh): the mini recipe runs "
                      "with --use_lm false and its LM stages are not tested")
    start = time.monotonic()
    out = run(["./run.sh", "--size", "ci", "--use_lm", str(use_lm).lower()], cwd=rdir,
              env=clean_env(), timeout=900)
    seconds = time.monotonic() - start
    assert out.returncode == 0, out.stdout[-6000:]
    return {"dir": rdir, "use_lm": use_lm, "stdout": out.stdout, "seconds": seconds}


def test_every_stage_wrote_its_outputs(recipe):
    d: Path = recipe["dir"]
    expected = ["corpora/ci/manifest.json", "data/train_960/wav.scp", "data/train_10h/text",
                f"{SSL}/config.yaml", f"{SSL}/latest.pth", f"{SSL}/train.log",
                "exp/token_list/tokens.txt", "exp/asr_stats_train_10h/train/speech_shape",
                "exp/asr_stats_train_10h/valid/text_shape",
                f"{SSL}/units_dev_clean/report.json", f"{SSL}/units_dev_clean/report.md",
                "exp/summary.md", "exp/stage_times.tsv"]
    expected += [f"dump/raw/{s}/wav.scp" for s in ("train_960", "train_10h", *SETS)]
    for exp in ASR.values():
        expected += [f"{exp}/config.yaml", f"{exp}/valid.cer_ctc.ave.pth", f"{exp}/RESULTS.md"]
        expected += [f"{exp}/{DECODE}/{s}/{f}" for s in SETS
                     for f in ("emissions.scp", "tokens.txt", "viterbi/text")]
    if recipe["use_lm"]:
        expected += ["exp/lm_4gram/4gram.bin", "exp/lm_4gram/lexicon.txt"]
        for exp in ASR.values():
            expected += [f"{exp}/{DECODE}/dev/lm_4gram/best.yaml"]
            expected += [f"{exp}/{DECODE}/{s}/lm_4gram/text" for s in SETS]
    missing = [p for p in expected if not (d / p).is_file()]
    assert not missing, f"missing outputs: {missing}"
    for s in SETS:
        hyps = read_kaldi_map(d / ASR["dinosr"] / DECODE / s / "viterbi" / "text",
                              allow_empty_value=True)
        assert set(hyps) == set(read_kaldi_map(d / "dump" / "raw" / s / "wav.scp"))


def test_every_stage_logged_to_its_own_file(recipe):
    d: Path = recipe["dir"]
    rows = [line.split("\t") for line in (d / "exp/stage_times.tsv").read_text().splitlines()]
    names = [r[1] for r in rows]
    for name in ("corpus", "data_prep", "dump", "stats", "pretrain", "finetune", "inference",
                 "score", "units_report", "summary"):
        assert name in names, f"stage {name} did not run"
    assert names.count("finetune") == 2 and names.count("inference") == 2
    logs = [r[3] for r in rows]
    assert len(set(logs)) == len(logs), "two stages shared a log file"
    for log in logs:
        assert Path(log if log.startswith("/") else d / log).is_file(), log


def test_finetuned_encoder_starts_from_the_pretrained_student(recipe, monkeypatch):
    """ESPnet builds the ASR model from its config.yaml and loads init_param (as asr_train
    does): the student part equals the pretraining checkpoint tensor by tensor."""
    from espnet2.torch_utils.load_pretrained_model import load_pretrained_model

    from dinosr_espnet.espnet.asr_task import DinoSRASRTask

    d: Path = recipe["dir"]
    monkeypatch.chdir(d)
    config = yaml.safe_load((d / ASR["dinosr"] / "config.yaml").read_text())
    assert config["init_param"] == [f"{SSL}/latest.pth:dinosr:encoder.dinosr"]
    assert not yaml.safe_load((d / ASR["random"] / "config.yaml").read_text())["init_param"]

    torch.manual_seed(123)
    model, _ = DinoSRASRTask.build_model_from_file(d / ASR["dinosr"] / "config.yaml", None, "cpu")
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    for spec in config["init_param"]:
        load_pretrained_model(spec, model, ignore_init_mismatch=False, map_location="cpu")
    init = model.state_dict()
    pretrained = load_state_dict(d / SSL / "latest.pth")
    student = {k: v for k, v in pretrained.items() if not k.startswith(STUDENT_ONLY)}
    assert len(student) > 20
    for k, v in student.items():
        assert torch.equal(init[f"encoder.dinosr.{k}"], v), k
    assert not torch.equal(fresh["encoder.dinosr.encoder.layers.0.fc1.weight"],
                           student["encoder.layers.0.fc1.weight"])

    # The CNN stays frozen in fine-tuning: the fine-tuned models still hold their init.
    tuned = torch.load(d / ASR["dinosr"] / "valid.cer_ctc.ave.pth", map_location="cpu")
    baseline = torch.load(d / ASR["random"] / "valid.cer_ctc.ave.pth", map_location="cpu")
    cnn = [k for k in student if k.startswith("feature_extractor.")]
    assert cnn
    for k in cnn:
        assert torch.equal(tuned[f"encoder.dinosr.{k}"], student[k]), k
    assert not all(torch.equal(baseline[f"encoder.dinosr.{k}"], student[k]) for k in cnn)


def _dev_wer(d: Path, exp: str, mode: str) -> float:
    refs = read_kaldi_map(d / "dump/raw/dev/text")
    hyps = read_kaldi_map(d / exp / DECODE / "dev" / mode / "text", allow_empty_value=True)
    return error_counts(refs, hyps, "wer").error_rate


def test_dev_wer_is_finite_and_below_100_percent(recipe):
    d: Path = recipe["dir"]
    modes = ["viterbi"] + (["lm_4gram"] if recipe["use_lm"] else [])
    wers = {(init, mode): _dev_wer(d, exp, mode) for init, exp in ASR.items() for mode in modes}
    assert all(math.isfinite(w) and 0.0 <= w for w in wers.values()), wers
    # The system fine-tuned from the DinoSR student recognises words on dev, in every decoding.
    assert all(wers["dinosr", mode] < 1.0 for mode in modes), wers
    results = (d / ASR["dinosr"] / "RESULTS.md").read_text()
    assert "|dev|" in results and "### WER" in results
    summary = (d / "exp/summary.md").read_text()
    assert "DinoSR init" in summary and "random init" in summary


def test_viterbi_scoring_without_the_lm(recipe):
    """--use_lm false: no LM needed; the decoding and scoring stages give Viterbi results
    (inference is not redone: its stage is marked done)."""
    d: Path = recipe["dir"]
    out = run(["./run.sh", "--size", "ci", "--stage", "6", "--stop_stage", "6",
               "--use_lm", "false"], cwd=d, env=clean_env(KENLM_BIN=str(d / "no_kenlm")))
    assert out.returncode == 0, out.stdout[-4000:]
    assert "stage 5 (inference): already done, skipped" in out.stdout
    assert "stages 6-7 (LM): skipped (--use_lm false)" in out.stdout
    results = (d / ASR["dinosr"] / "RESULTS.md").read_text()
    assert "viterbi" in results and "lm_4gram" not in results
    for s in SETS:
        assert f"|{s}|" in results
