"""Start-up validation of the training and fine-tuning YAML: keys, types, ranges, *_conf."""
from __future__ import annotations

import copy

import pytest
import yaml
from espnet2.utils.yaml_no_alias_safe_dump import yaml_no_alias_safe_dump

from pretrain_launch import REPO, TINY_CONFIG, run_train, train_cmd
from dinosr_espnet.espnet.asr_task import DinoSRASRTask
from dinosr_espnet.espnet.config_check import ConfigError, check_training_command
from dinosr_espnet.espnet.task import DinoSRTask

TINY = yaml.safe_load(TINY_CONFIG.read_text())
FINETUNE = yaml.safe_load((REPO / "conf" / "finetune_tiny.yaml").read_text())
PRETRAIN_REF = ["--encoder_conf", f"pretrain_config={TINY_CONFIG}"]
SHAPES = ["--train_shape_file", "speech_shape", "--valid_shape_file", "speech_shape"]


def check(tmp_path, task, conf, *extra, shapes=True):
    """Check a pretraining (with shape files unless ``shapes`` is false) or fine-tuning run."""
    path = tmp_path / "conf.yaml"
    path.write_text(yaml.safe_dump(conf))
    shape_args = SHAPES if shapes and task is DinoSRTask else []
    check_training_command(task, ["--config", str(path), *shape_args, *extra])


def edited(base, key_path, value):
    conf = copy.deepcopy(base)
    *parents, last = key_path.split(".")
    node = conf
    for k in parents:
        node = node.setdefault(k, {})
    if value is DELETE:
        node.pop(last)
    else:
        node[last] = value
    return conf


DELETE = object()


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "conf").glob("*.yaml")
                                        if p.name.startswith(("pretrain_", "finetune_"))))
def test_shipped_configs_pass(name, tmp_path):
    task, extra = (DinoSRTask, []) if name.startswith("pretrain_") else (DinoSRASRTask,
                                                                          PRETRAIN_REF)
    check_training_command(task, ["--config", str(REPO / "conf" / name), *SHAPES, *extra])


@pytest.mark.parametrize("key,value,message", [
    # ESPnet's own options, typed from its argparse parser
    ("max_epoch", "10", r"key 'max_epoch' = the string '10' \(a quoted number is text: remove "
                        r"the quotes\): expected an int$"),
    ("max_epoch", 10.0, r"'max_epoch' = 10\.0 \(float\): expected an int"),
    ("batch_bins", 6.4e4, r"'batch_bins' = 64000\.0 \(float\): expected an int"),
    ("grad_clip", "5.0", r"'grad_clip' = the string '5\.0'.*: expected a number"),
    ("grad_clip", [5], r"'grad_clip' = \[5\] \(list\): expected a number"),
    ("use_amp", "false", r"'use_amp' = the string 'false': expected true or false"),
    ("use_amp", 0, r"'use_amp' = 0 \(int\): expected true or false"),
    ("num_iters_per_epoch", "4", r"'num_iters_per_epoch'.*expected an int or null"),
    ("optim", "adamm", r"'optim' = the string 'adamm': expected one of: adam, adamw, "),
    ("optim", 1, r"'optim' = 1 \(int\): expected a string"),
    ("batch_type", "numels", r"'batch_type'.*expected one of: unsorted, sorted"),
    ("best_model_criterion", ["valid", "loss", "min"],
     r"'best_model_criterion\[0\]' = the string 'valid': expected a list of 3 strings"),
    ("keep_nbest_models", "1", r"'keep_nbest_models' = the string '1'.*expected a list, each item an int"),
    ("optim_conf", 0.1, r"'optim_conf' = 0\.1 \(float\): expected a mapping"),
    ("val_scheduler_criterion", ["valid"], r"'val_scheduler_criterion' = \['valid'\] \(list\): "
                                           r"expected a list of 2 items, each a string"),
    # ranges
    ("max_epoch", 0, r"'max_epoch' = 0 \(int\): expected a number >= 1"),
    ("accum_grad", -2, r"'accum_grad' = -2 \(int\): expected a number >= 1"),
    ("seed", -1, r"'seed' = -1 \(int\): expected a number >= 0"),
    ("grad_clip", 0.0, r"'grad_clip' = 0\.0 \(float\): expected a number in \(0, inf\]"),
    ("grad_clip", float("nan"), r"'grad_clip' = nan \(float\): expected a finite number"),
    ("max_sample_size", 0, r"'max_sample_size' = 0 \(int\): expected a number >= 1"),
    # optimizer and scheduler keyword arguments, typed from the classes' signatures
    ("optim_conf.lr", "1e-3", r"'optim_conf\.lr' = the string '1e-3' \(YAML reads 1e-3 as text: "
                              r"write it with a decimal point, e\.g\. 1\.0e-3\): expected a number"),
    ("optim_conf.lr", -0.1, r"'optim_conf\.lr' = -0\.1 \(float\): expected a number >= 0"),
    ("optim_conf.betas", [0.9], r"'optim_conf\.betas' = \[0\.9\] \(list\): expected a list"),
    ("optim_conf.betas", [0.9, 1.5], r"'optim_conf\.betas'.*expected a number in \[0, 1\)"),
    ("optim_conf.amsgrad", "no", r"'optim_conf\.amsgrad' = the string 'no': expected true or false"),
    ("scheduler_conf.max_steps", "40", r"'scheduler_conf\.max_steps' = the string '40'.*"
                                       r"expected an int"),
    ("scheduler_conf.max_steps", 0, r"'scheduler_conf\.max_steps' = 0 .*expected a number >= 1"),
    ("scheduler_conf.phase_ratio", 0.5, r"'scheduler_conf\.phase_ratio'.*expected "),
    ("scheduler_conf.final_lr_scale", 0, r"'scheduler_conf\.final_lr_scale'.*\(0, 1\]"),
    # the DinoSR model configuration
    ("model_conf.codebook_decay", "0.9", r"model_conf: DinoSR config key 'codebook_decay' must "
                                         r"be a number, got '0\.9' \(a quoted number is text"),
    ("model_conf.num_layers", 3.0, r"model_conf: DinoSR config key 'num_layers' must be an int"),
])
def test_bad_pretraining_value_is_one_line_naming_key_value_and_type(key, value, message,
                                                                     tmp_path):
    with pytest.raises(ConfigError, match=message) as err:
        check(tmp_path, DinoSRTask, edited(TINY, key, value))
    assert "\n" not in str(err.value) and str(err.value).startswith(f"--config {tmp_path}")


@pytest.mark.parametrize("key,message", [
    ("max_epochs", r"unknown key 'max_epochs' \(did you mean 'max_epoch'\?\)"),
    ("optim_conf.weight_decays", r"unknown key 'optim_conf\.weight_decays' for torch\.optim\."
                                 r"adamw\.AdamW \(did you mean 'weight_decay'\? known: lr, "),
    ("scheduler_conf.warmup", r"unknown key 'scheduler_conf\.warmup' for "
                              r"dinosr_espnet\.espnet\.scheduler\.TriStageLR"),
    ("model_conf.codebook_sise", r"unknown DinoSR config key.*codebook_sise"),
])
def test_unknown_keys_are_named(key, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        check(tmp_path, DinoSRTask, edited(TINY, key, 1))


def test_command_line_values_are_checked_too(tmp_path):
    """``--optim_conf lr=1e-3`` reaches ESPnet as the string '1e-3' (YAML 1.1)."""
    with pytest.raises(ConfigError, match=r"'optim_conf\.lr' = the string '1e-3'"):
        check(tmp_path, DinoSRTask, TINY, "--optim_conf", "lr=1e-3")
    with pytest.raises(ConfigError, match=r"'max_epoch' = 0 \(int\): expected a number >= 1"):
        check(tmp_path, DinoSRTask, TINY, "--max_epoch", "0")
    check(tmp_path, DinoSRTask, TINY, "--optim_conf", "lr=1.0e-3", "--max_epoch", "3")


@pytest.mark.parametrize("key,value,message", [
    ("encoder_conf.mask_prob", "0.65", r"'encoder_conf\.mask_prob' = the string '0\.65'.*"
                                       r"expected a number$"),
    ("encoder_conf.freeze_encoder_updates", 10.5, r"'encoder_conf\.freeze_encoder_updates' = "
                                                  r"10\.5 \(float\): expected an int"),
    ("encoder_conf.mask_prob", 1.5, r"'encoder_conf\.mask_prob' = 1\.5 \(float\): expected a "
                                    r"number in \[0, 1\]"),
    ("encoder_conf.layerdrop", 1.0, r"'encoder_conf\.layerdrop' = 1\.0 .*in \[0, 1\)"),
    ("encoder_conf.mask_channel_length", 0, r"'encoder_conf\.mask_channel_length' = 0 .*>= 1"),
    ("encoder_conf.mask_porb", 0.5, r"unknown key 'encoder_conf\.mask_porb' for .*DinoSREncoder "
                                    r"\(did you mean 'mask_prob'\?"),
    ("ctc_conf.zero_infinity", "true", r"'ctc_conf\.zero_infinity' = the string 'true': "
                                       r"expected true or false"),
    ("model_conf.ctc_weight", "1.0", r"'model_conf\.ctc_weight' = the string '1\.0'.*"
                                     r"expected a number"),
    ("token_type", "letters", r"'token_type' = the string 'letters': expected one of: bpe"),
    ("normalize", "utterance_mvn", r"encoder: dinosr reads raw 16 kHz waveforms; set normalize"),
    ("encoder_conf.dinosr_conf", {"embed_dim": "64"},
     r"encoder_conf: give exactly one of 'dinosr_conf' and 'pretrain_config'"),
])
def test_bad_finetuning_value_is_named(key, value, message, tmp_path):
    with pytest.raises(ConfigError, match=message) as err:
        check(tmp_path, DinoSRASRTask, edited(FINETUNE, key, value), *PRETRAIN_REF)
    assert "\n" not in str(err.value)


def test_inline_dinosr_conf_is_validated(tmp_path):
    conf = edited(FINETUNE, "encoder_conf.dinosr_conf", dict(TINY["model_conf"], embed_dim="64"))
    with pytest.raises(ConfigError, match=r"encoder_conf: DinoSR config key 'embed_dim' must be "
                                          r"an int, got '64'"):
        check(tmp_path, DinoSRASRTask, conf)


def test_bad_yaml_files_are_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("max_epoch: 10\noptim_conf: {lr: 0.1\n")
    with pytest.raises(ConfigError, match=rf"--config {bad}: line 3: invalid YAML"):
        check_training_command(DinoSRTask, ["--config", str(bad)])
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping of options, got list"):
        check_training_command(DinoSRTask, ["--config", str(bad)])
    with pytest.raises(FileNotFoundError, match="--config .*nothing.yaml: no such file"):
        check_training_command(DinoSRTask, ["--config", str(tmp_path / "nothing.yaml")])


def test_launcher_stops_before_training(tiny_data, tmp_path):
    """The check runs in ``dinosr_train`` before ESPnet: nothing is written."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(edited(TINY, "optim_conf.lr", "2e-3")))
    with pytest.raises(ConfigError, match=r"'optim_conf\.lr' = the string '2e-3'"):
        run_train(train_cmd(tiny_data, tmp_path / "exp", config=bad))
    assert not (tmp_path / "exp").exists()


def test_missing_shape_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"no --train_shape_file: ESPnet batches by length"):
        check(tmp_path, DinoSRTask, TINY, shapes=False)


@pytest.mark.parametrize("task", [DinoSRTask, DinoSRASRTask], ids=["pretrain", "finetune"])
def test_every_espnet_default_passes(task, tmp_path):
    """All of ESPnet's options at their own default values, written as ESPnet writes
    config.yaml (null, [], nested dicts): no false alarm on any key."""
    parser = task.get_parser()
    defaults = vars(parser.parse_args([]))
    options = {a.dest for a in parser._actions}
    conf = {k: v for k, v in defaults.items() if k in options and k != "help"}
    conf.update(config="ignored.yaml", **SHAPE_CONF)
    path = tmp_path / "all.yaml"
    path.write_text(yaml_no_alias_safe_dump(conf))  # as ESPnet writes config.yaml
    check_training_command(task, ["--config", str(path)])


SHAPE_CONF = {"train_shape_file": ["speech_shape"], "valid_shape_file": ["speech_shape"]}
