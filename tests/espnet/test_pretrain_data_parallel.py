"""Two gloo DDP ranks on CPU, through the ESPnet adapter and ESPnet's loss re-weighting: after
every update both ranks hold identical codebooks, equal to one process on the global batch."""
from __future__ import annotations

import functools
import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import yaml
from espnet2.torch_utils.recursive_op import recursive_average
from torch.nn.parallel import DistributedDataParallel

from pretrain_launch import TINY_CONFIG
from dinosr_espnet.espnet.model import ESPnetDinoSRModel
from dinosr_espnet.espnet.teacher_step import register_teacher_step
from dinosr_espnet.model import DinoSRConfig

UPDATES, GLOBAL_BATCH, SAMPLES = 2, 4, 4000


def build() -> tuple[ESPnetDinoSRModel, torch.optim.Optimizer]:
    torch.manual_seed(0)
    cfg = DinoSRConfig.from_dict(yaml.safe_load(TINY_CONFIG.read_text())["model_conf"])
    model = ESPnetDinoSRModel(cfg).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98), eps=1e-6)
    register_teacher_step(opt, model.dinosr)
    return model, opt


def global_batch(update: int, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Waveforms (4, L) and an explicit mask (4, T) with different masked counts per row."""
    g = torch.Generator().manual_seed(10 + update)
    mask = torch.rand(GLOBAL_BATCH, frames, generator=g) < torch.tensor([[.3], [.5], [.6], [.4]])
    return torch.randn(GLOBAL_BATCH, SAMPLES, generator=g), mask


def snapshot(model: ESPnetDinoSRModel) -> dict[str, torch.Tensor]:
    d = model.dinosr
    return {"sums": d.codebooks.sums.clone(), "counts": d.codebooks.counts.clone(),
            "teacher_fc1": d.teacher.encoder.layers[0].fc1.weight.clone(),
            "num_updates": d.num_updates.clone()}


def step(model, forward_model, opt, speech, mask, distributed: bool) -> None:
    """One update, with the loss arithmetic of ESPnet's ``Trainer.train_one_epoch``."""
    model.dinosr.forward = functools.partial(type(model.dinosr).forward, model.dinosr,
                                             mask_indices=mask)
    loss, stats, weight = forward_model(speech, torch.full((len(speech),), SAMPLES))
    if distributed:
        loss = (loss * weight.type(loss.dtype)).sum()
        stats, weight = recursive_average(stats, weight, distributed)
        loss = loss / weight * dist.get_world_size()
    loss.backward()
    opt.step()
    opt.zero_grad()


def worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        model, opt = build()
        ddp = DistributedDataParallel(model, broadcast_buffers=False)
        frames = model.dinosr.cfg.num_frames(SAMPLES)
        states = []
        for u in range(UPDATES):
            speech, mask = global_batch(u, frames)
            rows = slice(2 * rank, 2 * rank + 2)
            step(model, ddp, opt, speech[rows], mask[rows], distributed=True)
            states.append(snapshot(model))
        torch.save(states, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_ddp_ranks_match_single_process(tmp_path):
    mp.spawn(worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]

    model, opt = build()
    frames = model.dinosr.cfg.num_frames(SAMPLES)
    for u in range(UPDATES):
        speech, mask = global_batch(u, frames)
        step(model, model, opt, speech, mask, distributed=False)
        single = snapshot(model)
        for r in ranks:
            assert int(r[u]["num_updates"]) == u + 1
            assert torch.equal(r[u]["sums"], ranks[0][u]["sums"])  # ranks identical
            assert torch.equal(r[u]["counts"], ranks[0][u]["counts"])
            assert torch.allclose(r[u]["sums"], single["sums"], atol=1e-5), f"update {u}"
            assert torch.allclose(r[u]["counts"], single["counts"], atol=1e-5), f"update {u}"
            assert torch.allclose(r[u]["teacher_fc1"], single["teacher_fc1"], atol=1e-6)
    assert not torch.equal(ranks[0][1]["sums"], ranks[0][0]["sums"])  # the codebooks moved
