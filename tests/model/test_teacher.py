"""EMA teacher: λ schedule, Eq. 1 step, frozen teacher, no gradients (spec §2, §5)."""
import pytest
import torch

from dinosr_espnet.model import DinoSRConfig
from dinosr_espnet.model.teacher import teacher_decay


@pytest.mark.parametrize("updates,decay", [(0, 0.999), (15000, 0.99945), (30000, 0.9999),
                                           (100000, 0.9999), (200000, 0.9999), (200001, 1.0)])
def test_base_schedule(updates, decay):
    assert teacher_decay(updates, DinoSRConfig()) == pytest.approx(decay, abs=1e-12)


def encoder_tensors(encoder):
    return {k: v.clone() for k, v in encoder.state_dict().items()}


def test_teacher_equals_student_at_start(tiny_model):
    model = tiny_model().eval()
    student, teacher = model.encoder.state_dict(), model.teacher.encoder.state_dict()
    assert student.keys() == teacher.keys()
    assert all(torch.equal(student[k], teacher[k]) for k in student)
    x = torch.randn(2, 20, 32)
    assert torch.equal(model.encoder(x).hidden_states[-1], model.teacher.encoder(x).hidden_states[-1])
    assert int(model.num_updates) == 0


def test_no_gradient_reaches_teacher_or_codebooks(tiny_model):
    model = tiny_model().train()
    out = model(torch.randn(2, 1600))
    out.loss.backward()
    assert all(not p.requires_grad and p.grad is None for p in model.teacher.parameters())
    assert not model.codebooks.sums.requires_grad and not model.codebooks.counts.requires_grad
    assert model.mask_emb.grad is not None and model.feature_extractor.conv_layers[0].conv.weight.grad is not None
    assert model.teacher.encoder.training is False  # stays in eval mode


def test_eq1_step_and_pos_conv_copy(tiny_model):
    model = tiny_model(ema_decay_start=0.75, ema_decay_end=0.75)
    before = encoder_tensors(model.teacher.encoder)
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(torch.randn_like(p))
    student = encoder_tensors(model.encoder)
    model.on_optimizer_step()
    after = model.teacher.encoder.state_dict()
    for k in after:
        expected = student[k] if k.startswith("pos_conv") else 0.75 * before[k] + 0.25 * student[k]
        assert torch.allclose(after[k], expected, atol=1e-6), k
    assert int(model.num_updates) == 1


def test_frozen_teacher_after_last_update(tiny_model):
    model = tiny_model(ema_last_update=2)
    for _ in range(3):  # λ(0), λ(1), λ(2) < 1: three steps
        model.on_optimizer_step()
    assert teacher_decay(3, model.cfg) == 1.0
    frozen = encoder_tensors(model.teacher.encoder)
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(1.0)
    for _ in range(2):
        model.on_optimizer_step()
    assert all(torch.equal(v, frozen[k]) for k, v in model.teacher.encoder.state_dict().items())
    assert int(model.num_updates) == 5


def test_num_updates_restored_from_state_dict(tiny_model):
    model = tiny_model(ema_last_update=3)
    for _ in range(4):
        model.on_optimizer_step()
    fresh = tiny_model(seed=1, ema_last_update=3)
    fresh.load_state_dict(model.state_dict())
    assert int(fresh.num_updates) == 4
    teacher = encoder_tensors(fresh.teacher.encoder)
    fresh.on_optimizer_step()
    assert all(torch.equal(v, teacher[k]) for k, v in fresh.teacher.encoder.state_dict().items())
    assert int(fresh.num_updates) == 5


def test_real_feature_extractor_freeze(tiny_model):
    model = tiny_model(freeze_feature_extractor_after=1)
    assert model.post_extract_proj.weight.requires_grad
    model.on_optimizer_step()
    frozen = [model.feature_extractor, model.post_extract_norm, model.post_extract_proj]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    model(torch.randn(2, 1600)).loss.backward()
    assert all(p.grad is None for m in frozen for p in m.parameters())
    assert model.encoder.layers[0].fc1.weight.grad is not None
