"""CNN feature encoder: waveform → 50 Hz frames (spec §3)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F


class ConvBlock(nn.Module):
    """Conv1d (kaiming-normal init) → LayerNorm over channels (affine) → GELU.

    Shapes: ``(batch, in_channels, samples)`` → ``(batch, out_channels, frames)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int,
                 bias: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel, stride=stride, bias=bias)
        nn.init.kaiming_normal_(self.conv.weight)
        self.norm = nn.LayerNorm(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        return F.gelu(x)


class FeatureExtractor(nn.Module):
    """Stack of ``ConvBlock``; ``conv_layers`` lists (channels, kernel, stride).

    Shapes: ``(batch, samples)`` → ``(batch, frames, channels)``; frame count as in
    ``DinoSRConfig.num_frames``. Output frame t only sees samples
    ``[t·stride, t·stride + receptive_field)``, so right padding never changes valid frames.
    """

    def __init__(self, conv_layers: Sequence[tuple[int, int, int]], bias: bool = False) -> None:
        super().__init__()
        blocks = []
        in_channels = 1
        for channels, kernel, stride in conv_layers:
            blocks.append(ConvBlock(in_channels, channels, kernel, stride, bias))
            in_channels = channels
        self.conv_layers = nn.ModuleList(blocks)

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        x = source.unsqueeze(1)
        for block in self.conv_layers:
            x = block(x)
        return x.transpose(1, 2)
