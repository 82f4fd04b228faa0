"""Plain-loop reference of the ABX protocol text (evaluation.md), for agreement tests and the
benchmark. Deliberately simple: pure Python DTW with back-tracking, nested dicts, no batching.
It shares nothing with ``dinosr_espnet.eval.abx`` except the documented subsampling rule
(``numpy.random.default_rng([seed, role, ...])``, see ``cells.py``).
"""
from __future__ import annotations

import math

import numpy as np

EPS = 1e-10


def slice_token(frames, onset, offset, rate, slicing):
    """Frames whose centres (i + 0.5) / rate lie in the token, legacy dropping the last one."""
    total = len(frames)
    start = max(0, math.ceil(rate * onset - 0.5))
    last = math.floor(rate * offset - 0.5)  # inclusive last frame of the protocol
    if slicing == "legacy":
        stop = min(total, last)
    else:
        stop = min(total - 1, last) + 1
    return [list(map(float, frames[i])) for i in range(start, stop)]


def _kl(p, q):
    return sum(pk * (math.log(pk) - math.log(max(qk, EPS))) for pk, qk in zip(p, q) if pk > 0)


def frame_distance(u, v, name):
    if name == "cosine":
        dot = sum(a * b for a, b in zip(u, v))
        nu = max(math.sqrt(sum(a * a for a in u)), EPS)
        nv = max(math.sqrt(sum(b * b for b in v)), EPS)
        return math.acos(min(1.0, max(-1.0, dot / (nu * nv)))) / math.pi
    if name == "kl":
        return _kl(u, v)
    if name == "symkl":
        return 0.5 * (_kl(u, v) + _kl(v, u))
    if name == "js":  # m > 0 wherever u or v is, so no EPS: exact in double precision
        m = [(a + b) / 2 for a, b in zip(u, v)]
        return 0.5 * sum(pk * math.log(pk / mk) for p in (u, v) for pk, mk in zip(p, m) if pk > 0)
    raise ValueError(name)


def dtw(x, y, name):
    """Accumulated cost / path length, path found by back-tracking (diagonal, left, up)."""
    n, m = len(x), len(y)
    d = [[frame_distance(x[i], y[j], name) for j in range(m)] for i in range(n)]
    cost = [[0.0] * m for _ in range(n)]
    for i in range(n):
        for j in range(m):
            if i == 0 and j == 0:
                cost[i][j] = d[i][j]
            elif i == 0:
                cost[i][j] = d[i][j] + cost[i][j - 1]
            elif j == 0:
                cost[i][j] = d[i][j] + cost[i - 1][j]
            else:
                cost[i][j] = d[i][j] + min(cost[i - 1][j - 1], cost[i - 1][j], cost[i][j - 1])
    i, j, length = n - 1, m - 1, 1
    while i > 0 and j > 0:
        corner, up, left = cost[i - 1][j - 1], cost[i - 1][j], cost[i][j - 1]
        if corner <= left and corner <= up:
            i, j = i - 1, j - 1
        elif left <= up:
            j -= 1
        else:
            i -= 1
        length += 1
    length += i + j
    return cost[n - 1][m - 1] / length


def _pick(members, limit, seed, key):
    if limit is None or len(members) <= limit:
        return list(members)
    rng = np.random.default_rng([seed, *key])
    return [members[k] for k in sorted(rng.choice(len(members), size=limit, replace=False))]


def _mean(values):
    return sum(values) / len(values)


def reference_abx(items, features, rate=50.0, distance="cosine", slicing="corrected",
                  max_size_group=10, max_x_across=5, seed=0):
    """Within- and across-speaker ABX errors, straight from the protocol text."""
    tokens = []
    for it in items:
        frames = slice_token(features[it.file], it.onset, it.offset, rate, slicing)
        if frames:
            tokens.append((f"{it.prev_phone}+{it.next_phone}", it.speaker, it.phone, frames))
    contexts = sorted({t[0] for t in tokens})
    speakers = sorted({t[1] for t in tokens})
    phones = sorted({t[2] for t in tokens})
    groups = {}
    for t in tokens:
        groups.setdefault((t[0], t[1], t[2]), []).append(t[3])
    for (c, s, p), members in groups.items():
        key = (0, contexts.index(c), speakers.index(s), phones.index(p))
        groups[(c, s, p)] = _pick(members, max_size_group, seed, key)

    def score(xs, as_, bs, within):
        total, count = 0.0, 0
        for ix, x in enumerate(xs):
            to_b = [dtw(x, b, distance) for b in bs]
            for ia, a in enumerate(as_):
                if within and ix == ia:
                    continue
                dxa = dtw(x, a, distance)
                for dxb in to_b:
                    total += 1.0 if dxa > dxb else 0.5 if dxa == dxb else 0.0
                    count += 1
        return total / count

    within, across = {}, {}
    for (c, s, a), group_a in groups.items():
        for (c2, s2, b), group_b in groups.items():
            if c2 != c or s2 != s or b == a:
                continue
            if len(group_a) >= 2:
                within.setdefault((a, b), {}).setdefault(s, []).append(score(group_a, group_a, group_b, True))
            others = sorted((o for (c3, o, p3) in groups if c3 == c and p3 == a and o != s),
                            key=speakers.index)
            key = (1, contexts.index(c), speakers.index(s), phones.index(a), phones.index(b))
            for o in _pick(others, max_x_across, seed, key):
                across.setdefault((a, b), {}).setdefault(s, []).append(
                    score(groups[(c, o, a)], group_a, group_b, False)
                )

    def reduce(table):
        if not table:
            return None
        return _mean([_mean([_mean(cell_errors) for cell_errors in by_speaker.values()])
                      for by_speaker in table.values()])

    return {"within": reduce(within), "across": reduce(across)}


def random_abx_set(rng, speakers=3, contexts=2, phones=3, utterances=2, tokens_per_utt=12,
                   dim=5, probabilities=False, rate=50.0):
    """Random features (uttid -> (T, dim)) and item tokens over them; a few tokens are too
    short or lie past the features' end, so that skipping is exercised."""
    from dinosr_espnet.eval.abx.items import ItemToken

    features, items = {}, []
    for s in range(speakers):
        for u in range(utterances):
            uttid = f"spk{s}-utt{u}"
            num_frames = int(rng.integers(40, 80))
            logits = rng.normal(size=(num_frames, dim))
            if probabilities:
                logits = np.exp(2 * logits)
                logits /= logits.sum(1, keepdims=True)
            features[uttid] = logits
            duration = num_frames / rate
            for _ in range(tokens_per_utt):
                onset = round(float(rng.uniform(0, duration + 0.05)), 4)
                offset = round(onset + float(rng.uniform(0.005, 0.2)), 4)
                c, p = int(rng.integers(contexts)), int(rng.integers(phones))
                items.append(ItemToken(uttid, onset, offset, f"p{p}", f"l{c}", f"r{c}", f"spk{s}"))
    return features, items
