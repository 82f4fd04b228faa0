"""The training step (forward, backward, optimizer step, teacher EMA) never reads a device
tensor on the host: run on the ``meta`` device, where any ``.item()``, ``.tolist()``,
``bool()``, ``.cpu()`` or ``nonzero`` of a tensor raises. On a GPU those are the calls that
would stall the stream once per update."""
from __future__ import annotations

from typing import Any

import pytest
import torch

from dinosr_espnet.model import DinoSR, DinoSRConfig
from perf_tiny import TINY


def meta_model(**overrides: Any) -> DinoSR:
    with torch.device("meta"):
        return DinoSR(DinoSRConfig.from_dict({**TINY, **overrides})).train()


@pytest.mark.parametrize("overrides", [
    {},
    {"dropout": 0.1, "attention_dropout": 0.1, "layerdrop": 0.2},
    {"codebook_update": "ema_mean", "activation_checkpointing": True, "mask_equalize": False},
])
def test_training_step_never_reads_device_tensors(overrides):
    model = meta_model(**overrides)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, foreach=True)
    source = torch.randn(3, 2000, device="meta")
    out = model(source)
    out.loss.backward()
    opt.step()
    model.on_optimizer_step()
    assert out.loss.device.type == "meta" and model.codebooks.sums.device.type == "meta"
    assert model._updates == 1
    assert all(not torch.is_tensor(v) or v.device.type == "meta" for v in out.stats.values())


@pytest.mark.parametrize("case", ["padding", "mask_seed"])
def test_documented_host_reads_are_caught(case):
    """A padded batch (frame lengths) and ``mask_seed`` (utterance fingerprints) read the
    device once per batch, by design: the meta device catches them, so the check has teeth."""
    model = meta_model(mask_seed=0 if case == "mask_seed" else None)
    source = torch.randn(2, 2000, device="meta")
    pad = torch.zeros(2, 2000, dtype=torch.bool, device="meta") if case == "padding" else None
    with pytest.raises((RuntimeError, NotImplementedError), match="meta"):
        model(source, padding_mask=pad)
