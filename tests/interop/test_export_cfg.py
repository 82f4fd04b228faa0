"""The exported cfg: every release field, values describing the exported network, round trip."""
from __future__ import annotations

import argparse
import copy
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from dinosr_espnet.bin import export_fairseq, import_fairseq
from dinosr_espnet.interop.convert import FAIRSEQ_CFG_FILE, import_fairseq as import_file
from dinosr_espnet.interop.espnet_dir import read_experiment
from dinosr_espnet.interop.fairseq_config import parse_conv_feature_layers
from dinosr_espnet.interop.release_cfg import exported_cfg, release_template
from dinosr_espnet.interop.safe_load import load_checkpoint
from dinosr_espnet.model import DinoSR
from dinosr_espnet.model.config import DinoSRConfig
from fairseq_writer import MODEL_CFG, TASK_CFG, make_fairseq_checkpoint


def _export(src, path, *extra):
    assert export_fairseq.main([str(src), str(path), "--log_level", "ERROR", *extra]) == 0
    return load_checkpoint(path)


def _import(path, out):
    assert import_fairseq.main([str(path), str(out), "--log_level", "ERROR"]) == 0
    return out


def test_package_template_lists_every_release_field():
    template = release_template()
    assert set(template) == {"model", "task"}
    assert set(template["model"]) == set(MODEL_CFG) and len(MODEL_CFG) == 85
    assert set(template["task"]) == set(TASK_CFG)
    assert template["model"]["discrete"] is True
    assert template["model"]["freeze_pre_enc_modules"] is True


def test_import_export_import_is_identity(fairseq_ckpt, fairseq_file, imported_dir, tmp_path):
    exported = _export(imported_dir, tmp_path / "export.pt")
    assert exported["cfg"] == fairseq_ckpt["cfg"]  # the original cfg, written back unchanged
    again = _import(tmp_path / "export.pt", tmp_path / "again")
    cfg_a, state_a, conf_a = read_experiment(imported_dir)
    cfg_b, state_b, conf_b = read_experiment(again)
    assert cfg_a == cfg_b and conf_a["fs"] == conf_b["fs"]
    assert set(state_a) == set(state_b)
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key
    kept_a = yaml.safe_load((imported_dir / FAIRSEQ_CFG_FILE).read_text())
    kept_b = yaml.safe_load((again / FAIRSEQ_CFG_FILE).read_text())
    assert kept_a == kept_b == fairseq_ckpt["cfg"]


def test_training_changes_only_the_fields_it_changed(fairseq_ckpt, imported_dir, tmp_path):
    trained = tmp_path / "trained"
    shutil.copytree(imported_dir, trained)
    conf = yaml.safe_load((trained / "config.yaml").read_text())
    conf["model_conf"].update(mask_prob=0.65, codebook_decay=0.95, ema_last_update=99999)
    (trained / "config.yaml").write_text(yaml.safe_dump(conf))
    model = _export(trained, tmp_path / "trained.pt")["cfg"]["model"]
    changed = {k for k in MODEL_CFG if model[k] != fairseq_ckpt["cfg"]["model"][k]}
    assert changed == {"mask_prob", "codebook_end_decay", "codebook_init_decay",
                       "freeze_teacher_step"}
    assert (model["mask_prob"], model["codebook_end_decay"]) == (0.65, 0.95)
    assert model["freeze_teacher_step"] == 100000


def test_missing_fields_are_completed(tmp_path):
    ckpt = make_fairseq_checkpoint(seed=0)
    for key in ("discrete", "latent_temp", "fp16", "max_update"):
        del ckpt["cfg"]["model"][key]
    del ckpt["cfg"]["task"]["min_sample_size"]
    torch.save(ckpt, tmp_path / "partial.pt")
    out = _import(tmp_path / "partial.pt", tmp_path / "imp")
    cfg = _export(out, tmp_path / "export.pt")["cfg"]
    template = release_template()
    assert set(cfg["model"]) == set(template["model"])
    assert cfg["model"]["discrete"] is True and cfg["model"]["latent_temp"] == [2.0, 0.5, 0.999995]
    assert cfg["task"]["min_sample_size"] == template["task"]["min_sample_size"]
    assert cfg["model"]["encoder_embed_dim"] == MODEL_CFG["encoder_embed_dim"]


def test_args_checkpoint_exports_full_cfg(tmp_path):
    ckpt = make_fairseq_checkpoint(seed=0)
    fields = {**ckpt["cfg"]["model"], **ckpt["cfg"]["task"], "lr": [0.0005]}
    del fields["_name"]  # args name the model by `arch`
    ckpt["cfg"], ckpt["args"] = None, argparse.Namespace(**fields)
    torch.save(ckpt, tmp_path / "args.pt")
    out = _import(tmp_path / "args.pt", tmp_path / "imp")
    cfg = _export(out, tmp_path / "export.pt")["cfg"]
    assert set(cfg) == {"model", "task"}
    assert cfg["model"] == {**{k: fields[k] for k in MODEL_CFG if k != "_name"}, "_name": "dinosr"}
    assert cfg["task"] == {k: fields[k] for k in TASK_CFG if k != "_name"} | {
        "_name": "audio_pretraining"}


def _trained_experiment(tmp_path):
    """An experiment as dinosr_train leaves it (config.yaml + a .pth), not an import."""
    cfg = DinoSRConfig(conv_layers=[(24, 10, 5), (24, 4, 2), (24, 3, 2), (24, 3, 2)],
                       embed_dim=48, ffn_dim=80, num_heads=6, num_layers=4, pos_conv_depth=3,
                       pos_conv_kernel=7, pos_conv_groups=8, num_codebooks=3, codebook_size=12,
                       codebook_init="normal", codebook_decay=0.8, ema_last_update=4321,
                       mask_prob=0.7, freeze_feature_extractor_after=4322)
    torch.manual_seed(0)
    model = DinoSR(cfg)
    exp = tmp_path / "exp"
    exp.mkdir()
    conf = {"model_conf": cfg.to_dict(), "fs": 8000, "max_sample_size": 48000,
            "scheduler_conf": {"max_steps": 5000}}
    (exp / "config.yaml").write_text(yaml.safe_dump(conf))
    torch.save({f"dinosr.{k}": v for k, v in model.state_dict().items()}, exp / "3epoch.pth")
    return cfg, model, exp


def test_export_of_a_trained_model_describes_its_network(tmp_path):
    cfg, model, exp = _trained_experiment(tmp_path)
    out = _export(exp, tmp_path / "mine.pt")
    m, t, sd = out["cfg"]["model"], out["cfg"]["task"], out["model"]
    template = release_template()
    assert set(m) == set(template["model"]) and set(t) == set(template["task"])
    # network constants the official loader needs to rebuild this network
    assert m["discrete"] is True and m["freeze_pre_enc_modules"] is True
    assert m["instance_norm_target_layer"] is True and m["layer_norm_first"] is False
    # sizes, read back from the exported tensors
    assert m["encoder_embed_dim"] == sd["mask_emb"].shape[0] == 48
    assert m["encoder_layers"] == len({k.split(".")[2] for k in sd if k.startswith(
        "encoder.layers.")}) == 4
    assert m["encoder_ffn_embed_dim"] == sd["encoder.layers.0.fc1.weight"].shape[0]
    assert m["encoder_attention_heads"] == cfg.num_heads
    heads = sorted(k for k in sd if re.fullmatch(r"heads\.\d+\.weight", k))
    books = sorted(k for k in sd if re.fullmatch(r"_codebook\d+", k))
    assert m["average_top_k_layers"] == len(heads) == len(books) == 3
    assert m["codebook_size"] == sd["heads.0.weight"].shape[0] == sd["_codebook0"].shape[0]
    layers = eval(m["conv_feature_layers"], {"__builtins__": {}})  # as the official code reads it
    assert len(layers) == len([k for k in sd if k.endswith(".0.weight")
                               and k.startswith("feature_extractor.")])
    for i, (channels, kernel, _) in enumerate(layers):
        assert sd[f"feature_extractor.conv_layers.{i}.0.weight"].shape[::2] == (channels, kernel)
    pos = sd["encoder.pos_conv.0.0.weight"]
    assert m["pos_conv_depth"] == len([k for k in sd if re.fullmatch(
        r"encoder\.pos_conv\.\d+\.0\.weight", k)]) == 3
    assert max(3, m["conv_pos"] // m["pos_conv_depth"]) == pos.shape[-1] == 7
    assert m["conv_pos_groups"] == 48 // pos.shape[1]
    # codebook, EMA, mask and freeze settings
    assert m["normal_init_codebook"] is True
    assert m["codebook_init_decay"] == m["codebook_end_decay"] == 0.8
    assert m["freeze_teacher_step"] == 4322 and m["mask_prob"] == 0.7
    assert (m["ema_decay"], m["ema_end_decay"], m["ema_anneal_end_step"]) == (
        cfg.ema_decay_start, cfg.ema_decay_end, cfg.ema_anneal_updates)
    assert m["max_update"] == 5000
    assert (t["sample_rate"], t["max_sample_size"], t["normalize"]) == (8000, 48000, True)
    # and it imports back to the same network
    again = _import(tmp_path / "mine.pt", tmp_path / "back")
    cfg_back, state_back, conf_back = read_experiment(again)
    assert cfg_back == DinoSRConfig.from_dict({**cfg.to_dict(),
                                               "freeze_feature_extractor_after": None})
    assert conf_back["fs"] == 8000
    student_fp16 = model.state_dict()["encoder.layers.1.fc2.weight"].half().float()
    assert torch.equal(state_back["encoder.layers.1.fc2.weight"], student_fp16)
    assert torch.equal(state_back["teacher.encoder.layers.1.fc2.weight"],
                       model.state_dict()["teacher.encoder.layers.1.fc2.weight"])


def test_kept_cfg_can_be_given_explicitly(fairseq_ckpt, imported_dir, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(imported_dir, moved)
    (moved / FAIRSEQ_CFG_FILE).rename(tmp_path / "kept.yaml")
    plain = _export(moved, tmp_path / "plain.pt")["cfg"]
    assert plain["model"]["max_update"] != fairseq_ckpt["cfg"]["model"]["max_update"]
    assert plain["model"]["discrete"] is True  # the model's freeze_feature_extractor_after is
    assert plain["model"]["freeze_pre_enc_modules"] is True  # null: still the release's true
    given = _export(moved, tmp_path / "given.pt", "--fairseq_cfg", str(tmp_path / "kept.yaml"))
    assert given["cfg"] == fairseq_ckpt["cfg"]


def test_export_refuses_absurd_config_before_building(imported_dir, tmp_path, caplog):
    bad = tmp_path / "bad"
    shutil.copytree(imported_dir, bad)
    conf = yaml.safe_load((bad / "config.yaml").read_text())
    conf["model_conf"]["embed_dim"] = 10 ** 12
    (bad / "config.yaml").write_text(yaml.safe_dump(conf))
    assert export_fairseq.main([str(bad), str(tmp_path / "x.pt")]) == 1
    assert "model_conf['embed_dim'] = 1000000000000 is out of range" in caplog.text
    assert not (tmp_path / "x.pt").exists()


def test_import_keeps_fairseq_cfg(fairseq_ckpt, imported_dir):
    kept = yaml.safe_load((imported_dir / FAIRSEQ_CFG_FILE).read_text())
    assert kept == copy.deepcopy(fairseq_ckpt["cfg"])
    assert "fairseq_cfg.yaml" in (imported_dir / "config.yaml").read_text().splitlines()[0]


def test_discrete_false_is_refused_by_name(fairseq_ckpt, tmp_path):
    ckpt = copy.deepcopy(fairseq_ckpt)
    ckpt["cfg"]["model"]["discrete"] = False
    torch.save(ckpt, tmp_path / "regression.pt")
    with pytest.raises(ValueError, match=r"cfg\['model'\]\['discrete'\] = False"):
        import_file(tmp_path / "regression.pt", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_base_recipe_exports_the_release_cfg():
    """The shipped BASE pretraining config describes the released model field for field."""
    root = Path(__file__).resolve().parents[2]
    conf = yaml.safe_load((root / "conf" / "pretrain_base.yaml").read_text())
    cfg = exported_cfg(DinoSRConfig.from_dict(conf["model_conf"]), conf)
    release = release_template()
    assert set(cfg) == {"model", "task"}
    assert parse_conv_feature_layers(cfg["model"].pop("conv_feature_layers")) == \
        parse_conv_feature_layers(release["model"].pop("conv_feature_layers"))
    assert cfg == release
