"""Transformer encoder shared by student and teacher: positional conv + post-LN layers (spec §3).

The encoder can return, for chosen layers, the FFN output ``f = fc2(gelu(fc1(x)))`` taken
*before* dropout, residual and the final LayerNorm: those are the teacher's targets.
"""
from __future__ import annotations

import functools
from typing import Callable, NamedTuple, Optional, Sequence

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from dinosr_espnet.model.config import DinoSRConfig


class EncoderOutput(NamedTuple):
    """``hidden_states``: K+1 tensors (B, T, D): transformer input, then each layer's output.
    ``ffn_outputs``: the requested layers' FFN outputs (B, T, D), in the requested order."""

    hidden_states: list[torch.Tensor]
    ffn_outputs: list[torch.Tensor]


class PosConvBlock(nn.Module):
    """Conv1d(D, D, k, padding=k//2, groups) → LayerNorm(D, no affine) → GELU on (B, T, D)."""

    def __init__(self, dim: int, kernel: int, groups: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=groups)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x.transpose(1, 2)).transpose(1, 2)
        return F.gelu(self.norm(x))


class SelfAttention(nn.Module):
    """Multi-head self-attention with biased q/k/v/out projections (SDPA kernel).

    ``attn_mask``: (B, 1, 1, T) bool, True = key takes part, or None.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, attn_mask: Optional[torch.Tensor]) -> torch.Tensor:
        b, t, d = x.shape

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.num_heads, d // self.num_heads).transpose(1, 2)

        y = F.scaled_dot_product_attention(
            heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x)),
            attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0,
        )
        return self.out_proj(y.transpose(1, 2).reshape(b, t, d))


class TransformerLayer(nn.Module):
    """Post-LN layer: ``x = LN1(x + drop(attn(x)))``, ``f = fc2(gelu(fc1(x)))``,
    ``x = LN2(x + drop(f))``. Returns ``(x, f)``."""

    def __init__(self, cfg: DinoSRConfig) -> None:
        super().__init__()
        self.self_attn = SelfAttention(cfg.embed_dim, cfg.num_heads, cfg.attention_dropout)
        self.self_attn_layer_norm = nn.LayerNorm(cfg.embed_dim)
        self.fc1 = nn.Linear(cfg.embed_dim, cfg.ffn_dim)
        self.fc2 = nn.Linear(cfg.ffn_dim, cfg.embed_dim)
        self.final_layer_norm = nn.LayerNorm(cfg.embed_dim)
        self.dropout = nn.Dropout(cfg.dropout)
        self.activation_dropout = nn.Dropout(cfg.activation_dropout)

    def forward(self, x: torch.Tensor, attn_mask: Optional[torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.self_attn_layer_norm(x + self.dropout(self.self_attn(x, attn_mask)))
        f = self.fc2(self.activation_dropout(F.gelu(self.fc1(x))))
        x = self.final_layer_norm(x + self.dropout(f))
        return x, f


LayerCall = Callable[[TransformerLayer, torch.Tensor, Optional[torch.Tensor]],
                     tuple[torch.Tensor, torch.Tensor]]


def _call_layer(layer: TransformerLayer, x: torch.Tensor, attn_mask: Optional[torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor]:
    return layer(x, attn_mask)


@functools.lru_cache(maxsize=None)
def compiled_layer_call() -> LayerCall:
    """``torch.compile``-d ``layer(x, attn_mask)``, shared by every layer (one graph per
    shape/grad mode, not per layer: parameters are graph inputs). Kept outside the modules so
    that ``deepcopy`` and ``state_dict`` never see it."""
    return torch.compile(_call_layer)


class TransformerEncoder(nn.Module):
    """Positional conv stack (added once) → LayerNorm → dropout → K post-LN layers.

    Shapes: ``x`` (B, T, D), ``padding_mask`` (B, T) bool, True = padded frame. Padded frames
    are zeroed before every positional convolution and masked out of attention, so the valid
    frames of a padded batch match the unpadded utterance. Layerdrop applies in training only
    and never skips a layer whose FFN output was requested. ``cfg.activation_checkpointing``
    recomputes each layer in the backward pass (training with autograd only; dropout masks are
    replayed, so results are unchanged); ``cfg.torch_compile`` runs layers compiled.
    """

    def __init__(self, cfg: DinoSRConfig) -> None:
        super().__init__()
        self.layerdrop = cfg.layerdrop
        self.activation_checkpointing = cfg.activation_checkpointing
        self.torch_compile = cfg.torch_compile
        self.pos_conv = nn.ModuleList(
            PosConvBlock(cfg.embed_dim, cfg.pos_conv_kernel, cfg.pos_conv_groups)
            for _ in range(cfg.pos_conv_depth)
        )
        self.layer_norm = nn.LayerNorm(cfg.embed_dim)
        self.dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList(TransformerLayer(cfg) for _ in range(cfg.num_layers))
        for layer in self.layers:
            for module in layer.modules():
                if isinstance(module, nn.Linear):
                    nn.init.normal_(module.weight, mean=0.0, std=0.02)
                    nn.init.zeros_(module.bias)

    def positional(self, x: torch.Tensor, padding_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """``x + pos_conv(x)`` with padded frames zeroed before each convolution."""
        pad = None if padding_mask is None else padding_mask.unsqueeze(-1)
        if pad is not None:
            x = x.masked_fill(pad, 0.0)
        h = x
        for i, block in enumerate(self.pos_conv):
            if pad is not None and i > 0:
                h = h.masked_fill(pad, 0.0)
            h = block(h)
        return x + h

    def forward(self, x: torch.Tensor, padding_mask: Optional[torch.Tensor] = None,
                ffn_layers: Sequence[int] = ()) -> EncoderOutput:
        attn_mask = None if padding_mask is None else ~padding_mask[:, None, None, :]
        x = self.dropout(self.layer_norm(self.positional(x, padding_mask)))
        hidden_states = [x]
        wanted = {layer: i for i, layer in enumerate(ffn_layers)}
        ffn_outputs: list[Optional[torch.Tensor]] = [None] * len(ffn_layers)
        drop = (
            torch.rand(len(self.layers)).lt(self.layerdrop).tolist()
            if self.training and self.layerdrop > 0 else [False] * len(self.layers)
        )
        for i, layer in enumerate(self.layers):
            if drop[i] and i not in wanted:
                hidden_states.append(x)
                continue
            x, f = self._run_layer(layer, x, attn_mask)
            hidden_states.append(x)
            if i in wanted:
                ffn_outputs[wanted[i]] = f
        return EncoderOutput(hidden_states, ffn_outputs)

    def _run_layer(self, layer: TransformerLayer, x: torch.Tensor,
                   attn_mask: Optional[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        call = compiled_layer_call() if self.torch_compile else _call_layer
        if self.activation_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(call, layer, x, attn_mask, use_reentrant=False)
        return call(layer, x, attn_mask)
