"""DinoSR as a SUPERB upstream, with the s3prl calling convention but no s3prl dependency.

s3prl 0.4.18 does not import with torchaudio >= 2.9 (evaluation.md), so this mirrors its
interface instead: the upstream is called on a list of 1-D waveforms (16 kHz, any scale: the
inference API standardises each one as in training) and returns a dict whose
``hidden_states`` are all K + 1 states (transformer input, then every layer), each (B, T, D),
zero past an utterance's ``frame_lengths``; ``downsample_rate`` is the CNN stride (320 for
BASE, i.e. 50 Hz). The model is frozen (eval mode, no gradients).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import torch
from torch import nn

from dinosr_espnet.inference import DinoSRInference, Waveform


class DinoSRUpstream(nn.Module):
    """Frozen DinoSR returning every hidden state (see the module docstring)."""

    def __init__(self, inference: DinoSRInference) -> None:
        super().__init__()
        self.inference = inference
        self.model = inference.model  # registered so that .parameters() / .to() see it
        self.model.requires_grad_(False)

    @classmethod
    def from_pretrained(cls, model_file: Union[str, Path], config_file: Optional[Union[str, Path]] = None,
                        device: Union[str, torch.device] = "cpu") -> "DinoSRUpstream":
        return cls(DinoSRInference.from_pretrained(model_file, config_file, device))

    @property
    def downsample_rate(self) -> int:
        """Waveform samples per output frame."""
        return self.inference.config.conv_stride

    @property
    def num_states(self) -> int:
        """K + 1 hidden states."""
        return self.inference.config.num_layers + 1

    @property
    def hidden_size(self) -> int:
        return self.inference.config.embed_dim

    def get_downsample_rates(self, key: str = "hidden_states") -> int:
        """s3prl's query for the stride of an output key (the same for all keys)."""
        return self.downsample_rate

    def forward(self, wavs: Sequence[Waveform]) -> dict:
        """``{"hidden_states": [K+1 × (B, T, D)], "last_hidden_state", "frame_lengths",
        "downsample_rate"}``, on the device of the input tensors."""
        if len(wavs) == 0:
            raise ValueError("DinoSRUpstream needs at least one waveform")
        device = wavs[0].device if torch.is_tensor(wavs[0]) else self.inference.device
        results = self.inference(wavs, layers=None, batch_size=len(wavs), codewords=False,
                                 head_probs=False)
        lengths = torch.tensor([r.num_frames for r in results])
        frames = int(lengths.max())
        states = torch.zeros(self.num_states, len(wavs), frames, self.hidden_size)
        for b, r in enumerate(results):
            for i in range(self.num_states):
                states[i, b, : r.num_frames] = r.hidden_states[i]
        hidden = list(states.to(device).unbind(0))
        return {"hidden_states": hidden, "last_hidden_state": hidden[-1],
                "frame_lengths": lengths.to(device), "downsample_rate": self.downsample_rate}
