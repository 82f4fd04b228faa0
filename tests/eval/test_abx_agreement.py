"""Our ABX (both DTW backends) agrees with the plain-loop reference (tests/eval/abx_reference.py)."""
import numpy as np
import pytest

from abx_reference import random_abx_set, reference_abx
from dinosr_espnet.eval.abx import ABXConfig, compute_abx

DISTANCES = ["cosine", "kl", "symkl", "js"]
SLICINGS = ["legacy", "corrected"]


@pytest.mark.parametrize("slicing", ["legacy", "corrected"])
@pytest.mark.parametrize("distance", ["cosine", "kl", "symkl", "js"])
def test_matches_reference_without_subsampling(distance, slicing):
    rng = np.random.default_rng([DISTANCES.index(distance), SLICINGS.index(slicing)])
    features, items = random_abx_set(rng, probabilities=distance != "cosine")
    expected = reference_abx(items, features, distance=distance, slicing=slicing,
                             max_size_group=None, max_x_across=None)
    for dtw in ("numba", "torch"):
        config = ABXConfig(distance=distance, slicing=slicing, max_size_group=None, max_x_across=None,
                           dtype="float64", chunk_elements=2000, dtw=dtw)
        result = compute_abx(items, features, config)
        assert result.num_skipped_tokens > 0
        for condition in ("within", "across"):
            assert expected[condition] is not None
            assert getattr(result, condition) == pytest.approx(expected[condition], abs=1e-9)


@pytest.mark.parametrize("slicing", ["legacy", "corrected"])
@pytest.mark.parametrize("distance", ["cosine", "js"])
def test_matches_reference_with_subsampling(distance, slicing):
    rng = np.random.default_rng(7)
    features, items = random_abx_set(rng, speakers=4, contexts=1, phones=2, tokens_per_utt=10,
                                     probabilities=distance != "cosine")
    for seed in (0, 3):
        config = ABXConfig(distance=distance, slicing=slicing, max_size_group=3, max_x_across=2,
                           seed=seed, dtype="float64")
        result = compute_abx(items, features, config)
        expected = reference_abx(items, features, distance=distance, slicing=slicing,
                                 max_size_group=3, max_x_across=2, seed=seed)
        assert result.within == pytest.approx(expected["within"], abs=1e-9)
        assert result.across == pytest.approx(expected["across"], abs=1e-9)


def test_frame_rate_changes_the_slices():
    rng = np.random.default_rng(1)
    features, items = random_abx_set(rng, speakers=2, tokens_per_utt=8, rate=100.0)
    config = ABXConfig(frame_rate=100.0, max_size_group=None, max_x_across=None, dtype="float64")
    result = compute_abx(items, features, config)
    expected = reference_abx(items, features, rate=100.0, max_size_group=None, max_x_across=None)
    assert result.within == pytest.approx(expected["within"], abs=1e-9)
    assert result.across == pytest.approx(expected["across"], abs=1e-9)
