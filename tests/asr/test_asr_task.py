"""DinoSRASRTask: --init_param from a pretraining checkpoint, and the encoder freeze counted in
optimizer updates (not forwards) under gradient accumulation."""
from __future__ import annotations

import pytest
import torch
from espnet2.torch_utils.load_pretrained_model import load_pretrained_model

from dinosr_espnet.espnet.asr_task import DinoSRASRTask
from dinosr_espnet.espnet.model import ESPnetDinoSRModel
from dinosr_espnet.model import DinoSRConfig

from asr_fixtures import FINETUNE_TINY, PRETRAIN_TINY, TOKENS


def build(tmp_path, *extra: str):
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("".join(t + "\n" for t in TOKENS))
    args = DinoSRASRTask.get_parser().parse_args([
        "--config", str(FINETUNE_TINY), "--token_list", str(tokens),
        "--encoder_conf", f"pretrain_config={PRETRAIN_TINY}", *extra])
    torch.manual_seed(0)
    model = DinoSRASRTask.build_model(args)
    return args, model


def test_init_param_copies_the_pretrained_student(tmp_path, tiny_conf):
    torch.manual_seed(123)
    pretrained = ESPnetDinoSRModel(DinoSRConfig.from_dict(tiny_conf))
    with torch.no_grad():  # make every tensor distinguishable from a fresh init
        for p in pretrained.parameters():
            p.add_(torch.rand_like(p))
    ckpt = tmp_path / "pretrain" / "3epoch.pth"
    ckpt.parent.mkdir()
    torch.save(pretrained.state_dict(), ckpt)

    args, model = build(tmp_path)
    assert args.encoder_conf["dinosr_conf"] == tiny_conf and "pretrain_config" not in \
        args.encoder_conf  # config.yaml becomes self-contained
    load_pretrained_model(f"{ckpt}:dinosr:encoder.dinosr", model, ignore_init_mismatch=False)

    src = pretrained.state_dict()
    student = model.encoder.dinosr.state_dict()
    expected = {k[len("dinosr."):] for k in src if not k.startswith(
        ("dinosr.teacher.", "dinosr.codebooks.", "dinosr.heads.", "dinosr.num_updates"))}
    assert set(student) == expected
    for k, v in student.items():
        torch.testing.assert_close(v, src["dinosr." + k], rtol=0, atol=0, msg=k)
    names = list(model.state_dict())
    assert not any(s in k for k in names for s in ("teacher", "codebooks", "heads"))
    assert int(model.encoder.num_updates) == 0  # pretraining's counter is not the ASR one


def test_encoder_frozen_for_first_updates_with_accum_grad(tmp_path):
    args, model = build(tmp_path, "--encoder_conf", "freeze_encoder_updates=2")
    model.train()
    (optimizer,) = DinoSRASRTask.build_optimizers(args, model)
    enc = model.encoder
    torch.manual_seed(0)
    speech = torch.randn(2, 4000)
    batch = dict(speech=speech, speech_lengths=torch.tensor([4000, 3000]),
                 text=torch.tensor([[3, 4, 2, 5], [6, 7, -1, -1]]),
                 text_lengths=torch.tensor([4, 2]))
    accum_grad, frozen_seen = 2, []
    for update in range(4):
        for _ in range(accum_grad):  # two forwards per update, as --accum_grad 2
            loss, _, _ = model(**batch)
            (loss / accum_grad).backward()
        encoder_grads = [p.grad for p in enc.dinosr.encoder.parameters()]
        frozen_seen.append(all(g is None for g in encoder_grads))
        if not frozen_seen[-1]:
            assert all(g is not None for g in encoder_grads)
        assert model.ctc.ctc_lo.weight.grad is not None
        assert all(p.grad is None for p in enc.dinosr.feature_extractor.parameters())
        optimizer.step()
        optimizer.zero_grad()
        assert int(enc.num_updates) == update + 1  # one per step, not per forward
    assert frozen_seen == [True, True, False, False]


def test_wrong_frontend_setup_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="normalize: null"):
        build(tmp_path, "--normalize", "utterance_mvn")
