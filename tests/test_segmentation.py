"""Dice and focal losses: the standard harness plus references against MONAI, torchvision and kornia."""

from __future__ import annotations

import math
import re
from typing import ClassVar

import pytest
import torch
import torch.nn.functional as F

import imagelosses as il
from imagelosses import functional as ilf
from tests._harness import BadInput, BadOption, LossCase, StandardLossTests
from tests.test_pixel import BINARY_BAD, COMMON_OPTIONS, binary_inputs, multiclass_inputs


def two(fn):
    """Drop the per-pixel map the shared input makers return (Dice and focal take none)."""

    def call(x, y, *_, **kwargs):
        return fn(x, y, **kwargs)

    return call


def multiclass(dtype, seed, scale):
    return multiclass_inputs(dtype, seed, scale)[:2]


def binary(dtype, seed, scale):
    return binary_inputs(dtype, seed, scale)[:2]


def _count_mean(none, inputs):
    return none.sum() / (inputs[1] != -100).sum()


ALPHA = torch.tensor([0.25, 0.5, 0.75, 1.0], dtype=torch.float64)

FOCAL_BAD = [
    BadInput("gamma", lambda a: (a, {"gamma": -1.0}), ValueError, "gamma: expected a finite number >= 0.0, got -1.0"),
    BadInput("alpha length", lambda a: (a, {"alpha": torch.ones(3)}), ValueError,
             "alpha: expected a tensor of shape (4,), one weight per class, got shape (3,)"),
    BadInput("float target", lambda a: ((a[0], a[1].float()), {}), TypeError,
             "target: expected an integer tensor of class indices for 4-class logits"),
    BadInput("negative alpha", lambda a: (a, {"alpha": torch.tensor([0.25, -0.5, 0.75, 1.0])}), ValueError,
             "alpha: expected finite, non-negative weights, got [0.25, -0.5, 0.75, 1.0]"),
    BadInput("index range", lambda a: ((a[0], a[1].clamp_min(0) + 10), {}), ValueError,
             "target: expected class indices in [0, 3] or ignore_index=-100, got index 13"),
]

BINARY_PAIR_BAD = [BadInput(b.label, lambda a, make=b.make: (make((*a, None))[0][:2], {}), b.exc, b.message)
                   for b in BINARY_BAD]

SEG_OPTIONS = [opt for opt in COMMON_OPTIONS if "weighted_mean" not in opt.kwargs] + [
    BadOption("ignore_index float", {"ignore_index": 255.0}, TypeError, "ignore_index: expected an integer, got float"),
]
DICE_OPTIONS = [
    *SEG_OPTIONS,
    BadOption("smooth inf", {"smooth": float("inf")}, ValueError, "smooth: expected a finite number >= 0.0, got inf"),
    BadOption("class_average", {"class_average": "weighted"}, ValueError,
              "class_average: expected one of 'macro', 'micro', got 'weighted'"),
    BadOption("squared as string", {"squared": "False"}, TypeError,
              "squared: expected a bool (True or False), got 'False'"),
]
FOCAL_OPTIONS = [
    *SEG_OPTIONS,
    BadOption("gamma nan", {"gamma": float("nan")}, ValueError, "gamma: expected a finite number >= 0.0, got nan"),
    BadOption("alpha", {"alpha": 1.5}, ValueError, "alpha: expected a finite number >= 0.0 and <= 1.0, got 1.5"),
    BadOption("negative alpha per class", {"alpha": torch.tensor([0.5, -0.1])}, ValueError,
              "alpha: expected finite, non-negative weights, got [0.5, -0.10000000149011612]"),
]

DICE_BAD = [
    BadInput("smooth", lambda a: (a, {"smooth": -1.0}), ValueError,
             "smooth: expected a finite number >= 0.0, got -1.0"),
    BadInput("shape", lambda a: ((a[0], a[1][:, :2]), {}), ValueError,
             "target: expected shape (N, *) = (3, 5, 4) matching input (3, 4, 5, 4), got (3, 2, 4)"),
    BadInput("empty", lambda a: ((a[0][:0], a[1][:0]), {}), ValueError,
             "input: expected a non-empty tensor, got shape (0, 4, 5, 4)"),
]


class TestSegmentationHarness(StandardLossTests):
    cases: ClassVar[list[LossCase]] = [
        LossCase(name="dice", functional=ilf.dice_loss, module=il.DiceLoss, make_inputs=multiclass,
                 kwargs={"include_background": False}, none_shape=lambda a: (a[0].shape[0], a[0].shape[1] - 1),
                 bad_inputs=DICE_BAD, bad_options=DICE_OPTIONS),
        LossCase(name="dice_batch_squared", functional=ilf.dice_loss, module=il.DiceLoss, make_inputs=multiclass,
                 kwargs={"batch_dice": True, "squared": True}, none_shape=lambda a: (a[0].shape[1],),
                 bad_inputs=DICE_BAD, bad_options=DICE_OPTIONS),
        LossCase(name="dice_micro", functional=ilf.dice_loss, module=il.DiceLoss, make_inputs=multiclass,
                 kwargs={"class_average": "micro"}, none_shape=lambda a: (a[0].shape[0],),
                 bad_inputs=DICE_BAD, bad_options=DICE_OPTIONS),
        LossCase(name="dice_binary", functional=ilf.dice_loss, module=il.DiceLoss, make_inputs=binary,
                 none_shape=lambda a: (a[0].shape[0], 1), bad_inputs=BINARY_PAIR_BAD, bad_options=DICE_OPTIONS),
        LossCase(name="focal", functional=ilf.focal_loss, module=il.FocalLoss, make_inputs=multiclass,
                 kwargs={"alpha": ALPHA}, none_shape=lambda a: a[1].shape, mean_of=_count_mean,
                 bad_inputs=FOCAL_BAD, bad_options=FOCAL_OPTIONS),
        LossCase(name="focal_binary", functional=ilf.focal_loss, module=il.FocalLoss, make_inputs=binary,
                 kwargs={"alpha": 0.25, "gamma": 1.5}, none_shape=lambda a: a[0].shape,
                 mean_of=_count_mean, bad_inputs=BINARY_PAIR_BAD, bad_options=FOCAL_OPTIONS),
    ]


# ------------------------------------------------------------------------------------------ Dice
@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("batch_dice", [False, True])
def test_dice_matches_monai(include_background, squared, batch_dice):
    from monai.losses import DiceLoss as MonaiDice

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 6, 5, generator=g, dtype=torch.float64)
    target = torch.randint(0, 3, (2, 6, 5), generator=g)
    ref = MonaiDice(include_background=include_background, to_onehot_y=True, softmax=True, squared_pred=squared,
                    batch=batch_dice, smooth_nr=1e-5, smooth_dr=1e-5, reduction="none")(logits, target[:, None])
    ours = ilf.dice_loss(logits, target, include_background=include_background, squared=squared,
                         batch_dice=batch_dice, reduction="none")
    torch.testing.assert_close(ours, ref.reshape(ours.shape))


def test_dice_binary_matches_monai_sigmoid():
    from monai.losses import DiceLoss as MonaiDice

    logits, target = binary(torch.float64, 1, 2.0)
    target = target.clamp_min(0)
    ref = MonaiDice(sigmoid=True, smooth_nr=1e-5, smooth_dr=1e-5, reduction="none")(logits, target)
    torch.testing.assert_close(ilf.dice_loss(logits, target, reduction="none"), ref.reshape(3, 1))


def test_dice_ignores_pixels_and_perfect_prediction_is_zero():
    target = torch.tensor([[[0, 1], [2, 1]]])
    logits = F.one_hot(target, 3).movedim(-1, 1).double() * 40 - 20
    assert float(ilf.dice_loss(logits, target)) < 1e-6
    # corrupting an ignored pixel's logits changes nothing
    ignored = target.clone()
    ignored[0, 0, 0] = -100
    noisy = logits.clone()
    noisy[0, :, 0, 0] = torch.tensor([-20.0, 20.0, 20.0])
    torch.testing.assert_close(ilf.dice_loss(noisy, ignored), ilf.dice_loss(logits, ignored))
    everything = torch.full_like(target, -100)
    x = logits.clone().requires_grad_(True)
    out = ilf.dice_loss(x, everything)
    (grad,) = torch.autograd.grad(out, x)
    assert float(out.detach()) == 0.0 and torch.count_nonzero(grad) == 0


# ----------------------------------------------------------------------------------------- focal
def test_focal_binary_matches_torchvision():
    from torchvision.ops import sigmoid_focal_loss

    logits, target = binary(torch.float64, 2, 3.0)
    target = target.clamp_min(0)
    for alpha, gamma in [(0.25, 2.0), (-1, 0.5), (0.9, 0.0)]:
        ours = ilf.focal_loss(logits, target, alpha=None if alpha < 0 else alpha, gamma=gamma, reduction="none")
        ref = sigmoid_focal_loss(logits, target, alpha=alpha, gamma=gamma, reduction="none")
        torch.testing.assert_close(ours, ref)


def test_focal_multiclass_matches_kornia_and_reduces_to_cross_entropy():
    from kornia.losses import focal_loss as kornia_focal

    logits, target = multiclass(torch.float64, 3, 2.0)
    target = target.clamp_min(0)
    # kornia's scalar alpha weights class 0 by 1 − α and the others by α; its `weight` is per class
    kornia_alpha = torch.tensor([0.7, 0.3, 0.3, 0.3], dtype=torch.float64)
    for ours_alpha, kwargs in [(kornia_alpha, {"alpha": 0.3}), (ALPHA, {"alpha": None, "weight": ALPHA})]:
        ours = ilf.focal_loss(logits, target, alpha=ours_alpha, reduction="sum")
        torch.testing.assert_close(ours, kornia_focal(logits, target, gamma=2.0, reduction="sum", **kwargs))
    torch.testing.assert_close(ilf.focal_loss(logits, target, gamma=0.0), F.cross_entropy(logits, target))


def test_focal_naive_formula_with_ignore():
    logits, target = multiclass(torch.float64, 4, 1.0)
    p = torch.softmax(logits, 1)
    total, count = 0.0, 0
    for n in range(target.shape[0]):
        for i in range(target.shape[1]):
            for j in range(target.shape[2]):
                y = int(target[n, i, j])
                if y == -100:
                    continue
                pt = float(p[n, y, i, j])
                total += -float(ALPHA[y]) * (1 - pt) ** 2 * torch.log(torch.tensor(pt, dtype=torch.float64))
                count += 1
    torch.testing.assert_close(ilf.focal_loss(logits, target, alpha=ALPHA), total / count)


@pytest.mark.parametrize("binary_case", [False, True])
@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_focal_extreme_logits_finite(binary_case, gamma):
    logits, target = (binary if binary_case else multiclass)(torch.float32, 5, 1.0)
    x = (torch.sign(logits) * 1e4).requires_grad_(True)
    out = ilf.focal_loss(x, target, gamma=gamma)
    (grad,) = torch.autograd.grad(out, x)
    assert torch.isfinite(out) and torch.isfinite(grad).all()
    # confident and right → 0; confident and wrong → about |logit| per pixel
    right = target.clamp_min(0)
    if binary_case:
        sure = (right * 2 - 1) * 1e4
        assert float(ilf.focal_loss(sure, right)) == 0.0
        assert float(ilf.focal_loss(-sure, right, gamma=gamma)) == pytest.approx(1e4, rel=1e-6)
    else:
        sure = F.one_hot(right, 4).movedim(-1, 1).float() * 1e4
        assert float(ilf.focal_loss(sure, right)) == 0.0


# ------------------------------------------------------------------------------- probability targets
def _soft(n: int = 2, c: int = 3, side: int = 5, seed: int = 0, dtype: torch.dtype = torch.float64):
    """Logits and a soft target (N, C, H, W) of class probabilities, each pixel's summing to 1."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, side, side + 1, generator=g, dtype=dtype) * 2
    target = torch.softmax(torch.randn(n, c, side, side + 1, generator=g, dtype=dtype) * 2, 1)
    return logits, target


def _one_hot(labels, c):
    return F.one_hot(labels, c).movedim(-1, 1).double()


DICE_CONFIGS = [{}, {"include_background": False}, {"squared": True}, {"batch_dice": True},
                {"class_average": "micro"}, {"class_average": "micro", "batch_dice": True, "smooth": 0.0}]
FOCAL_CONFIGS = [{}, {"gamma": 0.0}, {"gamma": 0.5, "alpha": ALPHA[:3]}]


@pytest.mark.parametrize("kwargs", DICE_CONFIGS, ids=str)
def test_dice_one_hot_float_target_equals_integer_labels(kwargs):
    logits, _ = _soft()
    labels = torch.randint(0, 3, (2, 5, 6), generator=torch.Generator().manual_seed(1))
    for reduction in ("none", "mean"):
        expected = ilf.dice_loss(logits, labels, reduction=reduction, **kwargs)
        torch.testing.assert_close(ilf.dice_loss(logits, _one_hot(labels, 3), reduction=reduction, **kwargs), expected)
        torch.testing.assert_close(il.DiceLoss(reduction=reduction, **kwargs)(logits, _one_hot(labels, 3)), expected)


@pytest.mark.parametrize("kwargs", FOCAL_CONFIGS, ids=str)
def test_focal_one_hot_float_target_equals_integer_labels(kwargs):
    logits, _ = _soft()
    labels = torch.randint(0, 3, (2, 5, 6), generator=torch.Generator().manual_seed(2))
    for reduction in ("none", "mean", "sum"):
        expected = ilf.focal_loss(logits, labels, reduction=reduction, **kwargs)
        torch.testing.assert_close(ilf.focal_loss(logits, _one_hot(labels, 3), reduction=reduction, **kwargs),
                                   expected)
        torch.testing.assert_close(il.FocalLoss(reduction=reduction, **kwargs)(logits, _one_hot(labels, 3)), expected)


def _naive_soft_dice(logits, target, squared=False, smooth=1e-5):
    """One score per (sample, class), by loops over the pixels."""
    p = torch.softmax(logits, 1)
    n, c = logits.shape[:2]
    out = torch.zeros(n, c, dtype=torch.float64)
    k = 2 if squared else 1
    for b in range(n):
        for j in range(c):
            inter = den = 0.0
            for pv, tv in zip(p[b, j].flatten().tolist(), target[b, j].flatten().tolist(), strict=True):
                inter += pv * tv
                den += pv**k + tv**k
            out[b, j] = 1 - (2 * inter + smooth) / (den + smooth)
    return out


def _naive_soft_focal(logits, target, gamma, alpha=None):
    """−Σ_c t_c·α_c·(1 − p_c)^γ·log p_c per pixel, by loops."""
    p = torch.softmax(logits, 1)
    n, c, h, w = logits.shape
    out = torch.zeros(n, h, w, dtype=torch.float64)
    for b in range(n):
        for i in range(h):
            for j in range(w):
                for k in range(c):
                    a = 1.0 if alpha is None else float(alpha[k])
                    pk = float(p[b, k, i, j])
                    out[b, i, j] -= float(target[b, k, i, j]) * a * (1 - pk) ** gamma * math.log(pk)
    return out


@pytest.mark.parametrize("squared", [False, True])
def test_dice_soft_target_matches_naive_loop(squared):
    logits, target = _soft(seed=3)
    torch.testing.assert_close(ilf.dice_loss(logits, target, squared=squared, reduction="none"),
                               _naive_soft_dice(logits, target, squared))


@pytest.mark.parametrize(("gamma", "alpha"), [(2.0, None), (1.5, ALPHA[:3])])
def test_focal_soft_target_matches_naive_loop(gamma, alpha):
    logits, target = _soft(seed=4)
    ours = ilf.focal_loss(logits, target, gamma=gamma, alpha=alpha, reduction="none")
    torch.testing.assert_close(ours, _naive_soft_focal(logits, target, gamma, alpha))
    torch.testing.assert_close(ilf.focal_loss(logits, target, gamma=gamma, alpha=alpha), ours.mean())  # all pixels


@pytest.mark.parametrize("loss", [ilf.dice_loss, ilf.focal_loss], ids=["dice", "focal"])
def test_soft_target_gradcheck(loss):
    logits, target = _soft(n=1, side=3, seed=5)
    x, t = logits.requires_grad_(True), target.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: loss(a, b, reduction="sum"), (x, t), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("loss", [ilf.dice_loss, ilf.focal_loss, ilf.pixel_cross_entropy],
                         ids=["dice", "focal", "cross_entropy"])
def test_bad_probability_targets_are_refused_as_the_message_says(loss):
    logits, target = _soft(seed=6, dtype=torch.float32)
    with pytest.raises(TypeError, match=re.escape(
            "target: expected an integer tensor of class indices for 3-class logits, or class probabilities of "
            "input's shape (2, 3, 5, 6) (floating (N, *) targets are for binary (N, 1, *) logits), got dtype "
            "torch.float32 shape (2, 3, 5, 5)")):
        loss(logits, target[..., :5])
    bad = target.clone()
    bad[0, 0, 0, 0], bad[1, 1, 1, 1] = -0.5, 1.5
    with pytest.raises(ValueError, match=re.escape(
            "target: expected class probabilities in [0, 1] of input's shape (2, 3, 5, 6), got values in [-0.5, 1.5]")):
        loss(logits, bad)


@pytest.mark.parametrize("loss", [ilf.dice_loss, ilf.focal_loss], ids=["dice", "focal"])
def test_probability_target_nan_gives_nan_and_ignores_no_pixel(loss):
    logits, target = _soft(seed=7, dtype=torch.float32)
    for ignore_index in (-100, 0, 1):  # no index in a probability target: nothing to ignore
        torch.testing.assert_close(loss(logits, target, ignore_index=ignore_index), loss(logits, target))
    target[0, 1, 2, 3] = float("nan")
    assert torch.isnan(loss(logits, target))


def test_soft_dice_compiles():
    torch._dynamo.reset()
    logits, target = _soft(seed=8, dtype=torch.float32)
    module = il.DiceLoss()
    compiled = torch.compile(module, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(logits, target), module(logits, target))
