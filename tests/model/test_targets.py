"""Teacher targets: FFN outputs before dropout/residual/LN2, instance-normalised (spec §3)."""
import math

import torch
from torch.nn import functional as F


def layer_norm(x, ln=None):
    d = x.shape[-1]
    return F.layer_norm(x, (d,), None if ln is None else ln.weight, None if ln is None else ln.bias)


def manual_ffn_outputs(enc, x, num_heads):
    """Re-derive every layer's FFN output of ``enc`` with plain tensor ops."""
    h = x
    for block in enc.pos_conv:
        c = block.conv
        h = F.conv1d(h.transpose(1, 2), c.weight, c.bias, padding=c.kernel_size[0] // 2,
                     groups=c.groups).transpose(1, 2)
        h = F.gelu(layer_norm(h))
    x = layer_norm(x + h, enc.layer_norm)
    b, t, d = x.shape
    dh = d // num_heads
    outs = []
    for layer in enc.layers:
        a = layer.self_attn
        q, k, v = (F.linear(x, p.weight, p.bias).view(b, t, num_heads, dh).transpose(1, 2)
                   for p in (a.q_proj, a.k_proj, a.v_proj))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), -1) @ v
        att = F.linear(att.transpose(1, 2).reshape(b, t, d), a.out_proj.weight, a.out_proj.bias)
        x = layer_norm(x + att, layer.self_attn_layer_norm)
        f = F.linear(F.gelu(F.linear(x, layer.fc1.weight, layer.fc1.bias)), layer.fc2.weight,
                     layer.fc2.bias)
        outs.append(f)
        x = layer_norm(x + f, layer.final_layer_norm)
    return outs


def test_targets_match_manual_computation(tiny_model):
    model = tiny_model(num_layers=2, num_codebooks=2).eval()
    with torch.no_grad():  # make the student differ: targets must come from the teacher
        for p in model.encoder.parameters():
            p.add_(0.1 * torch.randn_like(p))
    features = torch.randn(2, 30, 32)
    got = model.teacher_targets(features, None)
    ffn = manual_ffn_outputs(model.teacher.encoder, features, num_heads=4)
    expected = torch.stack([F.instance_norm(f.transpose(1, 2), eps=1e-5).transpose(1, 2)
                            for f in ffn])
    assert got.shape == (2, 2, 30, 32) and got.dtype == torch.float32
    assert torch.allclose(got, expected, atol=1e-5)
    student = torch.stack(model.encoder(features, ffn_layers=[0, 1]).ffn_outputs)
    assert not torch.allclose(student, torch.stack(ffn), atol=1e-3)


def test_targets_use_top_layers(tiny_model):
    model = tiny_model(num_layers=3, num_codebooks=2).eval()
    features = torch.randn(1, 25, 32)
    ffn = manual_ffn_outputs(model.teacher.encoder, features, num_heads=4)
    got = model.teacher_targets(features, None)
    for k, layer in enumerate([1, 2]):  # codebook k ↔ layer (K − N) + k
        expected = F.instance_norm(ffn[layer].transpose(1, 2), eps=1e-5).transpose(1, 2)
        assert torch.allclose(got[k], expected, atol=1e-5)


def test_forward_targets_are_nearest_codewords(tiny_model):
    model = tiny_model().eval()
    source = torch.randn(2, 1600)
    feats = model.extract(source)
    features, _, _ = model.extract_features(source)
    z = model.teacher_targets(features, None)
    expected = torch.cdist(z.flatten(1, 2), model.codebooks.centroids()).argmin(-1)
    assert torch.equal(feats.codeword_indices, expected.view(2, 2, -1))
