"""JS divergence of the ABX: exact in float32 and float64 on extreme distributions."""
import math

import numpy as np
import pytest
import torch

from abx_reference import random_abx_set, reference_abx
from dinosr_espnet.eval.abx import ABXConfig, compute_abx
from dinosr_espnet.eval.abx.distances import js_distance


def exact_js(p, q) -> float:
    """JS of two distributions in double precision, term by term (``math.fsum``)."""
    terms = []
    for a, b in zip(map(float, p), map(float, q)):
        for v in (a, b):
            if v > 0:
                terms.append(0.5 * v * (math.log(v) + math.log(2.0) - math.log(a + b)))
    return max(0.0, math.fsum(terms))


def softmax32(logits) -> np.ndarray:
    return torch.softmax(torch.tensor(logits, dtype=torch.float32), -1).numpy()


def extreme_pairs():
    """(name, x, y) pairs of distributions that broke or strain a naive formula."""
    rng = np.random.default_rng(0)
    one_hot = np.eye(3, dtype=np.float32)
    sharp = softmax32(rng.normal(size=(2, 256)) * 60.0)
    near = softmax32(rng.normal(size=256))
    nudged = near * (1 + 1e-6 * rng.standard_normal(256)).astype(np.float32)
    tiny = np.zeros(4, dtype=np.float32)
    tiny[0], tiny[1:] = 1.0, np.float32(1.4e-45)  # smallest float32 subnormals
    return [
        ("softmax [0,-103.3,-120] vs one-hot", softmax32([0.0, -103.3, -120.0]), one_hot[0]),
        ("softmax [0,-87,-104] vs one-hot", softmax32([0.0, -87.0, -104.0]), one_hot[0]),
        ("disjoint one-hots", one_hot[0], one_hot[1]),
        ("sharpened heads", sharp[0], sharp[1]),
        ("sharpened vs uniform", sharp[0], np.full(256, 1 / 256, dtype=np.float32)),
        ("close distributions", near, nudged / nudged.sum()),
        ("subnormal tails", tiny, tiny[[1, 0, 2, 3]]),
        ("subnormal vs zero tail", tiny, one_hot[0].tolist() + [0.0]),
    ]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_js_is_exact_on_extreme_distributions(dtype):
    pairs = extreme_pairs()
    for name, x, y in pairs:
        xt, yt = (torch.tensor(np.asarray(v, dtype=np.float32), dtype=dtype)[None, None] for v in (x, y))
        forward, backward = js_distance(xt, yt).item(), js_distance(yt, xt).item()
        expected = exact_js(xt.flatten().tolist(), yt.flatten().tolist())
        assert math.isfinite(forward) and forward >= 0.0, name
        assert forward == backward, name  # exactly symmetric
        assert forward == pytest.approx(expected, abs=1e-6), name
        assert js_distance(xt, xt).item() == 0.0 and js_distance(yt, yt).item() == 0.0, name
    assert exact_js(*pairs[2][1:]) == pytest.approx(math.log(2))


def test_js_batched_matrix_matches_pairwise():
    rng = np.random.default_rng(1)
    x = torch.softmax(torch.tensor(rng.normal(size=(2, 5, 32)) * 40, dtype=torch.float32), -1)
    y = torch.softmax(torch.tensor(rng.normal(size=(2, 4, 32)) * 40, dtype=torch.float32), -1)
    matrix = js_distance(x, y)
    assert matrix.shape == (2, 5, 4)
    for b, i, j in [(0, 0, 0), (1, 4, 3), (0, 2, 1)]:
        assert matrix[b, i, j].item() == pytest.approx(exact_js(x[b, i].tolist(), y[b, j].tolist()), abs=1e-6)


def test_abx_js_float32_equals_float64_with_subnormal_tails():
    rng = np.random.default_rng(3)
    features, items = random_abx_set(rng, speakers=3, contexts=1, phones=3, tokens_per_utt=12, dim=16)
    for uid, logits in features.items():
        # one coordinate per frame far below the others: float32 softmax gives it the smallest
        # subnormal (-103.3) or 0 (-120), the pairs that made the naive JS infinite
        frames, far = np.arange(len(logits)), rng.integers(0, 16, len(logits))
        log_total = np.log(np.exp(logits).sum(1))
        logits[frames, far] = log_total + rng.choice([-103.3, -120.0], len(logits))
        features[uid] = softmax32(logits)
    smallest = np.float32(1.4e-45)
    assert all((f == smallest).any() and (f == 0).any() for f in features.values())
    expected = reference_abx(items, features, distance="js", max_size_group=None, max_x_across=None)
    for dtype in ("float32", "float64"):
        config = ABXConfig(distance="js", max_size_group=None, max_x_across=None, dtype=dtype)
        result = compute_abx(items, features, config)
        for condition in ("within", "across"):
            assert getattr(result, condition) == pytest.approx(expected[condition], abs=1e-9), dtype
