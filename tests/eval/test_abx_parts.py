"""Hand-checked pieces of the ABX: item parsing, slicing, frame distances, DTW, subsampling."""
import math

import numpy as np
import pytest
import torch

from dinosr_espnet.eval.abx.distances import check_probabilities, get_distance
from dinosr_espnet.eval.abx.dtw import dtw_batch
from dinosr_espnet.eval.abx.items import read_item_file
from dinosr_espnet.eval.abx.slicing import frame_span

ITEMS = """#file onset offset #phone prev-phone next-phone speaker
utt1 0.100 0.200 AH B T spk1

utt2 0.0 0.05 T AH SIL spk2
"""


def test_read_item_file(tmp_path):
    path = tmp_path / "dev.item"
    path.write_text(ITEMS)
    first, second = read_item_file(path)
    assert (first.file, first.onset, first.offset, first.phone, first.speaker) == ("utt1", 0.1, 0.2, "AH", "spk1")
    assert first.context == "B+T" and second.context == "AH+SIL"


@pytest.mark.parametrize(
    "text, message",
    [
        ("utt1 0.1 0.2 AH B T spk1\n", "header"),
        ("#file onset offset #phone prev next speaker\nutt1 0.1 0.2 AH B spk1\n", "dev.item:2: expected 7"),
        ("#file onset offset #phone prev next speaker\nutt1 0.3 0.2 AH B T spk1\n", "onset < offset"),
        ("#file onset offset #phone prev next speaker\nutt1 x 0.2 AH B T spk1\n", "not numbers"),
    ],
)
def test_bad_item_files_name_the_line(tmp_path, text, message):
    path = tmp_path / "dev.item"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_item_file(path)


def test_frame_span_by_hand():
    # r = 50: r*0.1 - 0.5 = 4.5 -> start 5 (centre 0.11 s); r*0.2 - 0.5 = 9.5 -> end 9 (centre 0.19 s)
    assert frame_span(0.1, 0.2, 100, 50.0, "legacy") == (5, 9)
    assert frame_span(0.1, 0.2, 100, 50.0, "corrected") == (5, 10)
    # features shorter than the token: clipped at T
    assert frame_span(0.1, 0.2, 8, 50.0, "legacy") == (5, 8)
    assert frame_span(0.1, 0.2, 8, 50.0, "corrected") == (5, 8)
    # a 10 ms token between two 20 ms frame centres has no frame
    start, stop = frame_span(0.015, 0.025, 100, 50.0, "corrected")
    assert stop <= start
    # at 100 Hz the same 100 ms token spans 10 frames (legacy 9)
    assert frame_span(0.1, 0.2, 100, 100.0, "legacy") == (10, 19)
    with pytest.raises(ValueError, match="slicing"):
        frame_span(0.1, 0.2, 100, 50.0, "exclusive")


def test_cosine_distance_values():
    x = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]]])
    y = torch.tensor([[[2.0, 0.0], [1.0, 1.0]]])
    d = get_distance("cosine")(x, y)[0]
    expected = [[0.0, 0.25], [0.5, 0.25], [1.0, 0.75]]
    assert torch.allclose(d, torch.tensor(expected), atol=1e-6)


def test_probability_distances_by_hand():
    p = torch.tensor([[[0.5, 0.5]]], dtype=torch.float64)
    q = torch.tensor([[[0.25, 0.75]]], dtype=torch.float64)
    kl_pq = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    kl_qp = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert get_distance("kl")(p, q).item() == pytest.approx(kl_pq)
    assert get_distance("kl")(q, p).item() == pytest.approx(kl_qp)
    assert get_distance("symkl")(p, q).item() == pytest.approx(0.5 * (kl_pq + kl_qp))
    # JS([1, 0], [0.5, 0.5]): m = [0.75, 0.25]; no L2 normalisation of the inputs
    one_hot = torch.tensor([[[1.0, 0.0]]], dtype=torch.float64)
    js = 0.5 * (math.log(1 / 0.75) + 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25))
    assert get_distance("js")(one_hot, p).item() == pytest.approx(js)
    disjoint = torch.tensor([[[0.0, 1.0]]], dtype=torch.float64)
    assert get_distance("js")(one_hot, disjoint).item() == pytest.approx(math.log(2))
    assert get_distance("js")(p, p).item() == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="unknown ABX distance"):
        get_distance("euclidean")


def test_probability_check_names_the_utterance():
    with pytest.raises(ValueError, match="'utt7'.*negative"):
        check_probabilities(torch.tensor([[-1.0, 2.0]]), "utt7")
    with pytest.raises(ValueError, match="'utt7'.*sum to 1"):
        check_probabilities(torch.tensor([[0.2, 0.2]]), "utt7")


def test_dtw_by_hand_and_padding():
    # 1 x 3: the only path has 3 cells, cost 1 + 2 + 3 = 6 -> 2
    row = torch.tensor([[[1.0, 2.0, 3.0]]])
    assert dtw_batch(row, torch.tensor([1]), torch.tensor([3])).item() == pytest.approx(2.0)
    # 2 x 2: diagonal path (2 cells), cost 1 + 1 -> 1
    square = torch.tensor([[1.0, 4.0], [4.0, 1.0]])
    assert dtw_batch(square[None], torch.tensor([2]), torch.tensor([2])).item() == pytest.approx(1.0)
    # both in one padded batch: padding values must not matter
    batch = torch.full((2, 2, 3), 100.0)
    batch[0, :1, :3] = row[0]
    batch[1, :2, :2] = square
    costs = dtw_batch(batch, torch.tensor([1, 2]), torch.tensor([3, 2]))
    assert torch.allclose(costs, torch.tensor([2.0, 1.0]))


def test_dtw_tie_break_prefers_left_over_up():
    # Accumulated costs: row0 0 0 0 0 / row1 0 0 1 0 / row2 0 0 0 1. At (2,3) the diagonal (1,2)
    # costs 1 while left (2,2) and up (1,3) both cost 0: left wins (libri-light order) -> path
    # (0,0)(1,1)(2,2)(2,3), 4 cells, 1/4. Taking up instead would give 5 cells, 1/5.
    d = torch.tensor([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    assert dtw_batch(d[None], torch.tensor([3]), torch.tensor([4])).item() == pytest.approx(0.25)
    assert dtw_batch(d.T[None], torch.tensor([4]), torch.tensor([3])).item() == pytest.approx(0.2)
