"""Topology metrics on hand-drawn masks with known Betti numbers and known completeness/correctness/quality;
the clDice score by hand; Zhang–Suen centre lines; numpy/torch and batch handling; bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage.morphology import skeletonize

from imagelosses.metrics.topology import (
    betti_errors,
    betti_numbers,
    centerline,
    cldice_score,
    completeness_correctness_quality,
    topology_scores,
)


def _blank(h: int = 16, w: int = 16) -> np.ndarray:
    return np.zeros((h, w), dtype=bool)


def _ring() -> np.ndarray:
    m = _blank()
    m[3:12, 3:12] = True
    m[5:10, 5:10] = False
    return m


def _eight() -> np.ndarray:
    m = _blank(16, 24)
    m[3:12, 3:20] = True
    m[5:10, 5:10] = False
    m[5:10, 13:18] = False
    return m


def _diagonal() -> np.ndarray:
    m = _blank(10, 10)
    m[np.arange(10), np.arange(10)] = True
    return m


def _notch_to_border() -> np.ndarray:
    m = _blank(10, 10)
    m[0:8, 2:8] = True
    m[0:5, 4:6] = False  # a cavity open to the top border: not a hole
    return m


@pytest.mark.parametrize(("name", "mask", "connectivity", "expected"), [
    ("empty", _blank(), 8, (0, 0)),
    ("ring", _ring(), 8, (1, 1)),
    ("figure eight", _eight(), 8, (1, 2)),
    ("two bars", np.pad(np.ones((2, 5), bool), ((2, 8), (1, 1)), constant_values=False) | np.pad(
        np.ones((2, 5), bool), ((8, 2), (1, 1)), constant_values=False), 8, (2, 0)),
    ("diagonal, 8-connected", _diagonal(), 8, (1, 0)),
    ("diagonal, 4-connected", _diagonal(), 4, (10, 0)),
    ("cavity open to the border", _notch_to_border(), 8, (1, 0)),
])
def test_betti_numbers_of_hand_drawn_masks(name: str, mask: np.ndarray, connectivity: int,
                                           expected: tuple[int, int]) -> None:
    assert tuple(betti_numbers(mask, connectivity=connectivity)[0]) == expected, name


def test_diagonal_ring_is_a_hole_only_with_an_8_connected_foreground() -> None:
    diamond = _blank(9, 9)
    for i, j in [(0, 4), (1, 3), (2, 2), (3, 1), (4, 0), (5, 1), (6, 2), (7, 3), (8, 4), (7, 5), (6, 6), (5, 7),
                 (4, 8), (3, 7), (2, 6), (1, 5)]:
        diamond[i, j] = True
    assert betti_numbers(diamond, connectivity=8).tolist() == [[1, 1]]
    assert betti_numbers(diamond, connectivity=4).tolist() == [[16, 0]]  # the background leaks through corners


def test_betti_errors_batched_numpy_and_torch() -> None:
    line = _blank(8, 20)
    line[4, 2:18] = True
    broken = line.copy()
    broken[4, 9] = False
    twice = broken.copy()
    twice[4, 14] = False
    pred = np.stack([line, broken, twice, _blank(8, 20)])
    target = np.stack([line] * 4)
    errors = betti_errors(pred, target)
    assert errors.betti0.tolist() == [0.0, 1.0, 2.0, 1.0]
    assert errors.betti1.tolist() == [0.0] * 4
    from_torch = betti_errors(torch.from_numpy(pred).float()[:, None], torch.from_numpy(target).long())
    assert from_torch.betti0.tolist() == errors.betti0.tolist()
    ring_err = betti_errors(_ring(), np.zeros((16, 16), dtype=np.uint8))
    assert (ring_err.betti0.tolist(), ring_err.betti1.tolist()) == ([1.0], [1.0])


def _road() -> np.ndarray:
    ref = _blank(12, 30)
    ref[5, 5:25] = True  # 20 px
    return ref


@pytest.mark.parametrize("use_centerline", [True, False])
def test_completeness_correctness_quality_known_values(use_centerline: bool) -> None:
    """Reference: a 20-px road. Prediction: its first 10 px plus a 5-px false road 5 rows away. With a 2-px
    tolerance 12 reference pixels lie within reach (cols 5..16): completeness 12/20; 10 of 15 predicted pixels
    are right: correctness 2/3; quality 10 / (15 + 8) = 10/23."""
    ref = _road()
    pred = _blank(12, 30)
    pred[5, 5:15] = True
    pred[10, 20:25] = True
    ccq = completeness_correctness_quality(pred, ref, tolerance=2, centerline=use_centerline)
    np.testing.assert_allclose([ccq.completeness[0], ccq.correctness[0], ccq.quality[0]], [0.6, 2 / 3, 10 / 23])


def test_tolerance_and_centre_lines_of_wide_masks() -> None:
    ref = _road()
    shifted = np.roll(ref, 2, axis=0)
    for tol, expect in ((2, 1.0), (1.5, 0.0), (1, 0.0)):
        ccq = completeness_correctness_quality(shifted, ref, tolerance=tol)
        assert ccq.completeness[0] == expect and ccq.correctness[0] == expect
    wide = ndimage.binary_dilation(ref, iterations=2)  # a 5-px-wide road: its centre line is the reference
    ccq = completeness_correctness_quality(wide, ref, tolerance=1)
    assert ccq.completeness[0] >= 0.9 and ccq.correctness[0] == 1.0
    raw = completeness_correctness_quality(wide, ref, tolerance=1, centerline=False)
    assert raw.correctness[0] < 0.65  # pixel-wise, the 2 outer of its 5 rows lie beyond 1 px: wrong


def test_empty_masks() -> None:
    ref, empty = _road(), _blank(12, 30)
    ccq = completeness_correctness_quality(np.stack([empty, empty, ref]), np.stack([empty, ref, empty]))
    assert ccq.completeness.tolist() == [1.0, 0.0, 1.0]
    assert ccq.correctness.tolist() == [1.0, 1.0, 0.0]
    assert ccq.quality.tolist() == [1.0, 0.0, 0.0]
    assert cldice_score(np.stack([empty, empty, ref]), np.stack([empty, ref, empty])).tolist() == [1.0, 0.0, 0.0]


def test_cldice_score_by_hand() -> None:
    """Prediction = the first half of a 1-px road: Tprec = 1 (its skeleton lies in the reference), Tsens =
    10/20, clDice = 2·0.5/1.5 = 2/3; identical masks score 1."""
    ref = _road()
    half = ref.copy()
    half[5, 15:25] = False
    np.testing.assert_allclose(cldice_score(half, ref), [2 / 3])
    np.testing.assert_allclose(cldice_score(ref, ref), [1.0])
    np.testing.assert_allclose(cldice_score(_ring(), _ring()), [1.0])


def test_centerline_is_thin_and_keeps_the_topology() -> None:
    bar = _blank(12, 30)
    bar[4:9, 3:27] = True
    line = centerline(bar)[0]
    assert set(np.nonzero(line)[0].tolist()) == {6}  # the middle row only
    thick_ring = ndimage.binary_dilation(_ring(), iterations=1)
    thin = centerline(thick_ring)
    assert betti_numbers(thin).tolist() == betti_numbers(thick_ring).tolist() == [[1, 1]]
    assert thin.sum() < thick_ring.sum() / 2
    block = _blank(6, 6)
    block[2:4, 2:4] = True  # Zhang–Suen alone would erase a 2×2 block
    assert centerline(block).sum() == 1


@pytest.mark.parametrize("seed", range(4))
def test_centerline_agrees_with_skimage_on_topology_and_size(seed: int) -> None:
    rng = np.random.default_rng(seed)
    blobs = ndimage.gaussian_filter(rng.random((40, 40)), 2.5) > 0.52
    ours = centerline(blobs)[0]
    theirs = skeletonize(blobs)
    assert betti_numbers(ours).tolist() == betti_numbers(theirs).tolist() == betti_numbers(blobs).tolist()
    assert not (ours & ~blobs).any()
    assert 0.7 * theirs.sum() <= ours.sum() <= 1.3 * theirs.sum()  # skimage keeps a few more spur pixels


def test_topology_scores_keys_and_shapes() -> None:
    pred = np.stack([_road(), _road()])
    scores = topology_scores(torch.from_numpy(pred), pred)
    assert sorted(scores) == ["betti0_error", "betti1_error", "cldice", "completeness", "correctness", "quality"]
    assert all(v.shape == (2,) and v.dtype == np.float64 for v in scores.values())
    assert scores["completeness"].tolist() == [1.0, 1.0] and scores["betti0_error"].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(("pred", "exc", "message"), [
    (np.zeros((2, 3, 8, 8)), ValueError,
     "pred: expected a binary mask of shape (H, W), (N, H, W) or (N, 1, H, W), got shape (2, 3, 8, 8)"),
    (np.full((2, 8, 8), 0.7), ValueError,
     "pred: expected a binary mask of 0s and 1s (threshold probabilities first, e.g. p > 0.5), got values in "
     "[0.7, 0.7]"),
    (np.array([[0, 255], [255, 0]]), ValueError,
     "pred: expected a binary mask of 0s and 1s (divide a 0/255 mask by 255), got values in [0, 255]"),
    ([[0, 1]], TypeError, "pred: expected a binary mask as a numpy array or torch tensor, got list"),
    (np.zeros((2, 0, 8)), ValueError, "pred: expected a non-empty mask, got shape (2, 0, 8)"),
])
def test_bad_input(pred: object, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=__import__("re").escape(message)):
        betti_errors(pred, np.zeros((2, 8, 8)))


def test_bad_pairs_and_options() -> None:
    with pytest.raises(ValueError, match=r"target: expected masks of the shape of pred \(1, 8, 8\)"):
        completeness_correctness_quality(np.zeros((8, 8)), np.zeros((8, 9)))
    with pytest.raises(ValueError, match=r"tolerance: expected a finite number >= 0\.0, got -1"):
        completeness_correctness_quality(np.zeros((8, 8)), np.zeros((8, 8)), tolerance=-1)
    with pytest.raises(ValueError, match="connectivity: expected one of 4, 8, got 6"):
        betti_numbers(np.zeros((8, 8)), connectivity=6)
    with pytest.raises(ValueError, match=r"target: expected a binary mask of 0s and 1s"):
        cldice_score(np.zeros((8, 8)), torch.rand(8, 8))
