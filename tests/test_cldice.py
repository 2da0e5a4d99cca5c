"""Soft skeleton and soft clDice (Shit et al. 2021): the standard harness, a naive-loop skeleton, the centre
line of thick lines, and agreement with MONAI's SoftclDiceLoss / SoftDiceclDiceLoss."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from monai.losses import SoftclDiceLoss as MonaiClDice
from monai.losses import SoftDiceclDiceLoss as MonaiDiceClDice

from imagelosses.losses.cldice import SoftClDiceLoss, soft_cldice_loss, soft_skeleton
from tests._harness import BadInput, BadOption, LossCase, StandardLossTests, replace_arg

pytestmark = pytest.mark.usefixtures("one_thread")




def _inputs(shape: tuple[int, ...], logits: bool) -> Callable[[torch.dtype, int, float], tuple[torch.Tensor, ...]]:
    def make(dtype: torch.dtype, seed: int, scale: float) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(*shape, generator=g, dtype=dtype) * scale
        target = (torch.rand(*shape, generator=g) > 0.5).to(dtype)
        return (x if logits else torch.sigmoid(x)), target

    return make




BAD = [
    BadInput("shape", replace_arg(1, lambda t: t[..., :3]), ValueError,
             "target: expected shape matching input (2, 1, 6, 6), got (2, 1, 6, 3)"),
    BadInput("0/255 target", replace_arg(1, lambda t: t * 255), ValueError,
             "target: expected binary labels in [0, 1] (a 0/255 mask: divide it by 255), got values in [0, 255]"),
    BadInput("integer target", replace_arg(1, lambda t: t.long()), TypeError,
             "target: expected a floating-point tensor, got dtype torch.int64"),
    BadInput("1-D spatial", lambda a: ((a[0][:, :, 0], a[1][:, :, 0]), {}), ValueError,
             "input: expected a tensor of shape (N, C, H, W) or (N, C, D, H, W), got shape (2, 1, 6)"),
    BadInput("logits passed as probabilities", lambda a: ((a[0] * 6 - 3, a[1]), {"from_logits": False,
                                                                                 "check_range": True}),
             ValueError, "input: expected probabilities in [0, 1] (from_logits=False; pass logits with "
             "from_logits=True), got values in"),
    BadInput("nan", lambda a: ((a[0] * float("nan"), a[1]), {"check_finite": True}), ValueError,
             "input: expected finite values, got 72 NaN or infinite entries"),
]
BAD_OPTIONS = [
    BadOption("alpha", {"alpha": 1.5}, ValueError, "alpha: expected a finite number >= 0.0 and <= 1.0, got 1.5"),
    BadOption("iterations", {"iterations": -1}, ValueError, "iterations: expected a non-negative integer, got -1"),
    BadOption("iterations type", {"iterations": 2.5}, TypeError,
              "iterations: expected a non-negative integer, got float"),
    BadOption("smooth", {"smooth": -1.0}, ValueError, "smooth: expected a finite number >= 0.0, got -1.0"),
    BadOption("from_logits", {"from_logits": "no"}, TypeError,
              "from_logits: expected a bool (True or False), got 'no'"),
]

CASES = [
    LossCase(name="cldice_logits_2d", functional=soft_cldice_loss, module=SoftClDiceLoss,
             make_inputs=_inputs((2, 1, 6, 6), logits=True), kwargs={"iterations": 2},
             none_shape=lambda a: (a[0].shape[0],), bad_inputs=BAD, bad_options=BAD_OPTIONS),
    LossCase(name="cldice_probs_3d", functional=soft_cldice_loss, module=SoftClDiceLoss,
             make_inputs=_inputs((2, 2, 4, 5, 5), logits=False),
             kwargs={"from_logits": False, "alpha": 0.7, "smooth": 0.5},
             none_shape=lambda a: (a[0].shape[0],), identical=lambda a: (a[1], a[1]),
             bad_inputs=[BadInput("shape", replace_arg(1, lambda t: t[:, :1]), ValueError,
                                  "target: expected shape matching input (2, 2, 4, 5, 5), got (2, 1, 4, 5, 5)"),
                         *BAD[1:3]],
             bad_options=BAD_OPTIONS),
]


class TestClDiceStandard(StandardLossTests):
    cases = CASES


# ------------------------------------------------------------------------------------------- skeleton


CROSS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
SQUARE = tuple((di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1))


def _naive_window(x: torch.Tensor, offsets: tuple[tuple[int, int], ...], pick: type[min] | type[max]) -> torch.Tensor:
    """``pick`` (min or max) over the pixels at ``offsets`` from each pixel, those outside the image ignored
    (2-D, loops)."""
    out = x.clone()
    n, c, h, w = x.shape
    for b in range(n):
        for k in range(c):
            for i in range(h):
                for j in range(w):
                    out[b, k, i, j] = pick(x[b, k, i + di, j + dj] for di, dj in offsets
                                           if 0 <= i + di < h and 0 <= j + dj < w)
    return out


def _naive_erode(x: torch.Tensor) -> torch.Tensor:
    """Soft erosion: the minimum over the pixel and its 4 axis neighbours."""
    return _naive_window(x, CROSS, min)


def _naive_dilate(x: torch.Tensor) -> torch.Tensor:
    """Soft dilation: the maximum over the 3×3 square."""
    return _naive_window(x, SQUARE, max)


def _naive_skeleton(x: torch.Tensor, iterations: int) -> torch.Tensor:
    """Shit et al.'s Algorithm 1 as written (every erosion computed where the algorithm names it)."""
    relu = torch.relu
    skel = relu(x - _naive_dilate(_naive_erode(x)))
    for _ in range(iterations):
        x = _naive_erode(x)
        delta = relu(x - _naive_dilate(_naive_erode(x)))
        skel = skel + relu(delta - skel * delta)
    return skel


@pytest.mark.parametrize("iterations", [0, 1, 3])
def test_soft_skeleton_matches_a_naive_loop(iterations: int) -> None:
    x = torch.rand(2, 1, 7, 6, generator=torch.Generator().manual_seed(iterations), dtype=torch.float64)
    torch.testing.assert_close(soft_skeleton(x, iterations=iterations), _naive_skeleton(x, iterations))


@pytest.mark.parametrize("width", [3, 5, 7, 9])
def test_soft_skeleton_of_a_thick_line_converges_to_its_centre_line(width: int) -> None:
    """A bar of odd width w across the image: the skeleton is empty (or off-centre) with too few iterations
    and equals the centre row from k = (w − 1)/2 on, and stays there for more iterations."""
    side, top = 24, 12 - width // 2
    bar = torch.zeros(1, 1, side, side, dtype=torch.float64)
    bar[..., top:top + width, :] = 1
    centre = torch.zeros_like(bar)
    centre[..., 12, :] = 1
    errors = [float((soft_skeleton(bar, iterations=k) - centre).abs().sum()) for k in range(width + 3)]
    first = (width - 1) // 2
    assert all(e > 0 for e in errors[:first])
    assert all(e == 0 for e in errors[first:])
    vertical = soft_skeleton(bar.transpose(-1, -2), iterations=width)
    torch.testing.assert_close(vertical, centre.transpose(-1, -2))


def test_soft_skeleton_of_a_soft_ridge_peaks_on_the_centre_line_and_3d_tube() -> None:
    rows = torch.arange(24, dtype=torch.float64)
    ridge = torch.exp(-((rows - 11) ** 2) / (2 * 2.0**2)).view(1, 1, 24, 1).expand(1, 1, 24, 20).contiguous()
    skel = soft_skeleton(ridge, iterations=6)
    assert (skel[0, 0].argmax(dim=0) == 11).all()
    tube = torch.zeros(1, 1, 12, 11, 11, dtype=torch.float64)
    tube[..., 3:8, 3:8] = 1  # a rod of 5×5 section along the depth axis
    axis = torch.zeros_like(tube)
    axis[..., 5, 5] = 1
    torch.testing.assert_close(soft_skeleton(tube, iterations=3), axis)


# ------------------------------------------------------------------------------------------- MONAI


@pytest.mark.parametrize("shape", [(3, 1, 16, 16), (2, 1, 6, 10, 10), (2, 3, 12, 12)])
@pytest.mark.parametrize(("iterations", "smooth"), [(3, 1.0), (0, 1.0), (5, 0.5)])
def test_agrees_with_monai_soft_cldice(shape: tuple[int, ...], iterations: int, smooth: float) -> None:
    g = torch.Generator().manual_seed(sum(shape) + iterations)
    logits = torch.randn(*shape, generator=g, dtype=torch.float64) * 2
    target = (torch.rand(*shape, generator=g) > 0.6).double()
    kw = {"iter_": iterations, "smooth_nr": smooth, "smooth_dr": smooth, "smooth": 1e-4}
    ours = soft_cldice_loss(logits, target, iterations=iterations, smooth=smooth, eps=1e-4, alpha=1.0,
                            reduction="none")
    torch.testing.assert_close(ours, MonaiClDice(sigmoid=True, reduction="none", **kw)(logits, target))
    probs = torch.sigmoid(logits)
    ours_p = soft_cldice_loss(probs, target, iterations=iterations, smooth=smooth, eps=1e-4, alpha=1.0,
                              from_logits=False, check_range=True)
    torch.testing.assert_close(ours_p, MonaiClDice(**kw)(probs, target))
    if shape[1] == 1:  # MONAI's Dice averages per-channel scores; ours sums the channels (the same for one)
        combined = MonaiDiceClDice(sigmoid=True, alpha=0.3, **kw)(logits, target)
        torch.testing.assert_close(soft_cldice_loss(logits, target, iterations=iterations, smooth=smooth, eps=1e-4,
                                                    alpha=0.3), combined)


def test_soft_targets_agree_with_monai_and_parts_add_up() -> None:
    g = torch.Generator().manual_seed(7)
    probs = torch.rand(2, 1, 14, 14, generator=g, dtype=torch.float64)
    soft = torch.rand(2, 1, 14, 14, generator=g, dtype=torch.float64)
    torch.testing.assert_close(soft_cldice_loss(probs, soft, from_logits=False, alpha=1.0, eps=1e-4),
                               MonaiClDice()(probs, soft))
    parts = SoftClDiceLoss(from_logits=False, alpha=0.25)(probs, soft, return_parts=True)
    torch.testing.assert_close(parts.total, 0.75 * parts.dice + 0.25 * parts.cldice)


def test_our_module_does_not_modify_its_inputs_and_empty_maps_score_zero() -> None:
    empty = torch.zeros(1, 1, 8, 8)
    assert float(soft_cldice_loss(empty, empty, from_logits=False, smooth=0.0)) == 0.0
    full = torch.ones(1, 1, 8, 8)
    before = full.clone()
    soft_cldice_loss(full, full, from_logits=False)
    assert torch.equal(full, before)
