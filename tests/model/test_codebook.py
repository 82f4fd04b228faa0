"""Online codebooks: Eq. 2 assignment, Eq. 3/5/6 updates, init options, perplexity."""
import math

import pytest
import torch

from dinosr_espnet.model.codebook import OnlineCodebooks, assignment_perplexity, init_codewords

# Two codewords e0 = (0, 0), e1 = (1, 1) stored as sums / counts; three frames, D = 2.
FRAMES = torch.tensor([[[0.1, 0.2], [0.9, 1.2], [2.0, 0.0]]])


def make(update="ema_sum", freeze=True, counts=(1.0, 2.0)):
    cb = OnlineCodebooks(1, 2, 2, decay=0.5, update=update, freeze_inactive=freeze)
    cb.counts.copy_(torch.tensor([counts]))
    cb.sums.copy_(torch.tensor([[[0.0, 0.0], [counts[1], counts[1]]]]))
    return cb


def test_eq2_assignment_by_hand():
    cb = make()
    assert torch.allclose(cb.centroids(), torch.tensor([[[0.0, 0.0], [1.0, 1.0]]]))
    # squared distances: f0 (0.05, 1.45), f1 (2.25, 0.05), f2 (4, 2)
    assert cb.assign(FRAMES).tolist() == [[0, 1, 1]]


def test_eq2_matches_brute_force():
    torch.manual_seed(0)
    cb = OnlineCodebooks(3, 16, 5, decay=0.9)
    z = torch.randn(3, 40, 5)
    expected = torch.cdist(z, cb.centroids()).argmin(-1)
    assert torch.equal(cb.assign(z), expected)


def test_eq3_ema_sum_by_hand():
    cb = make()
    idx = cb.assign(FRAMES)
    counts = cb.update(FRAMES, idx)
    assert counts.tolist() == [[1.0, 2.0]]
    # s0 = .5*0 + .5*(.1,.2); n0 = .5*1 + .5*1; s1 = .5*(2,2) + .5*(2.9,1.2); n1 = .5*2 + .5*2
    assert torch.allclose(cb.sums, torch.tensor([[[0.05, 0.1], [2.45, 1.6]]]))
    assert torch.allclose(cb.counts, torch.tensor([[1.0, 2.0]]))
    assert torch.allclose(cb.centroids(), torch.tensor([[[0.05, 0.1], [1.225, 0.8]]]))


def test_eq5_inactive_codeword_frozen():
    cb = make()
    weights = torch.tensor([0.0, 1.0, 1.0])  # frame 0, the only one on e0, is not masked
    cb.update(FRAMES, cb.assign(FRAMES), weights)
    assert torch.equal(cb.sums[0, 0], torch.zeros(2))
    assert cb.counts[0, 0].item() == 1.0
    assert torch.allclose(cb.sums[0, 1], torch.tensor([2.45, 1.6]))


def test_without_freeze_inactive_counts_decay():
    cb = make(freeze=False)
    cb.update(FRAMES, cb.assign(FRAMES), torch.tensor([0.0, 1.0, 1.0]))
    assert cb.counts[0, 0].item() == pytest.approx(0.5)  # τ n + (1−τ)·0
    assert torch.equal(cb.centroids()[0, 0], torch.zeros(2))


def test_eq6_ema_mean_by_hand():
    cb = make(update="ema_mean", counts=(1.0, 1.0))
    cb.update(FRAMES, cb.assign(FRAMES))
    # e1 = .5*(1,1) + .5*mean((.9,1.2),(2,0)) = (1.225, .8); ema_sum would give (1.3, .7333)
    assert torch.allclose(cb.centroids(), torch.tensor([[[0.05, 0.1], [1.225, 0.8]]]))
    ref = make(update="ema_sum", counts=(1.0, 1.0))
    ref.update(FRAMES, ref.assign(FRAMES))
    assert torch.allclose(ref.centroids()[0, 1], torch.tensor([1.3, 1.1 / 1.5]))


def test_update_under_autocast_stays_fp32():
    cb = make()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        cb.update(FRAMES, cb.assign(FRAMES))
    assert cb.sums.dtype == torch.float32 and cb.counts.dtype == torch.float32
    assert torch.allclose(cb.sums, torch.tensor([[[0.05, 0.1], [2.45, 1.6]]]))


def test_init_instance_norm():
    torch.manual_seed(0)
    e = init_codewords(2, 64, 8, "instance_norm")
    assert torch.allclose(e.mean(1), torch.zeros(2, 8), atol=1e-5)
    assert torch.allclose(e.var(1, unbiased=False), torch.ones(2, 8), atol=1e-4)
    assert torch.equal(OnlineCodebooks(2, 64, 8, 0.9).counts, torch.ones(2, 64))


@pytest.mark.parametrize("std,expected", [(None, 1 / math.sqrt(256)), (1.0, 1.0),
                                          (1 / math.sqrt(32), 1 / math.sqrt(32))])
def test_init_normal(std, expected):
    torch.manual_seed(0)
    e = init_codewords(2, 256, 32, "normal", std)
    assert e.std().item() == pytest.approx(expected, rel=0.05)


def test_init_l2_normalized():
    torch.manual_seed(0)
    e = init_codewords(2, 16, 8, "l2_normalized")
    assert torch.allclose(e.norm(dim=-1), torch.ones(2, 16))


def test_perplexity():
    counts = torch.tensor([[1.0, 1.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    assert torch.allclose(assignment_perplexity(counts), torch.tensor([2.0, 1.0, 4.0]))
