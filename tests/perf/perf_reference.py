"""A deliberately plain DinoSR training step (loops, per-head cross-entropy, per-codeword
EMA), to check the vectorised one in ``dinosr_espnet.model`` against (spec Eq. 2–5)."""
from __future__ import annotations

import torch
from torch.nn import functional as F

from dinosr_espnet.model import DinoSR


def reference_step(model: DinoSR, source: torch.Tensor, mask: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss (mean CE over masked frames and heads) and targets (N, M) at the masked frames of
    the unpadded batch ``source`` (B, L); updates ``model.codebooks`` (Eq. 3 with Eq. 5)."""
    cfg = model.cfg
    features, _, _ = model.extract_features(source)
    x = torch.where(mask.unsqueeze(-1), model.mask_emb.to(features.dtype), features)
    student = model.encoder(x).hidden_states[-1][mask]  # (M, D)
    books = model.codebooks
    targets, frames = [], []
    with torch.no_grad():
        ffn = model.teacher.encoder(features.detach(), ffn_layers=cfg.target_layers).ffn_outputs
        for k, f in enumerate(ffn):
            z = F.instance_norm(f.float().transpose(1, 2), eps=cfg.target_norm_eps)
            z = z.transpose(1, 2)[mask]  # (M, D)
            centroids = books.sums[k] / books.counts[k].unsqueeze(-1)
            distances = torch.cdist(z, centroids, compute_mode="donot_use_mm_for_euclid_dist")
            targets.append(distances.argmin(-1))
            frames.append(z)
    loss = sum(F.cross_entropy(head(student).float(), targets[k])
               for k, head in enumerate(model.heads)) / cfg.num_codebooks
    tau = books.decay
    with torch.no_grad():
        for k in range(cfg.num_codebooks):
            for v in range(cfg.codebook_size):
                assigned = frames[k][targets[k] == v]
                if len(assigned):
                    books.sums[k, v] = tau * books.sums[k, v] + (1 - tau) * assigned.sum(0)
                    books.counts[k, v] = tau * books.counts[k, v] + (1 - tau) * len(assigned)
    return loss, torch.stack(targets)
