"""The fast ABX path: numba DTW kernel, group-pair layout, chunking, vectorised cells, backends."""
import numpy as np
import pytest
import torch

from abx_reference import dtw as reference_dtw
from abx_reference import random_abx_set
from dinosr_espnet.eval.abx import ABXConfig, compute_abx
from dinosr_espnet.eval.abx.cells import Groups, across_cells, build_groups, within_cells
from dinosr_espnet.eval.abx.distances import get_distance, prepare_frames
from dinosr_espnet.eval.abx.dtw import _batch_ends
from dinosr_espnet.eval.abx.dtw_numba import dtw_group_pairs
from dinosr_espnet.eval.abx.chunks import block_frames, chunks, frame_layout, plan_chunks
from dinosr_espnet.eval.abx.pairs import pair_table
from dinosr_espnet.eval.abx.scoring import pair_values
from dinosr_espnet.eval.abx.tokens import build_tokens


def _numba_dtw(d: np.ndarray) -> float:
    """The kernel on one pair of one-token groups whose distance table is ``d``."""
    rows, cols = d.shape
    out = np.empty(1)
    zero = np.zeros(1, dtype=np.int64)
    dtw_group_pairs(np.ascontiguousarray(d).ravel(), zero, zero + cols, zero, zero, zero, zero + 1, zero,
                    np.array([0, 1, 2]), np.array([rows, cols]), np.zeros(2, dtype=np.int64), out)
    return float(out[0])


def test_numba_dtw_by_hand():
    assert _numba_dtw(np.array([[1.0, 2.0, 3.0]])) == pytest.approx(2.0)  # 1 x 3: (1+2+3)/3
    assert _numba_dtw(np.array([[1.0], [2.0], [6.0]])) == pytest.approx(3.0)  # 3 x 1
    assert _numba_dtw(np.array([[1.0, 4.0], [4.0, 1.0]])) == pytest.approx(1.0)  # diagonal, 2 cells
    # Same tie as test_abx_parts: left (i, j-1) beats up (i-1, j) -> 4 cells (1/4), transposed 1/5.
    d = np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    assert _numba_dtw(d) == 0.25 and _numba_dtw(d.T) == 0.2
    # float32 tables are accumulated in float32 (as the legacy Cython DTW)
    third = np.full((1, 3), 0.1, dtype=np.float32)
    assert _numba_dtw(third) == float(np.float32(np.float32(np.float32(0.1) * 3) / np.float32(3)))


def test_numba_dtw_matches_reference_on_random_tables():
    rng = np.random.default_rng(0)
    for rows, cols in [(1, 1), (2, 7), (7, 2), (5, 5), (9, 4)]:
        x, y = rng.normal(size=(rows, 3)), rng.normal(size=(cols, 3))
        d = get_distance("cosine")(torch.from_numpy(x), torch.from_numpy(y)).numpy()
        assert _numba_dtw(d) == pytest.approx(reference_dtw(x.tolist(), y.tolist(), "cosine"), abs=1e-12)


def _groups(sizes_frames: list[list[int]]) -> tuple[Groups, np.ndarray, np.ndarray]:
    """Groups of one context/speaker (phones 0, 1, ...) whose tokens have the given frame counts."""
    lengths = np.array([n for group in sizes_frames for n in group], dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    ptr = np.cumsum([0] + [len(g) for g in sizes_frames])
    keys = np.array([[0, 0, p] for p in range(len(sizes_frames))], dtype=np.int64)
    return Groups(keys, np.arange(len(lengths)), ptr), offsets, lengths


def test_frame_layout_and_block_frames_by_hand():
    groups, offsets, lengths = _groups([[2, 3], [1], [4, 1, 2]])
    layout = frame_layout(groups, offsets, lengths)
    assert layout.group_frames.tolist() == [5, 1, 7]
    assert layout.rel.tolist() == [0, 2, 0, 0, 4, 5]
    rows, first_row = block_frames(groups, layout, np.array([0, 2]))
    assert rows.tolist() == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12]
    assert first_row.tolist() == [0, 5]


def test_group_pair_blocks_are_row_major_token_dtws():
    groups, offsets, lengths = _groups([[2, 3], [1, 4, 2]])
    rng = np.random.default_rng(1)
    frames = rng.normal(size=(int(lengths.sum()), 4))
    layout = frame_layout(groups, offsets, lengths)
    rows, _ = block_frames(groups, layout, np.array([0]))
    cols, _ = block_frames(groups, layout, np.array([1]))
    dist = get_distance("cosine")(torch.from_numpy(frames[rows]), torch.from_numpy(frames[cols])).numpy()
    # the matrix sits at offset 3 of a flat buffer (several chunks share one kernel call)
    flat = np.concatenate([np.full(3, np.nan), dist.ravel()])
    out = np.empty(6)
    zero = np.zeros(1, dtype=np.int64)
    dtw_group_pairs(flat, zero + 3, zero + dist.shape[1], zero, zero, zero, zero + 1, zero, groups.ptr,
                    layout.length, layout.rel, out)
    for i in range(2):
        for j in range(3):
            x = frames[offsets[i]:offsets[i] + lengths[i]]
            y = frames[offsets[2 + j]:offsets[2 + j] + lengths[2 + j]]
            assert out[i * 3 + j] == pytest.approx(reference_dtw(x.tolist(), y.tolist(), "cosine"), abs=1e-12)


def test_cells_by_hand():
    # context 0: speaker 0 has phones 0 (2 tokens), 1 (1 token); speaker 1 has phone 0 (1 token)
    keys = np.array([[0, 0, 0], [0, 0, 1], [0, 1, 0]], dtype=np.int64)
    groups = Groups(keys, np.arange(4), np.array([0, 2, 3, 4]))
    within = within_cells(groups)
    assert within.keys.tolist() == [[0, 0, 0, 1]] and within.x.tolist() == [0] and within.b.tolist() == [1]
    across = across_cells(groups, None, seed=0)
    # A = (0, 0, 0), B = (0, 0, 1), X from speaker 1; nothing for speaker 1 (one phone only)
    assert across.keys.tolist() == [[0, 0, 1, 0, 1]]
    assert (across.x.tolist(), across.a.tolist(), across.b.tolist()) == ([2], [0], [1])


def _token_set(distance="cosine", dtype=torch.float64, seed=0):
    features, items = random_abx_set(np.random.default_rng(seed), speakers=4, contexts=2, phones=3,
                                     tokens_per_utt=16, probabilities=distance != "cosine")
    tokens = build_tokens(items, features, 50.0, "corrected", dtype=dtype)
    tokens.frames = prepare_frames(tokens.frames, distance)
    groups = build_groups(tokens, None, 0)
    cells = [within_cells(groups), across_cells(groups, None, 0)]
    return tokens, groups, pair_table(groups, cells)


def test_table_is_listed_by_family_and_chunks_cover_it():
    tokens, groups, table = _token_set()
    layout = frame_layout(groups, tokens.offsets, tokens.lengths)
    # family (context, phone) of the row group, non-decreasing; every pair once
    family = groups.keys[table.first, 0] * 10 + groups.keys[table.first, 2]
    assert np.all(np.diff(family) >= 0)
    same_families = np.unique(table.family, return_inverse=True)[1], np.unique(family, return_inverse=True)[1]
    assert np.array_equal(*same_families)
    assert len(set(zip(table.first.tolist(), table.second.tolist()))) == len(table)
    assert np.array_equal(table.index(table.first[::-1], table.second[::-1]), np.arange(len(table))[::-1])
    for budget, merge in ((1, 0), (500, 0), (1 << 30, 0), (1 << 30, 1 << 30)):
        parts = list(chunks(table, layout, budget, merge))
        assert parts[0].start == 0 and parts[-1].stop == len(table)
        assert all(p.stop == q.start and p.stop > p.start for p, q in zip(parts, parts[1:]))
        row_groups = [len(np.unique(table.first[p])) for p in parts]
        if budget == 1:
            assert row_groups == [1] * len(np.unique(table.first))  # one chunk per row group
        if budget == 1 << 30 and merge == 0:
            assert len(parts) == len(np.unique(table.family))  # one chunk per family
        if merge == 1 << 30:
            assert len(parts) == 1
        if budget == 500:  # slices of a family keep whole row groups
            assert all(len(set(table.family[p])) == 1 for p in parts)


@pytest.mark.parametrize("budget", [1, 500, 1 << 30])
def test_chunk_plan_points_at_each_pairs_frames(budget):
    tokens, groups, table = _token_set()
    layout = frame_layout(groups, tokens.offsets, tokens.lengths)
    plan = plan_chunks(table, groups, layout, budget)
    assert plan.bounds[0] == 0 and plan.bounds[-1] == len(table) and len(plan) > 1
    for k in range(len(plan)):
        rows = plan.rows[plan.row_bounds[k]:plan.row_bounds[k + 1]]
        cols = plan.cols[plan.col_bounds[k]:plan.col_bounds[k + 1]]
        for q in range(plan.bounds[k], plan.bounds[k + 1]):
            g, h = table.first[q], table.second[q]
            own_rows = block_frames(groups, layout, np.array([g]))[0]
            own_cols = block_frames(groups, layout, np.array([h]))[0]
            assert np.array_equal(rows[plan.row0[q]:plan.row0[q] + len(own_rows)], own_rows)
            assert np.array_equal(cols[plan.col0[q]:plan.col0[q] + len(own_cols)], own_cols)


@pytest.mark.parametrize("distance", ["cosine", "js"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_backends_and_chunk_sizes_agree(distance, dtype):
    tokens, groups, table = _token_set(distance, dtype)
    run = lambda backend, chunk: pair_values(  # noqa: E731
        tokens, groups, table, get_distance(distance, prepared=True), distance == "js", chunk, backend)
    numba_values = run("numba", 1 << 20)
    # same frame-distance matrices -> the two DTW implementations agree bit for bit
    assert np.array_equal(numba_values, run("torch", 1 << 20))
    # smaller chunks only change the GEMM shapes: last-bit differences of the frame distances,
    # amplified only where acos is ill-conditioned (a token against itself, distance ~0)
    tolerance = 1e-4 if dtype == torch.float32 else 1e-7
    assert np.allclose(run("numba", 3000), numba_values, rtol=0, atol=tolerance)
    with pytest.raises(ValueError, match="DTW backend"):
        run("cython", 1 << 20)


def test_torch_backend_scores_like_numba_and_bad_option():
    features, items = random_abx_set(np.random.default_rng(3), speakers=3, tokens_per_utt=12)
    scores = [compute_abx(items, features, ABXConfig(dtw=b, dtype="float64")) for b in ("numba", "torch")]
    assert (scores[0].within, scores[0].across) == (scores[1].within, scores[1].across)
    with pytest.raises(ValueError, match="dtw must be one of"):
        compute_abx(items, features, ABXConfig(dtw="cython"))


def test_torch_batches_bound_size_and_padding():
    # a 4 x 4 pair after two 1 x 1 pairs would pad the batch to 3 * 16 = 48 > 2 * 18 cells
    assert _batch_ends(np.array([1, 1, 4]), np.array([1, 1, 4]), budget=1000) == [2, 3]
    assert _batch_ends(np.ones(5, dtype=np.int64), np.ones(5, dtype=np.int64), budget=3) == [3, 5]
    assert _batch_ends(np.array([9]), np.array([9]), budget=10) == [1]  # one pair may exceed
