"""import_fairseq → our experiment directory → export_fairseq: exact round trip, every key."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import yaml

from dinosr_espnet.bin import export_fairseq
from dinosr_espnet.espnet.asr_encoder import DinoSREncoder
from dinosr_espnet.espnet.model import ESPnetDinoSRModel
from dinosr_espnet.interop.convert import import_fairseq
from dinosr_espnet.interop.espnet_dir import read_experiment
from dinosr_espnet.interop.fairseq_config import DIRECT_KEYS
from dinosr_espnet.interop.safe_load import load_checkpoint
from espnet2.torch_utils.load_pretrained_model import load_pretrained_model
from fairseq_writer import NUM_UPDATES


@pytest.fixture(scope="module")
def exported(imported_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "dinosr_export.pt"
    export_fairseq.main([str(imported_dir), str(path)])
    return load_checkpoint(path)


def test_tensors_round_trip_exactly(fairseq_ckpt, exported):
    src, out = fairseq_ckpt["model"], exported["model"]
    assert set(out) == set(src)
    assert set(out["_ema"]) == set(src["_ema"])
    for key, value in src.items():
        if key == "_ema":
            continue
        assert out[key].dtype == value.dtype, key
        assert torch.equal(out[key], value), key
    for key, value in src["_ema"].items():
        assert out["_ema"][key].dtype == torch.float32, key
        assert torch.equal(out["_ema"][key], value), key
    assert src["encoder.layers.0.fc1.weight"].dtype == torch.float16
    assert src["_codebook0"].dtype == torch.float32


def test_config_and_counter_round_trip(fairseq_ckpt, exported):
    src_cfg, out_cfg = fairseq_ckpt["cfg"]["model"], exported["cfg"]["model"]
    for key in [*DIRECT_KEYS, "conv_feature_layers", "conv_pos", "freeze_teacher_step",
                "_name", "extractor_mode", "layer_norm_first", "instance_norm_target_layer"]:
        assert out_cfg[key] == src_cfg[key], key
    assert exported["cfg"]["task"]["normalize"] is True
    assert exported["optimizer_history"][-1]["num_updates"] == NUM_UPDATES


def test_experiment_dir_matches_espnet_training_format(imported_dir):
    config = yaml.safe_load((imported_dir / "config.yaml").read_text())
    assert config["model_conf"]["embed_dim"] == 32 and config["fs"] == 16000
    assert "optim" in config and "batch_bins" in config  # the full task config, as training
    info = yaml.safe_load((imported_dir / "fairseq_import.yaml").read_text())
    assert info["input_normalize"] is True and info["num_updates"] == NUM_UPDATES
    assert info["num_updates_from"] == "optimizer_history[-1]['num_updates']"
    cfg, state, _ = read_experiment(imported_dir)
    espnet_model = ESPnetDinoSRModel(cfg)
    espnet_model.load_state_dict(torch.load(imported_dir / "model.pth"), strict=True)
    assert int(espnet_model.dinosr.num_updates) == NUM_UPDATES
    assert espnet_model.dinosr._updates == NUM_UPDATES


def test_init_param_loads_the_student_into_the_asr_encoder(imported_dir):
    encoder = DinoSREncoder(input_size=1, pretrain_config=str(imported_dir))
    load_pretrained_model(f"{imported_dir}/model.pth:dinosr:dinosr", encoder,
                          ignore_init_mismatch=False)
    _, state, _ = read_experiment(imported_dir)
    for key, value in encoder.dinosr.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_num_updates_override_and_absence(fairseq_ckpt, tmp_path, caplog):
    ckpt = {k: v for k, v in fairseq_ckpt.items() if k not in ("optimizer_history",)}
    path = tmp_path / "stripped.pt"
    torch.save(ckpt, path)
    import_fairseq(path, tmp_path / "a")
    assert "no update counter found" in caplog.text
    assert int(read_experiment(tmp_path / "a")[1]["num_updates"]) == 0
    import_fairseq(path, tmp_path / "b", num_updates=7)
    assert int(read_experiment(tmp_path / "b")[1]["num_updates"]) == 7


def test_unnormalised_checkpoint_is_refused(fairseq_ckpt, tmp_path):
    ckpt = dict(fairseq_ckpt)
    ckpt["cfg"] = {**ckpt["cfg"], "task": {"_name": "audio_pretraining", "normalize": False}}
    path = tmp_path / "raw.pt"
    torch.save(ckpt, path)
    with pytest.raises(ValueError, match=r"cfg\['task'\]\['normalize'\] = False"):
        import_fairseq(path, tmp_path / "out")


def test_cli_help_runs():
    for module in ("import_fairseq", "export_fairseq"):
        result = subprocess.run([sys.executable, "-m", f"dinosr_espnet.bin.{module}", "--help"],
                                capture_output=True, text=True, check=True)
        assert "usage:" in result.stdout and "fairseq" in result.stdout
