"""End to end on CPU: asr_train (tiny config, --init_param from a pretraining checkpoint,
--accum_grad 2) writes a checkpoint; asr_inference writes (T, V) emissions and Viterbi text."""
from __future__ import annotations

import kaldiio
import numpy as np
import torch
from asr_fixtures import FINETUNE_TINY, PRETRAIN_TINY, TOKENS, write_asr_data

from dinosr_espnet.bin import asr_inference, asr_train
from dinosr_espnet.espnet.model import ESPnetDinoSRModel
from dinosr_espnet.model import DinoSRConfig


def test_train_then_inference(tmp_path, tiny_conf):
    data = write_asr_data(tmp_path / "data")
    torch.manual_seed(7)
    pretrained = ESPnetDinoSRModel(DinoSRConfig.from_dict(tiny_conf))
    ckpt = tmp_path / "pretrain" / "5epoch.pth"
    ckpt.parent.mkdir()
    torch.save(pretrained.state_dict(), ckpt)

    exp = tmp_path / "exp"
    d = tmp_path / "data"
    asr_train.main([
        "--config", str(FINETUNE_TINY), "--token_list", str(data["tokens.txt"]),
        "--encoder_conf", f"pretrain_config={PRETRAIN_TINY}",
        "--encoder_conf", "freeze_encoder_updates=1000",
        "--init_param", f"{ckpt}:dinosr:encoder.dinosr",
        "--train_data_path_and_name_and_type", f"{d}/wav.scp,speech,sound",
        "--train_data_path_and_name_and_type", f"{d}/text,text,text",
        "--train_shape_file", f"{d}/speech_shape", "--train_shape_file", f"{d}/text_shape.char",
        "--valid_data_path_and_name_and_type", f"{d}/wav.scp,speech,sound",
        "--valid_data_path_and_name_and_type", f"{d}/text,text,text",
        "--valid_shape_file", f"{d}/speech_shape", "--valid_shape_file", f"{d}/text_shape.char",
        "--batch_type", "unsorted", "--batch_size", "2", "--accum_grad", "2",
        "--max_epoch", "1", "--num_iters_per_epoch", "4", "--scheduler_conf", "max_steps=2",
        "--use_matplotlib", "false", "--use_tensorboard", "false",
        "--output_dir", str(exp), "--ngpu", "0",
    ])
    state = torch.load(exp / "1epoch.pth", map_location="cpu")
    assert int(state["encoder.num_updates"]) == 2  # 4 batches / accum_grad 2
    src = pretrained.state_dict()
    for k, v in state.items():  # CNN and (still frozen) encoder = the pretrained student
        if k.startswith("encoder.dinosr."):
            torch.testing.assert_close(v, src["dinosr." + k[len("encoder.dinosr."):]],
                                       rtol=0, atol=0, msg=k)

    out = tmp_path / "decode"
    asr_inference.main([
        "--asr_train_config", str(exp / "config.yaml"), "--asr_model_file",
        str(exp / "1epoch.pth"), "--data_dir", str(d), "--output_dir", str(out),
        "--batch_size", "4", "--num_workers", "0",
    ])
    cfg = DinoSRConfig.from_dict(tiny_conf)
    lengths = {line.split()[0]: int(line.split()[1])
               for line in data["utt2num_samples"].read_text().splitlines()}
    emissions = dict(kaldiio.load_scp(str(out / "emissions.scp")))
    assert set(emissions) == set(lengths)
    for uid, e in emissions.items():
        assert e.shape == (cfg.num_frames(lengths[uid]), len(TOKENS))
        np.testing.assert_allclose(np.logaddexp.reduce(e, axis=1), 0.0, atol=1e-4)
    text_ids = [line.split(maxsplit=1)[0] for line in (out / "text").read_text().splitlines()]
    assert text_ids == sorted(lengths)
    assert (out / "tokens.txt").read_text().split("\n")[:-1] == TOKENS
