"""The channels-last CNN (convolutions as window GEMMs) computes what ``nn.Conv1d`` →
LayerNorm over channels → GELU computes in the usual (B, C, T) layout, forward and backward."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dinosr_espnet.model.feature_extractor import ConvBlock, FeatureExtractor, frame_windows


def reference_block(block: ConvBlock, x: torch.Tensor) -> torch.Tensor:
    """(B, C, T) → (B, C', T'): Conv1d, LayerNorm over channels, GELU."""
    y = block.conv(x)
    return F.gelu(block.norm(y.transpose(1, 2)).transpose(1, 2))


@pytest.mark.parametrize("channels, kernel, stride, length", [
    (1, 10, 5, 163),  # first block: one input channel
    (6, 3, 2, 41),    # overlapping windows
    (6, 2, 2, 41),    # kernel == stride, odd length: last sample dropped, strided batch
    (6, 2, 2, 40),    # kernel == stride, whole windows: a view
    (6, 4, 4, 43),
])
def test_frame_windows_match_unfold(channels, kernel, stride, length):
    x = torch.randn(3, length, channels)
    windows = frame_windows(x, kernel, stride)
    frames = (length - kernel) // stride + 1
    assert windows.shape == (3, frames, kernel * channels) and windows.is_contiguous()
    for t in (0, frames - 1):
        expected = x[:, t * stride: t * stride + kernel].flatten(1)  # (tap, channel) order
        assert torch.equal(windows[:, t], expected)


@pytest.mark.parametrize("in_channels, kernel, stride", [(1, 10, 5), (8, 3, 2), (8, 2, 2)])
def test_conv_block_matches_conv1d_layout(in_channels, kernel, stride):
    torch.manual_seed(0)
    block = ConvBlock(in_channels, 16, kernel, stride, bias=True)
    nn.init.normal_(block.conv.bias)
    x = torch.randn(2, in_channels, 57, requires_grad=True)
    ref = reference_block(block, x)
    ref_grads = torch.autograd.grad((ref * ref.detach().cos()).sum(),
                                    [x, *block.parameters()])
    ours = block(x.transpose(1, 2)).transpose(1, 2)
    grads = torch.autograd.grad((ours * ours.detach().cos()).sum(), [x, *block.parameters()])
    assert torch.allclose(ours, ref, atol=1e-5, rtol=1e-5)
    for g, r in zip(grads, ref_grads):
        assert torch.allclose(g, r, atol=1e-4, rtol=1e-4)


def test_feature_extractor_matches_conv1d_stack_and_keeps_checkpoint_keys():
    torch.manual_seed(0)
    layers = [(16, 10, 5), (16, 3, 2), (16, 2, 2)]
    extractor = FeatureExtractor(layers)
    assert list(extractor.state_dict()) == [
        key for i in range(3) for key in (f"conv_layers.{i}.conv.weight",
                                           f"conv_layers.{i}.norm.weight",
                                           f"conv_layers.{i}.norm.bias")]
    source = torch.randn(2, 1000)
    x = source.unsqueeze(1)
    for block in extractor.conv_layers:
        x = reference_block(block, x)
    assert torch.allclose(extractor(source), x.transpose(1, 2), atol=1e-5, rtol=1e-5)
