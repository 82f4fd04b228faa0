"""The pretraining length is counted in optimizer updates: 400k for BASE whatever the GPU
count and accum_grad, checked on every multi-GPU command of the docs and on tiny runs."""
from __future__ import annotations

import re

import pytest

from pretrain_launch import REPO, run_train, train_cmd
from dinosr_espnet.espnet import update_schedule
from dinosr_espnet.espnet.task import DinoSRTask
from dinosr_espnet.inference import load_checkpoint

BASE = REPO / "conf" / "pretrain_base.yaml"
DOCS = [REPO / "docs" / "scaling.md", REPO / "docs" / "recipes.md"]
GLOBAL_BATCH = 16 * 3_800_000  # the release: 16 GPUs × 3.8M samples per update


def documented_commands() -> list[dict[str, int]]:
    """``--ngpu``, ``--batch_bins`` and ``--accum_grad`` of each documented command that sets
    ``--accum_grad`` (a command ends at the end of its code block or quoted option list)."""
    found = []
    for doc in DOCS:
        for block in re.split(r"```|\n\n", doc.read_text()):
            for m in re.finditer(r"--accum_grad (\d+)", block):
                opts = {"accum_grad": int(m.group(1))}
                for name in ("ngpu", "batch_bins", "max_epoch", "num_iters_per_epoch",
                             "updates_per_epoch"):
                    values = re.findall(rf"--{name} (\d+)", block)
                    if values:
                        opts[name] = int(values[0])
                opts["doc"] = doc.name
                found.append(opts)
    return found


def test_docs_have_multi_gpu_commands():
    commands = documented_commands()
    assert {c["doc"] for c in commands} == {"scaling.md", "recipes.md"}
    assert any(c["accum_grad"] > 1 for c in commands)


@pytest.mark.parametrize("opts", documented_commands(), ids=lambda o: f"{o['doc']}-{o}")
def test_documented_command_makes_400k_updates_of_the_released_batch(opts):
    argv = ["--config", str(BASE), "--output_dir", "exp/x"]
    for name, value in opts.items():
        if name not in ("doc", "ngpu"):
            argv += [f"--{name}", str(value)]
    args = DinoSRTask.get_parser().parse_args(argv)
    update_schedule.resolve(args)
    assert update_schedule.total_updates(args) == args.scheduler_conf["max_steps"] == 400000
    assert args.model_conf["ema_last_update"] <= 400000
    assert args.batch_bins * args.accum_grad == GLOBAL_BATCH  # the global batch is kept


def test_num_iters_per_epoch_conflict_is_named():
    args = DinoSRTask.get_parser().parse_args(
        ["--config", str(BASE), "--num_iters_per_epoch", "5000", "--accum_grad", "2"])
    with pytest.raises(ValueError, match=r"num_iters_per_epoch 5000 .*updates_per_epoch 5000 "
                                         r"× accum_grad 2 = 10000"):
        update_schedule.resolve(args)


@pytest.mark.parametrize("accum_grad", sorted({c["accum_grad"] for c in documented_commands()}))
def test_tiny_run_makes_the_scheduled_updates(accum_grad, tiny_data, tmp_path):
    """2 epochs × 3 updates with each documented accum_grad: 6 updates, LR at its final value."""
    out = tmp_path / "exp"
    run_train(train_cmd(tiny_data, out, "--max_epoch", "2", "--num_iters_per_epoch", "none",
                        "--updates_per_epoch", "3", "--accum_grad", str(accum_grad),
                        "--scheduler_conf", "max_steps=6"))
    ckpt = load_checkpoint(out / "checkpoint.pth")
    assert int(ckpt["model"]["dinosr.num_updates"]) == 6
    assert int(ckpt["optimizers"][0]["state"][0]["step"]) == 6
    assert ckpt["schedulers"][0]["last_epoch"] == 6
    lr = ckpt["optimizers"][0]["param_groups"][0]["lr"]
    assert lr == pytest.approx(0.002 * 0.05)  # peak × final_lr_scale of conf/pretrain_tiny.yaml
    assert ckpt["reporter"]["stats"][2]["train"]["total_count"] == 6 * accum_grad


@pytest.mark.parametrize("name", ["finetune_10m", "finetune_1h", "finetune_10h",
                                  "finetune_100h"])
def test_finetune_configs_count_updates_whatever_accum_grad(name):
    from dinosr_espnet.espnet.asr_task import DinoSRASRTask

    config = REPO / "conf" / f"{name}.yaml"
    for accum_grad in (1, 2, 8):
        args = DinoSRASRTask.get_parser().parse_args(
            ["--config", str(config), "--accum_grad", str(accum_grad)])
        update_schedule.resolve(args)
        assert args.num_iters_per_epoch == args.updates_per_epoch * accum_grad
        assert update_schedule.total_updates(args) == args.scheduler_conf["max_steps"]
