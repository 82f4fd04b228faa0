"""fairseq static span masking with equalisation (spec §4)."""
import pytest
import torch

from dinosr_espnet.model.masking import compute_span_mask, span_counts


def runs(row: torch.Tensor) -> list[tuple[int, int]]:
    """(start, length) of each run of True in a 1-D bool tensor."""
    out, start = [], None
    for i, v in enumerate(row.tolist() + [False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i - start))
            start = None
    return out


def test_span_count_formula():
    g = torch.Generator().manual_seed(3)
    u = torch.rand(1, generator=torch.Generator().manual_seed(3)).item()
    _, counts, ranges = span_counts(100, 0.8, 10, 1, None, 4, g)
    assert counts == [int(0.8 * 100 / 10 + u)] * 4  # one count for the whole batch
    assert ranges == [90] * 4
    g = torch.Generator().manual_seed(5)
    u = torch.rand(2, generator=torch.Generator().manual_seed(5)).tolist()
    sizes, counts, _ = span_counts(100, 0.8, 10, 1, [100, 37], 2, g)
    assert sizes == [100, 37]
    assert counts == [int(0.8 * 100 / 10 + u[0]), int(0.8 * 37 / 10 + u[1])]


def test_min_spans_and_tiny_inputs():
    _, counts, _ = span_counts(100, 0.0, 10, 2, None, 1, None)
    assert counts == [2]
    g = torch.Generator().manual_seed(0)
    for _ in range(20):  # rows shorter than a span: start in [0, n + 1), span clipped at the end
        mask = compute_span_mask(4, 4, 0.8, 10, equalize=False, lengths=[4, 2, 1, 0], generator=g)
        counts = mask.sum(1).tolist()
        assert counts[0] in (3, 4) and counts[1] in (1, 2) and counts[2:] == [1, 0]
        assert not mask[1, 2:].any() and not mask[2, 1:].any()


def test_single_span_length_and_start_range():
    g = torch.Generator().manual_seed(0)
    starts = set()
    for _ in range(400):
        mask = compute_span_mask(1, 30, 0.1, 10, generator=g)  # int(0.3 + U) = 0 -> 1 span
        (start, length), = runs(mask[0])
        assert length == 10
        starts.add(start)
    assert starts == set(range(20))  # starts drawn from [0, T - mask_length)


def test_overlapping_spans_without_equalisation():
    g = torch.Generator().manual_seed(0)
    mask = compute_span_mask(1, 40, 1.0, 10, equalize=False, generator=g)  # 4 spans in [0, 30)
    assert all(length >= 10 for _, length in runs(mask[0]))
    assert 10 <= mask.sum() <= 40


def test_equalisation_gives_equal_counts():
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        mask = compute_span_mask(16, 100, 0.8, 10, generator=g)
        counts = mask.sum(1)
        assert (counts == counts[0]).all()
        unequal = compute_span_mask(16, 100, 0.8, 10, equalize=False, generator=g).sum(1)
        assert counts[0] <= unequal.max()


def test_padding_never_masked():
    g = torch.Generator().manual_seed(2)
    lengths = [100, 60, 25]
    mask = compute_span_mask(3, 100, 0.8, 10, lengths=lengths, generator=g)
    for row, n in zip(mask, lengths):
        assert not row[n:].any()


@pytest.mark.parametrize("t,b,equalize,low,high", [
    (100, 1, False, 0.55, 0.59),   # ≈ 0.57 before equalisation
    (100, 8, True, 0.45, 0.49),    # ≈ 0.47
    (100, 118, True, 0.37, 0.41),  # ≈ 0.39
    (500, 8, True, 0.50, 0.54),
    (1000, 8, True, 0.51, 0.55),   # ≈ 0.53
])
def test_masked_fraction_matches_spec(t, b, equalize, low, high):
    g = torch.Generator().manual_seed(0)
    draws = max(1, 4000 // b)
    frac = torch.stack([compute_span_mask(b, t, 0.8, 10, equalize=equalize, generator=g)
                        .float().mean() for _ in range(draws)]).mean().item()
    assert low < frac < high


def test_generator_makes_masks_reproducible():
    a = compute_span_mask(4, 50, 0.8, 10, generator=torch.Generator().manual_seed(7))
    b = compute_span_mask(4, 50, 0.8, 10, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
