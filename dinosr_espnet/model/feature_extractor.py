"""Feature encoder: waveform → 50 Hz frames (spec §3), and the log-mel frontend option.

``frontend: cnn`` (spec, default): every ``conv_layers`` entry is a learned ConvBlock.
``frontend: fbank`` (an extension, not in the paper): the first entry ``(n_mels, window, hop)``
is a fixed log-mel filterbank and only the remaining entries are learned ConvBlocks. A
waveform CNN needs many updates before its features are as good as a filterbank's; small
CPU-scale runs (the mini recipe) use ``fbank`` so that their minutes go to the transformer.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from dinosr_espnet.model.config import FRONTENDS, DinoSRConfig

LOG_MEL_FLOOR = 1e-6


def frame_windows(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """The convolution windows of channels-last ``x`` (B, T, C) as rows (B, T', kernel·C),
    each row ordered (tap, channel); T' = (T − kernel) // stride + 1.

    Contiguous, so that the matrix product runs as one GEMM over all frames (a strided
    batch would make ``F.linear`` fall back to a batched product with the weight expanded).
    No copy when kernel == stride and ``x`` holds whole windows only; otherwise one copy of
    the (overlapping) windows.
    """
    b, t, c = x.shape
    frames = (t - kernel) // stride + 1
    if kernel == stride:
        return x[:, : frames * stride].reshape(b, frames, kernel * c).contiguous()
    return x.unfold(1, kernel, stride).transpose(2, 3).flatten(2).contiguous()


class WindowLinear(torch.autograd.Function):
    """``F.linear(frame_windows(x, kernel, stride), weight, bias)`` that keeps ``x`` for the
    backward pass instead of its windows (overlapping windows are up to kernel/stride times
    the input: 1.5× for the 3-tap, stride-2 blocks) and rebuilds them there (one copy). The
    gradients are the same products as ``F.linear``'s (in the autocast dtype under autocast,
    as there); the input gradient adds each window's part back onto its frames, tap by tap."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                kernel: int, stride: int) -> torch.Tensor:
        device = x.device.type
        if torch.amp.is_autocast_available(device) and torch.is_autocast_enabled(device):
            dtype = torch.get_autocast_dtype(device)  # as autocast runs F.linear, and saves
            x, weight = x.to(dtype), weight.to(dtype)
            bias = None if bias is None else bias.to(dtype)
        ctx.save_for_backward(x, weight)
        ctx.kernel, ctx.stride = kernel, stride
        return F.linear(frame_windows(x, kernel, stride), weight, bias)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        kernel, stride = ctx.kernel, ctx.stride
        grad_x = grad_weight = grad_bias = None
        rows = grad.reshape(-1, grad.shape[-1])
        if ctx.needs_input_grad[1]:
            windows = frame_windows(x, kernel, stride)
            grad_weight = rows.t().mm(windows.reshape(-1, windows.shape[-1]))
            del windows  # freed before the input gradient's buffers are allocated
        if ctx.needs_input_grad[2]:
            grad_bias = rows.sum(0)
        if ctx.needs_input_grad[0]:
            b, t, c = x.shape
            frames = grad.shape[1]
            grad_x = x.new_zeros(b, t, c)
            span = (frames - 1) * stride + 1
            for tap in range(kernel):  # one tap's (B, T', C) part at a time
                part = grad.matmul(weight[:, tap * c: (tap + 1) * c])
                grad_x[:, tap: tap + span: stride] += part
        return grad_x, grad_weight, grad_bias, None, None


class ConvBlock(nn.Module):
    """Conv1d (kaiming-normal init) → LayerNorm over channels (affine) → GELU.

    Shapes: ``(batch, samples, in_channels)`` → ``(batch, frames, out_channels)``: frames
    stay channels-last from block to block. The convolution is the same sum computed as one
    matrix product of the windows (``frame_windows``) with the ``Conv1d`` weight (kept as the
    parameter, so checkpoints are unchanged); LayerNorm and GELU then run on contiguous
    memory. The usual ``(B, C, T)`` layout would transpose twice per block and run GELU's
    backward on two tensors of different memory order, which PyTorch's CPU kernels do
    element by element (about 14× slower for that op; forward + backward of the BASE CNN
    took 1.6× longer).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int,
                 bias: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel, stride=stride, bias=bias)
        nn.init.kaiming_normal_(self.conv.weight)
        self.norm = nn.LayerNorm(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel, stride = self.conv.kernel_size[0], self.conv.stride[0]
        weight = self.conv.weight.transpose(1, 2).flatten(1)  # (out, tap·in), as the windows
        x = WindowLinear.apply(x, weight, self.conv.bias, kernel, stride)
        return F.gelu(self.norm(x))


class LogMelFilterbank(nn.Module):
    """Fixed log-mel filterbank: Hann window of ``window`` samples every ``hop`` samples,
    DC removed per frame, power spectrum (FFT size: the next power of two, at least 512, so
    that short windows still give every mel filter a frequency bin), HTK mel filters from
    20 Hz to Nyquist, natural log with floor 1e-6. No parameters.

    Shapes: ``(batch, 1, samples)`` → ``(batch, n_mels, frames)`` with
    ``frames = floor((samples - window) / hop) + 1``, as a convolution of that kernel and stride.
    """

    def __init__(self, n_mels: int, window: int, hop: int, sample_rate: int) -> None:
        super().__init__()
        self.window, self.hop = window, hop
        self.n_fft = max(512, 1 << (window - 1).bit_length())
        self.register_buffer("hann", torch.hann_window(window, periodic=False), persistent=False)
        import torchaudio  # only this frontend needs it; the model runs without torchaudio

        mel = torchaudio.functional.melscale_fbanks(
            self.n_fft // 2 + 1, 20.0, sample_rate / 2, n_mels, sample_rate, mel_scale="htk")
        self.register_buffer("mel", mel, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.squeeze(1).unfold(-1, self.window, self.hop)
        frames = (frames - frames.mean(-1, keepdim=True)) * self.hann
        power = torch.fft.rfft(frames.float(), n=self.n_fft).abs().square()
        return torch.log(power @ self.mel + LOG_MEL_FLOOR).transpose(1, 2)


class FeatureExtractor(nn.Module):
    """Stack of ``ConvBlock``; ``conv_layers`` lists (channels, kernel, stride). With
    ``frontend="fbank"`` the first entry is a ``LogMelFilterbank`` (n_mels, window, hop).

    Shapes: ``(batch, samples)`` → ``(batch, frames, channels)``; frame count as in
    ``DinoSRConfig.num_frames``. Output frame t only sees samples
    ``[t·stride, t·stride + receptive_field)``, so right padding never changes valid frames.
    """

    def __init__(self, conv_layers: Sequence[tuple[int, int, int]], bias: bool = False,
                 frontend: str = "cnn", sample_rate: int = 16000) -> None:
        super().__init__()
        if frontend not in FRONTENDS:
            raise ValueError(f"unknown frontend {frontend!r} (known: {', '.join(FRONTENDS)})")
        layers = list(conv_layers)
        self.filterbank = None
        in_channels = 1
        if frontend == "fbank":
            n_mels, window, hop = layers.pop(0)
            self.filterbank = LogMelFilterbank(n_mels, window, hop, sample_rate)
            in_channels = n_mels
        blocks = []
        for channels, kernel, stride in layers:
            blocks.append(ConvBlock(in_channels, channels, kernel, stride, bias))
            in_channels = channels
        self.conv_layers = nn.ModuleList(blocks)

    @classmethod
    def from_config(cls, cfg: DinoSRConfig) -> "FeatureExtractor":
        """The feature extractor that ``cfg`` describes (pretraining and ASR models alike)."""
        return cls(cfg.conv_layers, cfg.conv_bias, cfg.frontend, cfg.fbank_sample_rate)

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        if self.filterbank is not None:
            x = self.filterbank(source.unsqueeze(1)).transpose(1, 2)
        else:
            x = source.unsqueeze(-1)
        for block in self.conv_layers:
            x = block(x)
        return x
