"""U-Net weight map: closed forms, the naive per-instance reference, the error bound, bad input."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from imagelosses import unet_weight_map
from tests.references import make_cells, naive_unet_weight_map


def gap_image(gap: int, height: int = 40, width: int = 60) -> np.ndarray:
    """Two cells filling the left and right parts of the image, separated by a straight vertical gap."""
    inst = np.zeros((height, width), dtype=np.int64)
    left = (width - gap) // 2
    inst[:, :left] = 1
    inst[:, left + gap :] = 2
    return inst


@pytest.mark.parametrize(("gap", "expected"), [(1, 9.2312), (4, 6.0653), (9, 1.3534)])
def test_straight_gap_closed_form(gap, expected):
    # Distances are Euclidean distance transforms to the nearest pixel of each cell, so d1 + d2 = g + 1
    # for every pixel of the gap; REFERENCES.md's values for an edge gap of g + 1.
    inst = gap_image(gap)
    w = unet_weight_map(inst).numpy()
    left = (inst.shape[1] - gap) // 2
    border = w[:, left : left + gap] - 1.0
    assert np.allclose(border, 10 * math.exp(-((gap + 1) ** 2) / 50), atol=1e-5)
    assert np.allclose(border, expected, atol=1e-4)
    # cell pixels keep w_c = 1 with background_only
    assert np.all(w[inst > 0] == 1.0)


def test_matches_naive_reference_on_random_cells():
    for seed in range(3):
        inst = make_cells(96, 25, seed=seed)
        exact = naive_unet_weight_map(inst)
        for rel_tol in (1e-4, 1e-2):
            fast = unet_weight_map(inst, rel_tol=rel_tol).numpy()
            assert np.abs(fast - exact).max() <= rel_tol * 10.0 + 1e-5


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), count=st.integers(0, 12), sigma=st.sampled_from([2.0, 5.0]),
       rel_tol=st.sampled_from([1e-1, 1e-3]))
def test_error_bound_holds(seed, count, sigma, rel_tol):
    inst = make_cells(48, count, seed=seed, radius=(3, 8))
    exact = naive_unet_weight_map(inst, w0=7.0, sigma=sigma)
    fast = unet_weight_map(inst, w0=7.0, sigma=sigma, rel_tol=rel_tol).numpy()
    assert np.abs(fast - exact).max() <= rel_tol * 7.0 + 1e-5


def test_batch_torch_numpy_and_options():
    a, b = make_cells(48, 6, seed=1), make_cells(48, 8, seed=2)
    batch = unet_weight_map(torch.from_numpy(np.stack([a, b])))
    assert batch.shape == (2, 48, 48) and batch.dtype == torch.float32
    torch.testing.assert_close(batch[1], unet_weight_map(b))
    everywhere = unet_weight_map(a, background_only=False).numpy()
    exact = naive_unet_weight_map(a, background_only=False)
    assert np.abs(everywhere - exact).max() <= 1e-3
    balanced = unet_weight_map(a, class_weight="balanced", w0=0.0).numpy()
    fg = a > 0
    assert np.allclose(balanced[fg], a.size / (2 * fg.sum())) and np.allclose(balanced[~fg], a.size / (2 * (~fg).sum()))
    custom = unet_weight_map(a, class_weight=(0.5, 2.0), w0=0.0).numpy()
    assert np.allclose(custom, np.where(fg, 2.0, 0.5))


def test_fewer_than_two_cells_have_no_border_term():
    empty = np.zeros((16, 16), dtype=np.int64)
    assert torch.equal(unet_weight_map(empty), torch.ones(16, 16))
    one = empty.copy()
    one[4:8, 4:8] = 3
    assert torch.equal(unet_weight_map(one), torch.ones(16, 16))


@pytest.mark.parametrize(
    ("instances", "kwargs", "exc", "message"),
    [
        (np.zeros((4, 4), dtype=np.float32), {}, TypeError,
         "instances: expected an integer instance map (0 = background), got dtype float32"),
        ([[0, 1]], {}, TypeError,
         "instances: expected a numpy array or torch.Tensor of integer instance ids, got list"),
        (np.zeros(4, dtype=np.int64), {}, ValueError,
         "instances: expected an instance map of shape (H, W) or (N, H, W), got shape (4,)"),
        (-np.ones((4, 4), dtype=np.int64), {}, ValueError,
         "instances: expected non-negative instance ids (0 = background), got id -1"),
        (np.zeros((0, 4), dtype=np.int64), {}, ValueError,
         "instances: expected a non-empty instance map, got shape (0, 4)"),
        (np.zeros((4, 4), dtype=np.int64), {"sigma": 0.0}, ValueError,
         "sigma: expected a finite number > 0.0, got 0.0"),
        (np.zeros((4, 4), dtype=np.int64), {"rel_tol": 0.0}, ValueError,
         "rel_tol: expected a finite number > 0.0 and < 1.0, got 0.0"),
        (np.zeros((4, 4), dtype=np.int64), {"class_weight": "inverse"}, ValueError,
         "class_weight: expected one of 'balanced', got 'inverse'"),
        (np.zeros((4, 4), dtype=np.int64), {"class_weight": (1.0,)}, ValueError,
         "class_weight: expected (background, foreground) weights, 'balanced' or None, got (1.0,)"),
    ],
)
def test_bad_input(instances, kwargs, exc, message):
    with pytest.raises(exc, match=re.escape(message)):
        unet_weight_map(instances, **kwargs)


def test_weight_map_feeds_cross_entropy():
    from imagelosses import PixelCrossEntropyLoss

    inst = make_cells(32, 5, seed=3)
    w = unet_weight_map(inst)[None]
    target = torch.from_numpy((inst > 0).astype(np.int64))[None]
    logits = torch.randn(1, 2, 32, 32, requires_grad=True)
    loss = PixelCrossEntropyLoss()(logits, target, w)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


def test_huge_sparse_instance_ids_are_relabelled():
    inst = make_cells(48, 6, seed=4)
    sparse = np.where(inst > 0, inst * 10**12 + 7, 0)
    torch.testing.assert_close(unet_weight_map(sparse), unet_weight_map(inst))
    touching = np.ones((8, 8), dtype=np.int64) * 10**12  # no background at all
    touching[:, 4:] = 3 * 10**12
    torch.testing.assert_close(unet_weight_map(touching), unet_weight_map(np.where(touching > 10**12, 2, 1)))


def test_a_binary_mask_is_split_into_its_connected_components():
    instances = torch.zeros(1, 16, 24, dtype=torch.long)
    instances[0, 4:12, 3:10] = 1
    instances[0, 4:12, 12:20] = 2  # a 2-px gap between two cells
    expected = unet_weight_map(instances)
    for binary in ((instances > 0), (instances > 0).long(), (instances > 0).numpy()):
        got = unet_weight_map(binary)
        torch.testing.assert_close(got, expected)
        assert float(got[0, 8, 10]) > 5.0  # the gap carries the border weight (it had none as one instance)
    diagonal = torch.zeros(1, 8, 8, dtype=torch.bool)
    diagonal[0, 2, 2] = diagonal[0, 3, 3] = True  # touch only at a corner
    four = unet_weight_map(diagonal, connectivity=4, background_only=False)
    eight = unet_weight_map(diagonal, connectivity=8, background_only=False)
    assert float(four[0, 2, 3]) > float(eight[0, 2, 3])  # two cells under 4-connectivity: a border between them
    with pytest.raises(ValueError, match=r"^connectivity: expected one of 4, 8, got 6$"):
        unet_weight_map(diagonal, connectivity=6)
