"""``mask_seed``: a row's mask depends only on (seed, update count, the utterance's samples),
not on its batch neighbours, padding or data-parallel rank — what makes a DDP run equal a
one-process run (spec §4 masking otherwise unchanged)."""
from __future__ import annotations

import pytest
import torch

from dinosr_espnet.model import DinoSRConfig
from dinosr_espnet.model.masking import (
    compute_span_mask,
    seeded_span_mask,
    utterance_fingerprints,
    utterance_seeds,
)

ARGS = dict(mask_prob=0.8, mask_length=10)


def test_fingerprint_ignores_batch_and_padding_but_not_content():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(1, 500, generator=g), torch.randn(1, 500, generator=g)
    alone = utterance_fingerprints(a)
    assert torch.equal(utterance_fingerprints(torch.cat([b, a]))[1:], alone)
    padded = torch.cat([a, torch.full((1, 300), 7.0)], 1)
    pad = torch.arange(800) >= 500
    assert torch.equal(utterance_fingerprints(padded, pad[None]), alone)
    changed = a.clone()
    changed[0, 499] += 0.5
    assert not torch.equal(utterance_fingerprints(changed), alone)
    assert utterance_seeds(a, None, 0, 0) != utterance_seeds(a, None, 0, 1)  # new update
    assert utterance_seeds(a, None, 0, 3) == utterance_seeds(padded, pad[None], 0, 3)


def test_row_mask_independent_of_neighbours_and_padding():
    seeds = [11, 22, 33]
    full = seeded_span_mask(seeds, 100, **ARGS, equalize=False)
    alone = seeded_span_mask(seeds[1:2], 100, **ARGS, equalize=False)
    assert torch.equal(full[1], alone[0])
    padded = seeded_span_mask(seeds, 130, **ARGS, equalize=False, lengths=[100, 100, 100])
    assert torch.equal(padded[:, :100], full) and not padded[:, 100:].any()


def test_equalisation_to_global_minimum_matches_one_batch():
    seeds = [1, 2, 3, 4]
    whole = seeded_span_mask(seeds, 100, **ARGS)
    counts = whole.sum(1)
    assert (counts == counts[0]).all()
    unequal = seeded_span_mask(seeds, 100, **ARGS, equalize=False)
    assert counts[0] == unequal.sum(1).min()
    assert (whole <= unequal).all()  # equalisation only unmasks
    smallest = int(unequal.sum(1).min())
    shards = [seeded_span_mask(seeds[r::2], 100, **ARGS, reduce_min=lambda c: smallest)
              for r in (0, 1)]
    assert torch.equal(shards[0], whole[0::2]) and torch.equal(shards[1], whole[1::2])


def test_seeded_masks_have_the_release_statistics():
    seeds = list(range(300))
    seeded = seeded_span_mask(seeds, 100, **ARGS, equalize=False).float().mean()
    g = torch.Generator().manual_seed(0)
    release = torch.stack([compute_span_mask(1, 100, **ARGS, equalize=False, generator=g)[0]
                           for _ in seeds]).float().mean()
    assert abs(float(seeded) - float(release)) < 0.03
    assert 0.5 < float(seeded) < 0.65  # ≈ 0.57 per utterance (spec §4)


def test_model_masks_follow_seed_and_update_count(tiny):
    model = tiny(mask_seed=5, mask_length=3, mask_equalize=False)
    source = torch.randn(2, 1600)
    t = model.cfg.num_frames(1600)
    first = model.span_mask(source, None, t, None)
    assert first.any()
    torch.manual_seed(123)  # the global RNG plays no part
    assert torch.equal(model.span_mask(source, None, t, None), first)
    assert torch.equal(model.span_mask(source[1:], None, t, None)[0], first[1])
    model.on_optimizer_step()
    assert not torch.equal(model.span_mask(source, None, t, None), first)


@pytest.mark.parametrize("key,value", [("mask_seed", -1), ("mask_seed", 1.5),
                                       ("torch_compile", "yes"),
                                       ("activation_checkpointing", 1)])
def test_new_config_keys_are_validated(key, value):
    with pytest.raises(ValueError, match=key):
        DinoSRConfig.from_dict({key: value})
