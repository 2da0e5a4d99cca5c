"""Pixel-wise regression and cross-entropy losses: the standard harness plus reference tests."""

from __future__ import annotations

import math
from typing import ClassVar

import pytest
import torch
import torch.nn.functional as F

import imagelosses as il
from imagelosses import functional as ilf
from tests._harness import BadInput, BadOption, LossCase, StandardLossTests
from tests.references import naive_pixel_cross_entropy

N, C, H, W = 3, 4, 5, 4


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def regression_inputs(dtype: torch.dtype, seed: int, scale: float):
    g = _gen(seed)
    x = torch.randn(N, 2, H, W, generator=g, dtype=dtype) * scale
    y = torch.randn(N, 2, H, W, generator=g, dtype=dtype) * scale
    m = torch.rand(N, H, W, generator=g, dtype=dtype) + 0.1
    return x, y, m


def multiclass_inputs(dtype: torch.dtype, seed: int, scale: float):
    g = _gen(seed)
    logits = torch.randn(N, C, H, W, generator=g, dtype=dtype) * scale
    target = torch.randint(0, C, (N, H, W), generator=g)
    target[0, 0, :2] = -100
    m = torch.rand(N, H, W, generator=g, dtype=dtype) + 0.1
    return logits, target, m


def binary_inputs(dtype: torch.dtype, seed: int, scale: float):
    g = _gen(seed)
    logits = torch.randn(N, 1, H, W, generator=g, dtype=dtype) * scale
    target = (torch.rand(N, 1, H, W, generator=g) > 0.6).to(dtype)
    target[0, 0, 0, :2] = -100
    m = torch.rand(N, H, W, generator=g, dtype=dtype) + 0.1
    return logits, target, m


def with_map(fn):
    """Pass the per-pixel map positionally, so the harness permutes it with the batch."""

    def call(x, y, m, **kwargs):
        return fn(x, y, weight=m, **kwargs)

    return call


def _weighted_mean_regression(none, inputs):
    return none.sum() / inputs[2].unsqueeze(1).expand_as(inputs[0]).sum()


CLASS_WEIGHT = torch.tensor([0.5, 2.0, 1.0, 3.0])


def _ce_mean(none, inputs):
    _, target, m = inputs
    valid = target != -100
    w = CLASS_WEIGHT.double()[target.clamp_min(0)] * m * valid
    return none.sum() / w.sum()


def _ce_binary_mean(none, inputs):
    _, target, m = inputs
    valid = target != -100
    return none.sum() / (m.unsqueeze(1) * valid).sum()


def _count_mean(none, inputs):
    return none.sum() / (inputs[1] != -100).sum()


REGRESSION_BAD = [
    BadInput("shape", lambda a: ((a[0], a[1][:, :1], a[2]), {}), ValueError,
             "target: expected shape matching input (3, 2, 5, 4), got (3, 1, 5, 4)"),
    BadInput("int input", lambda a: ((a[0].long(), a[1], a[2]), {}), TypeError,
             "input: expected a floating-point tensor, got dtype torch.int64"),
    BadInput("map shape", lambda a: ((a[0], a[1], a[2][:, :2]), {}), ValueError,
             "weight: expected a per-pixel map of shape (N, *), (N, 1, *) or (N, C, *) matching input "
             "(3, 2, 5, 4), got shape (3, 2, 4)"),
    BadInput("empty", lambda a: ((a[0][:0], a[1][:0], a[2][:0]), {}), ValueError,
             "input: expected a non-empty tensor, got shape (0, 2, 5, 4)"),
    BadInput("nan", lambda a: ((a[0].clone().fill_(float("nan")), a[1], a[2]), {"check_finite": True}),
             ValueError, "input: expected finite values, got 120 NaN or infinite entries"),
    BadInput("reduction", lambda a: (a, {"reduction": "avg"}), ValueError,
             "reduction: expected one of 'none', 'mean', 'sum', got 'avg'"),
    BadInput("weighted_mean", lambda a: (a, {"weighted_mean": "pixels"}), ValueError,
             "weighted_mean: expected one of 'weight_sum', 'count', got 'pixels'"),
]

CE_BAD = [
    BadInput("float target", lambda a: ((a[0], a[1].float(), a[2]), {}), TypeError,
             "target: expected an integer tensor of class indices for 4-class logits, or class probabilities of "
             "input's shape (3, 4, 5, 4) (floating (N, *) targets are for binary (N, 1, *) logits), got dtype "
             "torch.float32 shape (3, 5, 4)"),
    BadInput("int logits", lambda a: ((a[0].long(), a[1], a[2]), {}), TypeError,
             "input: expected a floating-point tensor, got dtype torch.int64"),
    BadInput("shape", lambda a: ((a[0], a[1][:, 0], a[2]), {}), ValueError,
             "target: expected shape (N, *) = (3, 5, 4) matching input (3, 4, 5, 4), got (3, 4)"),
    BadInput("index range", lambda a: ((a[0], a[1].clone().fill_(7), a[2]), {}), ValueError,
             "target: expected class indices in [0, 3] or ignore_index=-100, got index 7"),
    BadInput("negative index", lambda a: ((a[0], a[1].clone().fill_(-3), a[2]), {}), ValueError,
             "target: expected class indices in [0, 3] or ignore_index=-100, got index -3"),
    BadInput("negative class weight", lambda a: (a, {"class_weight": torch.tensor([1.0, -1.0, 1.0, 1.0])}),
             ValueError, "class_weight: expected finite, non-negative weights, got [1.0, -1.0, 1.0, 1.0]"),
    BadInput("nan class weight", lambda a: (a, {"class_weight": torch.tensor([1.0, float("nan"), 1.0, 1.0])}),
             ValueError, "class_weight: expected finite, non-negative weights, got [1.0, nan, 1.0, 1.0]"),
    BadInput("target device", lambda a: ((a[0], a[1].to("meta"), a[2]), {}), ValueError,
             "target: expected a tensor with data (meta tensors carry only a shape), got a tensor on the meta device"),
    BadInput("class weight length", lambda a: (a, {"class_weight": torch.ones(3)}), ValueError,
             "class_weight: expected a tensor of shape (4,), one weight per class, got shape (3,)"),
    BadInput("class weight mode", lambda a: (a, {"class_weight": "inverse"}), ValueError,
             "class_weight: expected one of 'balanced', 'median_frequency', got 'inverse'"),
    BadInput("map shape", lambda a: ((a[0], a[1], a[2][:1]), {}), ValueError,
             "weight: expected a per-pixel map of shape (N, *) or (N, 1, *) matching input (3, 4, 5, 4), "
             "got shape (1, 5, 4)"),
    BadInput("per-channel map", lambda a: ((a[0], a[1], a[2][:, None].expand(-1, 4, -1, -1)), {}), ValueError,
             "weight: expected a per-pixel map of shape (N, *) or (N, 1, *) matching input (3, 4, 5, 4), "
             "got shape (3, 4, 5, 4)"),
    BadInput("negative map", lambda a: ((a[0], a[1], torch.where(a[2] > 0.5, a[2], -0.5)), {}), ValueError,
             "weight: expected a non-negative weight map, got minimum -0.5"),
    BadInput("empty", lambda a: ((a[0][:0], a[1][:0], a[2][:0]), {}), ValueError,
             "input: expected a non-empty tensor, got shape (0, 4, 5, 4)"),
    BadInput("nan", lambda a: ((a[0].clone().index_fill_(0, torch.tensor([1]), float("nan")), a[1], a[2]),
                               {"check_finite": True}), ValueError,
             "input: expected finite values, got 80 NaN or infinite entries"),
    BadInput("smoothing", lambda a: (a, {"label_smoothing": 1.0}), ValueError,
             "label_smoothing: expected a finite number >= 0.0 and < 1.0, got 1.0"),
]

BINARY_BAD = [
    BadInput("int target", lambda a: ((a[0], a[1].long(), a[2]), {}), TypeError,
             "target: expected a floating-point tensor of 0/1 (or soft) labels for binary (N, 1, *) logits, "
             "got dtype torch.int64"),
    BadInput("shape", lambda a: ((a[0], a[1][:, :, :2], a[2]), {}), ValueError,
             "target: expected shape (N, 1, *) or (N, *) matching input (3, 1, 5, 4), got (3, 1, 2, 4)"),
    BadInput("0/255 mask", lambda a: ((a[0], a[1].clamp_min(0) * 255, a[2]), {}), ValueError,
             "target: expected binary labels in [0, 1] (a 0/255 mask: divide it by 255), got values in [0, 255]"),
    BadInput("negative labels", lambda a: ((a[0], a[1].clamp_min(0) - 1, a[2]), {}), ValueError,
             "target: expected binary labels in [0, 1], got values in [-1, 0]"),
    BadInput("int logits", lambda a: ((a[0].long(), a[1], a[2]), {}), TypeError,
             "input: expected a floating-point tensor, got dtype torch.int64"),
]

COMMON_OPTIONS = [
    BadOption("reduction", {"reduction": "avg"}, ValueError,
              "reduction: expected one of 'none', 'mean', 'sum', got 'avg'"),
    BadOption("check_finite as string", {"check_finite": "False"}, TypeError,
              "check_finite: expected a bool (True or False), got 'False'"),
    BadOption("weighted_mean", {"weighted_mean": "pixels"}, ValueError,
              "weighted_mean: expected one of 'weight_sum', 'count', got 'pixels'"),
]

CE_OPTIONS = [
    *COMMON_OPTIONS,
    BadOption("class weight mode", {"class_weight": "inverse"}, ValueError,
              "class_weight: expected one of 'balanced', 'median_frequency', got 'inverse'"),
    BadOption("nan class weight", {"class_weight": torch.tensor([1.0, float("nan")])}, ValueError,
              "class_weight: expected finite, non-negative weights, got [1.0, nan]"),
    BadOption("ignore_index float", {"ignore_index": 255.0}, TypeError, "ignore_index: expected an integer, got float"),
    BadOption("ignore_index None", {"ignore_index": None}, TypeError,
              "ignore_index: expected an integer, got NoneType"),
    BadOption("smoothing", {"label_smoothing": 1.0}, ValueError,
              "label_smoothing: expected a finite number >= 0.0 and < 1.0, got 1.0"),
]


def _regression_case(name, fn, module, **kwargs):
    return LossCase(
        name=name, functional=with_map(fn), module=module, make_inputs=regression_inputs, kwargs=kwargs,
        grad_argnums=(0, 1), none_shape=lambda a: a[0].shape, batch_args=(0, 1, 2),
        mean_of=None if kwargs.get("weighted_mean") == "count" else _weighted_mean_regression,
        identical=None if fn is ilf.charbonnier_loss else (lambda a: (a[0], a[0], a[2])),
        bad_inputs=REGRESSION_BAD,
        bad_options=[*COMMON_OPTIONS, BadOption("eps", {"eps": 0.0}, ValueError,
                                                "eps: expected a finite number > 0.0, got 0.0")]
        if fn is ilf.charbonnier_loss else COMMON_OPTIONS,
    )


class TestPixelLossHarness(StandardLossTests):
    cases: ClassVar[list[LossCase]] = [
        _regression_case("mse", ilf.mse_loss, il.MSELoss),
        _regression_case("l1_count", ilf.l1_loss, il.L1Loss, weighted_mean="count"),
        _regression_case("charbonnier", ilf.charbonnier_loss, il.CharbonnierLoss, eps=1e-3),
        LossCase(
            name="cross_entropy", functional=with_map(ilf.pixel_cross_entropy), module=il.PixelCrossEntropyLoss,
            make_inputs=multiclass_inputs, kwargs={"class_weight": CLASS_WEIGHT.double(), "label_smoothing": 0.1},
            none_shape=lambda a: a[1].shape, mean_of=_ce_mean, batch_args=(0, 1, 2), bad_inputs=CE_BAD,
            bad_options=CE_OPTIONS,
        ),
        LossCase(
            name="cross_entropy_balanced", functional=with_map(ilf.pixel_cross_entropy),
            module=il.PixelCrossEntropyLoss, make_inputs=multiclass_inputs,
            kwargs={"class_weight": "median_frequency", "weighted_mean": "count"},
            none_shape=lambda a: a[1].shape, mean_of=_count_mean, batch_args=(0, 1, 2), bad_inputs=CE_BAD[2:],
            bad_options=CE_OPTIONS,
        ),
        LossCase(
            name="cross_entropy_binary", functional=with_map(ilf.pixel_cross_entropy),
            module=il.PixelCrossEntropyLoss, make_inputs=binary_inputs, kwargs={"label_smoothing": 0.05},
            none_shape=lambda a: a[0].shape, mean_of=_ce_binary_mean, batch_args=(0, 1, 2), bad_inputs=BINARY_BAD,
            bad_options=CE_OPTIONS,
        ),
    ]


# ------------------------------------------------------------------------------------ reference tests
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("fn,ref", [(ilf.mse_loss, F.mse_loss), (ilf.l1_loss, F.l1_loss)])
def test_regression_matches_torch(fn, ref, reduction):
    x, y, _ = regression_inputs(torch.float64, 0, 1.0)
    torch.testing.assert_close(fn(x, y, reduction=reduction), ref(x, y, reduction=reduction))


def test_charbonnier_formula_and_weighted_mean():
    x, y, m = regression_inputs(torch.float64, 1, 1.0)
    eps = 1e-2
    per = torch.sqrt((x - y) ** 2 + eps**2)
    mm = m.unsqueeze(1).expand_as(x)
    torch.testing.assert_close(ilf.charbonnier_loss(x, y, eps=eps, weight=m), (per * mm).sum() / mm.sum())
    torch.testing.assert_close(
        ilf.charbonnier_loss(x, y, eps=eps, weight=m, weighted_mean="count"), (per * mm).sum() / per.numel()
    )
    # equal inputs give eps per element, and a finite gradient
    xx = x.clone().requires_grad_(True)
    out = ilf.charbonnier_loss(xx, x.detach(), eps=eps)
    out.backward()
    assert math.isclose(float(out.detach()), eps) and torch.isfinite(xx.grad).all()


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_cross_entropy_matches_torch(smoothing, weighted, reduction):
    logits, target, _ = multiclass_inputs(torch.float64, 2, 2.0)
    w = CLASS_WEIGHT.double() if weighted else None
    ours = ilf.pixel_cross_entropy(logits, target, class_weight=w, label_smoothing=smoothing, reduction=reduction)
    ref = F.cross_entropy(logits, target, weight=w, label_smoothing=smoothing, reduction=reduction)
    torch.testing.assert_close(ours, ref)


def test_cross_entropy_weight_map_matches_naive_loop():
    logits, target, m = multiclass_inputs(torch.float64, 3, 1.5)
    total, denom = naive_pixel_cross_entropy(logits, target, CLASS_WEIGHT, m, -100)
    ours_sum = ilf.pixel_cross_entropy(logits, target, class_weight=CLASS_WEIGHT.double(), weight=m, reduction="sum")
    ours_mean = ilf.pixel_cross_entropy(logits, target, class_weight=CLASS_WEIGHT.double(), weight=m)
    ours_count = ilf.pixel_cross_entropy(
        logits, target, class_weight=CLASS_WEIGHT.double(), weight=m, weighted_mean="count"
    )
    torch.testing.assert_close(ours_sum, total)
    torch.testing.assert_close(ours_mean, total / denom)
    torch.testing.assert_close(ours_count, total / (target != -100).sum())


def test_frequency_weights_match_definitions():
    target = torch.tensor([[[0, 0, 0, 0, 0, 0], [1, 1, 1, 2, 3, -100]]])
    counts = torch.tensor([6.0, 3.0, 1.0, 1.0, 0.0])  # class 4 absent
    n, k = counts.sum(), 4
    balanced = ilf.class_frequency_weights(counts, "balanced")
    torch.testing.assert_close(balanced, torch.tensor([n / (k * 6), n / (k * 3), n / k, n / k, 0.0]))
    freq = counts[:4] / n
    median = 0.5 * (sorted(freq.tolist())[1] + sorted(freq.tolist())[2])
    torch.testing.assert_close(
        ilf.class_frequency_weights(counts, "median_frequency"), torch.cat([median / freq, torch.zeros(1)])
    )
    odd = ilf.class_frequency_weights(torch.tensor([6.0, 3.0, 1.0]), "median_frequency")
    torch.testing.assert_close(odd, torch.tensor([3 / 6, 1.0, 3.0]))
    # "balanced" in the loss equals the explicit weights computed from the batch
    logits = torch.randn(1, 5, 2, 6, dtype=torch.float64)
    explicit = ilf.pixel_cross_entropy(logits, target, class_weight=balanced.double(), reduction="sum")
    torch.testing.assert_close(ilf.pixel_cross_entropy(logits, target, class_weight="balanced", reduction="sum"),
                               explicit)


def test_binary_class_weight_equals_pos_weight_on_hard_targets():
    logits, target, _ = binary_inputs(torch.float64, 4, 2.0)
    target = target.clamp_min(0)
    ours = ilf.pixel_cross_entropy(logits, target, class_weight=torch.tensor([1.0, 3.0]).double(), reduction="sum")
    ref = F.binary_cross_entropy_with_logits(logits, target, pos_weight=torch.tensor(3.0).double(), reduction="sum")
    torch.testing.assert_close(ours, ref)
    smoothed = ilf.pixel_cross_entropy(logits, target, label_smoothing=0.2)
    torch.testing.assert_close(smoothed, F.binary_cross_entropy_with_logits(logits, target * 0.8 + 0.1))
    # (N, *) targets are accepted for (N, 1, *) logits
    torch.testing.assert_close(ilf.pixel_cross_entropy(logits, target[:, 0]), ilf.pixel_cross_entropy(logits, target))


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_all_pixels_ignored_gives_zero_and_zero_grad(binary, class_weight):
    logits, target, m = (binary_inputs if binary else multiclass_inputs)(torch.float64, 5, 1.0)
    logits.requires_grad_(True)
    target = torch.full_like(target, -100)
    for reduction in ("mean", "sum"):
        out = ilf.pixel_cross_entropy(logits, target, weight=m, class_weight=class_weight, reduction=reduction)
        (grad,) = torch.autograd.grad(out, logits)
        assert float(out.detach()) == 0.0 and torch.count_nonzero(grad) == 0


@pytest.mark.parametrize("binary", [False, True])
def test_extreme_logits_are_finite(binary):
    logits, target, m = (binary_inputs if binary else multiclass_inputs)(torch.float32, 6, 1.0)
    logits = (torch.sign(logits) * 1e4).requires_grad_(True)
    out = ilf.pixel_cross_entropy(logits, target, weight=m, class_weight="balanced", label_smoothing=0.1)
    (grad,) = torch.autograd.grad(out, logits)
    assert torch.isfinite(out) and torch.isfinite(grad).all()


def test_module_moves_class_weight_and_validates_in_constructor():
    loss = il.PixelCrossEntropyLoss(class_weight=CLASS_WEIGHT).double()
    logits, target, _ = multiclass_inputs(torch.float64, 7, 1.0)
    torch.testing.assert_close(loss(logits, target), F.cross_entropy(logits, target, weight=CLASS_WEIGHT.double()))
    with pytest.raises(ValueError, match=r"reduction: expected one of 'none', 'mean', 'sum', got 'avg'"):
        il.PixelCrossEntropyLoss(reduction="avg")
    with pytest.raises(ValueError, match=r"eps: expected a finite number > 0.0, got 0.0"):
        il.CharbonnierLoss(eps=0.0)


def test_does_not_modify_inputs():
    logits, target, m = multiclass_inputs(torch.float64, 8, 1.0)
    copies = [t.clone() for t in (logits, target, m)]
    ilf.pixel_cross_entropy(logits, target, weight=m, class_weight="balanced", label_smoothing=0.1)
    for a, b in zip((logits, target, m), copies, strict=True):
        assert torch.equal(a, b)
