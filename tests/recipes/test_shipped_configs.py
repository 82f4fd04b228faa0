"""Every config shipped in a recipe's conf/ works with the stages of that recipe: it parses
and builds (fine-tuning ones on the recipe's pretraining config), its best-model criterion
makes the checkpoint the recipe decodes with, the units report accepts its frame rate or
ssl.sh stops before any stage saying what to change, and training writes tensorboard event
files. (egs/mini's two configs run through every stage in its own CI-size test.)"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import yaml
from recipe_helpers import EGS, REPO, link_recipe, run

from dinosr_espnet.espnet.asr_task import DinoSRASRTask
from dinosr_espnet.espnet.task import DinoSRTask, model_config
from dinosr_espnet.eval.report import check_config_rates, report_rates

SSL_RECIPES = {"librispeech/ssl1": "pretrain_base", "babel/ssl1": "babel"}  # recipe -> ssl_tag
ASR_RECIPES = {"librilight/asr1": "librispeech/ssl1", "babel/asr1": "babel/ssl1"}  # -> its ssl1


def configs(recipe: str) -> list[Path]:
    found = sorted((EGS / recipe / "conf").glob("*.yaml"))
    assert found, f"egs/{recipe}/conf has no config"
    return found


def shipped(recipes) -> list[tuple[str, str]]:
    return [(r, c.name) for r in recipes for c in configs(r)]


def help_values(recipe: str) -> dict[str, str]:
    out = run(["./run.sh", "--help"], cwd=EGS / recipe)
    assert out.returncode == 0, out.stdout
    return {line.split()[0]: (line.split() + ['""'])[1] for line in out.stdout.splitlines()
            if line.startswith("  --")}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def check_schedule(path: Path) -> None:
    """The LR schedule ends where training ends (ESPnet counts batches, the scheduler updates)."""
    conf = load(path)
    per_epoch = conf.get("updates_per_epoch")  # in updates; else ESPnet's batches per epoch
    if per_epoch is None:
        per_epoch = conf["num_iters_per_epoch"] // conf.get("accum_grad", 1)
    updates = conf["max_epoch"] * per_epoch
    assert updates == conf["scheduler_conf"]["max_steps"], \
        f"{path}: {updates} updates but scheduler_conf.max_steps {conf['scheduler_conf']['max_steps']}"


@pytest.mark.parametrize("recipe,name", shipped(SSL_RECIPES))
def test_pretrain_config_parses_builds_and_writes_tensorboard(recipe, name):
    path = EGS / recipe / "conf" / name
    args = DinoSRTask.get_parser().parse_args(["--config", str(path)])
    cfg = model_config(args)
    assert args.use_tensorboard is True, f"{path}: use_tensorboard is not true"
    check_schedule(path)
    if cfg.num_layers <= 3:  # building BASE on CPU takes long; its parts are the same classes
        DinoSRTask.build_model(args)
    try:
        check_config_rates(path)
    except ValueError as e:
        assert "conv_layers strides multiply to a multiple of 160" in str(e)


@pytest.mark.parametrize("recipe,name", shipped(ASR_RECIPES))
def test_finetune_config_builds_on_the_recipe_pretraining(recipe, name, tmp_path):
    path = EGS / recipe / "conf" / name
    ssl_recipe = ASR_RECIPES[recipe]
    pretrain = EGS / ssl_recipe / "conf" / "pretrain_base.yaml"
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("<blank>\n<unk>\n|\nA\nB\n")
    args = DinoSRASRTask.get_parser().parse_args([
        "--config", str(path), "--token_list", str(tokens),
        "--encoder_conf", f"pretrain_config={pretrain}"])
    assert args.use_tensorboard is True, f"{path}: use_tensorboard is not true"
    check_schedule(path)
    conf = load(path)
    freeze = conf["encoder_conf"].get("freeze_encoder_updates", 0)
    assert freeze < conf["scheduler_conf"]["max_steps"], f"{path}: the encoder never trains"
    # asr.sh decodes with --inference_model, which ESPnet only writes for a best criterion
    inference_model = help_values(recipe)["--inference-model"]
    criterion = inference_model.split(".")[1]
    assert ["valid", criterion, "min"] in conf["best_model_criterion"], \
        f"{path}: no best_model_criterion valid/{criterion}, needed by {inference_model}"
    assert conf["keep_nbest_models"] >= 1
    if name == "finetune_10h.yaml":  # one BASE-size build (~95 M parameters) is enough
        model = DinoSRASRTask.build_model(args)
        assert model.encoder.output_size() == load(pretrain)["model_conf"].get("embed_dim", 768)


@pytest.mark.parametrize("asr_recipe", ASR_RECIPES)
def test_asr_recipes_fine_tune_what_the_ssl_recipe_writes(asr_recipe):
    ssl_recipe = ASR_RECIPES[asr_recipe]
    ssl = help_values(ssl_recipe)
    tag = ssl["--ssl-tag"] if ssl["--ssl-tag"] != '""' else Path(ssl["--ssl-config"]).stem
    assert tag == SSL_RECIPES[ssl_recipe]
    asr = help_values(asr_recipe)
    pretrain_exp = (EGS / asr_recipe / asr["--pretrain-exp"]).resolve()
    assert pretrain_exp == (EGS / ssl_recipe / ssl["--expdir"] / f"ssl_{tag}").resolve()
    assert asr["--pretrain-model"] == ssl["--units-model"] == "latest.pth"


def test_rates_are_checked_before_any_stage(tmp_path):
    assert report_rates(16000, 320) == (2, 2)  # BASE: 50 Hz frames, labels and MFCC at 100 Hz
    assert report_rates(16000, 160) == (1, 1)
    with pytest.raises(ValueError, match=r"16000 Hz / conv stride 80 = 200 Hz"):
        report_rates(16000, 80)
    rdir = link_recipe("librispeech/ssl1", tmp_path / "r")
    out = run(["./run.sh", "--ssl_config", "conf/pretrain_tiny.yaml", "--units_alignments",
               "dev.phn", "--units_item", "dev.item", "--stage", "4"], cwd=rdir)
    assert out.returncode != 0, out.stdout
    assert "conf/pretrain_tiny.yaml: the units report needs" in out.stdout
    assert "conv_layers strides multiply to a multiple of 160" in out.stdout
    assert "stage 4" not in out.stdout and not (rdir / "exp").exists()
    # without the units report the tiny config goes through
    out = run(["./run.sh", "--ssl_config", "conf/pretrain_tiny.yaml", "--stage", "5"], cwd=rdir)
    assert out.returncode == 0 and "stage 5 (units_report): skipped" in out.stdout, out.stdout


def test_pretraining_writes_tensorboard_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sys.path.insert(0, str(REPO / "tests" / "espnet"))
    from espnet_audio import write_data_dir
    from pretrain_launch import run_train, train_cmd

    torch.set_num_threads(1)
    data = {"train": write_data_dir(tmp_path / "train", [1.0, 1.2, 1.5], 0, "tr"),
            "dev": write_data_dir(tmp_path / "dev", [1.0], 1, "dv")}
    run_train(train_cmd(data, tmp_path / "exp", "--max_epoch", "1", "--num_iters_per_epoch", "2"))
    events = sorted((tmp_path / "exp" / "tensorboard" / "train").glob("events.out.tfevents.*"))
    assert events, "no event file in exp/tensorboard/train"
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    scalars = set(acc.Tags()["scalars"])
    for tag in ("loss", "acc_0", "ppl_cb0", "active_cb0", "optim0_lr0"):
        assert tag in scalars, f"{tag} not in {sorted(scalars)}"
    assert len(acc.Scalars("loss")) >= 2  # a point per update (log_interval 1), one per epoch
