"""The batched seeded draws of the ABX subsampling give numpy's own subsets."""
import numpy as np
import pytest

from dinosr_espnet.eval.abx.draws import seeded_subsets


def numpy_subsets(seed, keys, sizes, limit):
    return np.stack([np.sort(np.random.default_rng([seed, *k]).choice(n, limit, replace=False))
                     for k, n in zip(np.asarray(keys).tolist(), np.asarray(sizes).tolist())])


@pytest.mark.parametrize("seed, limit", [(0, 5), (7, 10), (2**32 - 1, 1)])
def test_same_subsets_as_numpy(seed, limit):
    rng = np.random.default_rng(seed % 1000)
    keys = np.concatenate([rng.integers(0, 2, (400, 1)), rng.integers(0, 2**32, (400, 4))], axis=1)
    sizes = rng.integers(limit + 1, 60, size=400)
    sizes[:3] = [limit + 1, 9999, 10_000]  # smallest, largest Floyd populations
    assert np.array_equal(seeded_subsets(seed, keys, sizes, limit), numpy_subsets(seed, keys, sizes, limit))


def test_wide_keys_and_large_populations_fall_back_to_numpy():
    keys, sizes = np.array([[0, 2**40], [1, 3]]), np.array([12, 20_000])
    assert np.array_equal(seeded_subsets(3, keys, sizes, 4), numpy_subsets(3, keys, sizes, 4))
    assert np.array_equal(seeded_subsets(2**33, keys[1:], sizes[:1], 4), numpy_subsets(2**33, keys[1:], sizes[:1], 4))
    assert seeded_subsets(0, np.zeros((0, 3)), np.zeros(0, dtype=int), 5).shape == (0, 5)


def test_subsets_are_seeded_sorted_and_distinct():
    keys, sizes = np.array([[0, 1, 2, 3]] * 2), np.array([20, 20])
    first = seeded_subsets(0, keys, sizes, 5)
    assert np.array_equal(first[0], first[1]) and np.all(np.diff(first[0]) > 0) and first.max() < 20
    assert not np.array_equal(first, seeded_subsets(1, keys, sizes, 5))
