"""The optimised training path (fused heads, one-matmul assignment, ``index_add_`` statistics,
dense masked loss, SDPA, activation checkpointing, ``torch.compile``) gives the same loss,
targets, codebooks and gradients as a straightforward implementation, in fp32 and under CPU
bf16 autocast (codebooks and their statistics stay fp32)."""
from __future__ import annotations

import copy
import math

import pytest
import torch
from torch.nn import functional as F
from torch.profiler import ProfilerActivity, profile

from dinosr_espnet.model.encoder import SelfAttention
from perf_reference import reference_step

SAMPLES = 1600


def fixed_mask(b: int, t: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(b, t, generator=g) < 0.5
    mask[:, 0] = True
    return mask


def one_hot_statistics(z, indices, weights, v):
    """Σ Z_v and |Z_v| by an explicit loop over codebooks and codewords."""
    n, _, d = z.shape
    sums, counts = torch.zeros(n, v, d), torch.zeros(n, v)
    for k in range(n):
        for c in range(v):
            sel = (indices[k] == c) & weights.bool()
            sums[k, c] = z[k][sel].sum(0)
            counts[k, c] = sel.sum()
    return sums, counts


def test_index_add_statistics_match_loop(tiny):
    books = tiny().codebooks
    g = torch.Generator().manual_seed(3)
    z = torch.randn(2, 40, 32, generator=g)
    indices = torch.randint(0, 8, (2, 40), generator=g)
    weights = torch.rand(40, generator=g) < 0.4
    sums, counts = books.batch_statistics(z, indices, weights)
    ref_sums, ref_counts = one_hot_statistics(z, indices, weights, 8)
    assert torch.allclose(sums, ref_sums, atol=1e-5)
    assert torch.equal(counts, ref_counts)
    assert counts.sum() == 2 * weights.sum()  # every selected frame counted once per codebook
    all_sums, all_counts = books.batch_statistics(z, indices)
    assert all_counts.sum() == 80 and torch.allclose(all_sums.sum(1), z.sum(1), atol=1e-4)


AMP = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _cpu_autocast_works(dtype: torch.dtype) -> bool:
    try:
        with torch.autocast("cpu", dtype=dtype):
            return torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == dtype
    except (RuntimeError, ValueError):
        return False


@pytest.mark.parametrize("amp", list(AMP))
def test_optimised_step_matches_reference(tiny, amp):
    dtype = AMP[amp]
    if dtype is not None and not _cpu_autocast_works(dtype):
        pytest.skip(f"CPU {amp} autocast not supported here")
    model = tiny()
    reference = copy.deepcopy(model)
    source = torch.randn(3, SAMPLES, generator=torch.Generator().manual_seed(1))
    mask = fixed_mask(3, model.cfg.num_frames(SAMPLES))
    assigned = []
    assign = model.codebooks.assign
    model.codebooks.assign = lambda z: assigned.append(assign(z)) or assigned[-1]

    with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        out = model(source, mask_indices=mask)
        ref_loss, ref_targets = reference_step(reference, source, mask)
    out.loss.backward()
    ref_loss.backward()

    tol = 1e-5 if amp == "fp32" else 2e-2
    assert out.loss.item() == pytest.approx(ref_loss.item(), rel=tol)
    targets = assigned[0].view(2, *mask.shape)[:, mask]
    assert torch.equal(targets, ref_targets)
    for name in ("sums", "counts"):
        ours, ref = getattr(model.codebooks, name), getattr(reference.codebooks, name)
        assert ours.dtype == torch.float32
        assert torch.allclose(ours, ref, atol=1e-5), name
    assert out.stats["ppl_cb0"].dtype == torch.float32
    grads, ref_grads = [], []
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        if p.requires_grad:
            assert p.grad is not None and q.grad is not None, name
            grads.append(p.grad.flatten())
            ref_grads.append(q.grad.flatten())
    grads, ref_grads = torch.cat(grads), torch.cat(ref_grads)
    error = float((grads - ref_grads).norm() / ref_grads.norm())
    assert error < (1e-5 if amp == "fp32" else 3e-2), f"gradients differ by {error:.2e}"
    for p in model.teacher.parameters():
        assert p.grad is None  # no gradient reaches the teacher


def test_teacher_forward_keeps_no_autograd_state(tiny):
    model = tiny()
    features, _, _ = model.extract_features(torch.randn(2, SAMPLES))
    assert features.requires_grad
    z = model.teacher_targets(features, None)
    assert z.grad_fn is None and not z.requires_grad


def test_activation_checkpointing_same_loss_and_gradients(tiny):
    """With dropout and layerdrop on, so that the recomputation must replay the RNG."""
    drop = dict(dropout=0.1, attention_dropout=0.1, layerdrop=0.3)
    plain, ckpt = tiny(**drop), tiny(activation_checkpointing=True, **drop)
    calls = {id(plain): [], id(ckpt): []}
    for model in (plain, ckpt):
        for layer in model.encoder.layers:  # student layers only (the teacher is a copy)
            layer.register_forward_pre_hook(lambda *a, c=calls[id(model)]: c.append(1))
    source = torch.randn(2, SAMPLES)
    mask = fixed_mask(2, plain.cfg.num_frames(SAMPLES), seed=2)
    losses = []
    for model in (plain, ckpt):
        torch.manual_seed(5)
        out = model(source, mask_indices=mask)
        out.loss.backward()
        losses.append(out.loss.item())
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)
    executed = len(calls[id(plain)])  # layers not dropped by layerdrop
    assert executed > 0 and len(calls[id(ckpt)]) == 2 * executed  # recomputed in backward
    for (name, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        if p.grad is not None:
            assert torch.allclose(p.grad, q.grad, atol=1e-6, rtol=1e-5), name


def test_attention_uses_fused_kernel_and_matches_softmax_reference():
    torch.manual_seed(0)
    attn = SelfAttention(32, 4, dropout=0.0).eval()
    x = torch.randn(2, 7, 32)
    keep = torch.ones(2, 1, 1, 7, dtype=torch.bool)
    keep[1, ..., 5:] = False  # key padding on the second row
    with profile(activities=[ProfilerActivity.CPU], acc_events=True) as prof:
        y = attn(x, keep)
    assert any("flash_attention" in e.key for e in prof.key_averages()), \
        sorted({e.key for e in prof.key_averages()})

    def heads(t):
        return t.view(2, 7, 4, 8).transpose(1, 2)
    q, k, v = heads(attn.q_proj(x)), heads(attn.k_proj(x)), heads(attn.v_proj(x))
    scores = (q @ k.transpose(-1, -2) / math.sqrt(8)).masked_fill(~keep, float("-inf"))
    ref = attn.out_proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(2, 7, 32))
    assert torch.allclose(y, ref, atol=1e-5)


@pytest.mark.slow
def test_torch_compile_same_loss_and_gradients(tiny):
    """Compiling takes minutes on 2 shared cores, hence ``slow``."""
    eager, compiled = tiny(), tiny(torch_compile=True)
    source = torch.randn(2, SAMPLES)
    mask = fixed_mask(2, eager.cfg.num_frames(SAMPLES), seed=4)
    outs = []
    for model in (eager, compiled):
        out = model(source, mask_indices=mask)
        out.loss.backward()
        outs.append(out.loss.item())
    assert outs[0] == pytest.approx(outs[1], rel=1e-5)
    assert torch.allclose(eager.codebooks.sums, compiled.codebooks.sums, atol=1e-5)
    for (name, p), q in zip(eager.named_parameters(), compiled.parameters()):
        if p.grad is not None:
            assert torch.allclose(p.grad, q.grad, atol=1e-5, rtol=1e-4), name
    assert F.mse_loss(eager.heads[0].weight.grad, compiled.heads[0].weight.grad) < 1e-10
