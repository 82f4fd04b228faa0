"""Two gloo ranks: all-reduced codebook update equals one process on the global batch, and the
loss is normalised by the global masked-frame count times the world size (spec §2, Eq. 3/4)."""
import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from dinosr_espnet.model import DinoSR, DinoSRConfig
from dinosr_tiny import TINY


def rank_batch(rank: int, t: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + rank)
    mask = torch.rand(2, t, generator=g) < (0.3 if rank == 0 else 0.6)
    return torch.randn(2, 1600, generator=g), mask


def build() -> DinoSR:
    torch.manual_seed(0)
    return DinoSR(DinoSRConfig.from_dict({**TINY, "dropout": 0.0, "layerdrop": 0.0})).train()


def worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        model = build()
        source, mask = rank_batch(rank, model.cfg.num_frames(1600))
        out = model(source, mask_indices=mask)
        torch.save({"sums": model.codebooks.sums, "counts": model.codebooks.counts,
                    "loss": out.loss.detach(), "loss_sum": out.loss_sum.detach(),
                    "num_masked": out.num_masked}, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_two_ranks_match_one_process_on_global_batch(tmp_path):
    mp.spawn(worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert torch.equal(r0["sums"], r1["sums"]) and torch.equal(r0["counts"], r1["counts"])

    model = build()
    t = model.cfg.num_frames(1600)
    batches = [rank_batch(r, t) for r in (0, 1)]
    out = model(torch.cat([b[0] for b in batches]), mask_indices=torch.cat([b[1] for b in batches]))
    assert torch.allclose(r0["sums"], model.codebooks.sums, atol=1e-5)
    assert torch.allclose(r0["counts"], model.codebooks.counts, atol=1e-6)

    total = int(r0["num_masked"]) + int(r1["num_masked"])
    for r in (r0, r1):
        assert torch.allclose(r["loss"], r["loss_sum"] * 2 / total)
    # DDP averages the two ranks' gradients: the mean of their losses is the global mean.
    assert torch.allclose((r0["loss"] + r1["loss"]) / 2, out.loss, atol=1e-5)
