"""DinoSR as a SUPERB upstream, with s3prl's upstream interface but no s3prl dependency.

s3prl 0.4.18 does not import with torchaudio >= 2.9 (evaluation.md), so this mirrors its
interface instead. ``UpstreamExpert(ckpt, model_config)`` is built the way s3prl's hub builds
an upstream (``ckpt``: an ESPnet ``.pth`` or experiment directory; ``model_config``: its
``config.yaml``, default: the one beside it). Called on a list of 1-D waveforms (16 kHz, any
scale: each one is standardised as in training), it returns a dict whose ``hidden_states`` are
all K + 1 states (transformer input, then every layer), each (B, T, D), zero past an
utterance's ``frame_lengths``; ``get_downsample_rates(key)`` is the CNN stride (320 for BASE,
i.e. 50 Hz). The model is frozen (eval mode, no gradients); ``.to(device)`` moves it, and the
outputs are on the device of the input waveforms.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import torch
from torch import nn

from dinosr_espnet.inference import DinoSRInference, Waveform
from dinosr_espnet.interop.espnet_dir import resolve_model_file


class DinoSRUpstream(nn.Module):
    """Frozen DinoSR returning every hidden state (see the module docstring).

    Args:
        ckpt: an ESPnet model file or experiment directory, or a loaded ``DinoSRInference``.
        model_config: ``config.yaml`` of ``ckpt`` (default: the one next to the model file).
        device: where to load the model (``.to()`` moves it later, as s3prl does).
        refresh: s3prl's "download the checkpoint again" flag, accepted for its callers;
            local files have nothing to refresh.
    """

    def __init__(self, ckpt: Union[str, Path, DinoSRInference],
                 model_config: Optional[Union[str, Path]] = None,
                 device: Union[str, torch.device] = "cpu", refresh: bool = False) -> None:
        super().__init__()
        if isinstance(ckpt, DinoSRInference):
            if model_config is not None:
                raise ValueError("model_config is only used when ckpt is a file or directory")
            self.inference = ckpt
        else:
            self.inference = DinoSRInference.from_pretrained(resolve_model_file(ckpt),
                                                             model_config, device)
        self.model = self.inference.model  # registered so that .parameters() / .to() see it
        self.model.requires_grad_(False)

    @classmethod
    def from_pretrained(cls, model_file: Union[str, Path], config_file: Optional[Union[str, Path]] = None,
                        device: Union[str, torch.device] = "cpu") -> "DinoSRUpstream":
        return cls(model_file, config_file, device)

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

    def train(self, mode: bool = True) -> "DinoSRUpstream":
        """The model is frozen: it stays in eval mode (no dropout) whatever ``mode`` says."""
        super().train(mode)
        self.model.eval()
        return self

    def get_downsample_rates(self, key: str = "hidden_states") -> int:
        """s3prl's query for the stride of an output key (the same for all keys)."""
        return self.downsample_rate

    def forward(self, wavs: Sequence[Waveform]) -> dict:
        """``{"hidden_states": [K+1 × (B, T, D)], "last_hidden_state", "frame_lengths",
        "downsample_rate"}``, on the device of the input tensors."""
        if len(wavs) == 0:
            raise ValueError("DinoSRUpstream needs at least one waveform")
        self.inference.device = next(self.model.parameters()).device  # follow .to(device)
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


# s3prl's name for an upstream class (``s3prl/upstream/<name>/expert.py``).
UpstreamExpert = DinoSRUpstream
