"""Overlap losses from logits for rare, small structures: Tversky (and focal Tversky), generalized Dice,
Dice + cross-entropy (nnU-Net's default) and Lovász-softmax.

Conventions (those of :mod:`.segmentation`, whose kernels these losses build on):

- ``input`` is (N, C, *) logits: ``softmax`` over C ≥ 2 classes with an integer (N, *) ``target`` of class
  indices or (Tversky, generalized Dice, Dice + CE) a floating (N, C, *) ``target`` of class probabilities in
  [0, 1] (one-hot or soft: ``g`` in the formulas is then the target itself, and no pixel is ignored),
  ``sigmoid`` for C = 1 with a floating (N, 1, *) or (N, *) ``target`` in [0, 1]. Pixels whose target equals
  ``ignore_index`` count for nothing. An empty batch is an error.
- Probabilities, sums, sorts and cumulative sums run in at least float32 (counts in integers), so bf16/fp16
  inputs and autocast give the float32 values; the result keeps a half input's dtype. NaN/inf in the input
  gives NaN.
- Calling convention of the modules: ``loss(input, target)`` (Dice + CE: ``loss(input, target, weight=None)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from .._core.checks import check_prediction, eager, fail
from .._core.dtypes import at_least_float32, nan_if_nonfinite, wide_dtype
from .._core.module import OptionsLoss
from .._core.options import Options, number
from .._core.reduction import Reduction, WeightedMean, reduce
from .segmentation import (
    ClassAverage,
    ClassWeight,
    CrossEntropyOptions,
    DiceOptions,
    class_probabilities,
    cross_entropy_core,
    dice_core,
    overlap_ratio_loss,
    split_target,
)

__all__ = [
    "DiceCELoss",
    "DiceCEOptions",
    "GeneralizedDiceLoss",
    "GeneralizedDiceOptions",
    "LovaszClasses",
    "LovaszOptions",
    "LovaszSoftmaxLoss",
    "TverskyLoss",
    "TverskyOptions",
    "dice_ce_loss",
    "generalized_dice_loss",
    "lovasz_softmax_loss",
    "tversky_loss",
]

MeanOrSum = Literal["mean", "sum"]
LovaszClasses = Literal["present", "all"]


def _class_sums(probs: Tensor, batch_dice: bool) -> tuple[int, ...]:
    """The dimensions an overlap sums over: the pixels of each sample and class, and the batch with
    ``batch_dice``."""
    dims = tuple(range(2, probs.ndim))
    return (0, *dims) if batch_dice else dims


# ------------------------------------------------------------------------------------------- Tversky
@dataclass(frozen=True)
class TverskyOptions(Options):
    """The options of :func:`tversky_loss` and :class:`TverskyLoss`."""

    alpha: float = number(0.5, low=0.0)
    beta: float = number(0.5, low=0.0)
    gamma: float = number(1.0, low=0.0, low_inclusive=False)
    ignore_index: int = -100
    smooth: float = number(1e-5, low=0.0)
    include_background: bool = True
    batch_dice: bool = False
    reduction: Reduction = "mean"
    check_finite: bool = False

    def validate(self) -> None:
        if self.alpha + self.beta == 0:
            fail("beta", "alpha + beta > 0 (with both 0 the loss is 0 whatever the prediction)",
                 f"alpha={self.alpha!r}, beta={self.beta!r}")


def tversky_loss(input: Tensor, target: Tensor, *, alpha: float = 0.5, beta: float = 0.5, gamma: float = 1.0,
                 ignore_index: int = -100, smooth: float = 1e-5, include_background: bool = True,
                 batch_dice: bool = False, reduction: Reduction = "mean", check_finite: bool = False) -> Tensor:
    """Tversky loss, and focal Tversky with ``gamma``, from logits.

    With ``p = softmax(x)`` (``sigmoid`` for one channel), one-hot targets ``g`` and sums over the counted
    pixels of each sample and class: ``TP = Σ p·g``, ``FP = Σ p·(1 − g)``, ``FN = Σ (1 − p)·g`` and

    ``l = (1 − (TP + s) / (TP + α·FP + β·FN + s))^γ``.

    α weighs false positives, β false negatives: β > α favours recall (Salehi et al. use α = 0.3, β = 0.7);
    α = β = 0.5 is the Dice loss (exactly for ``s = 0``). ``γ = 1`` is the Tversky loss; the focal Tversky
    loss raises it to ``γ`` here — Abraham & Khan write the exponent as ``1/γ`` with ``γ ∈ [1, 3]``, so their
    γ = 4/3 is ``gamma=0.75`` here, the value in their code. Smoothing ``s`` = 1e-5 is MONAI's default
    (``smooth_nr = smooth_dr``). A class absent from both prediction and target (``TP + α·FP + β·FN = 0``) has
    loss 0 whatever ``s``. ``batch_dice`` sums over the batch too; ``include_background=False`` drops channel 0
    of a multi-class input. ``"mean"`` averages the per-sample, per-class values.

    Args:
        input: (N, C, *) logits. target: (N, *) class indices or (N, C, *) class probabilities (one-hot or soft)
            for C ≥ 2; (N, 1, *) or (N, *) in [0, 1] for C = 1.
        alpha, beta: the weights of FP and FN, ≥ 0, not both 0. gamma: the focal exponent γ > 0.
        ignore_index: target value of the pixels to leave out. smooth: ``s`` ≥ 0.
        include_background, batch_dice, reduction, check_finite: as :func:`~imagelosses.dice_loss`.

    Shape:
        output of "none": (N, C') or (C',) with ``batch_dice``; C' = C, or C − 1 without background.

    Raises:
        TypeError: integer logits, a target of the wrong dtype, an option of the wrong type. ValueError:
        mismatched shapes, class index out of range, binary targets or class probabilities outside [0, 1], empty
        batch, ``include_background=False`` with one channel, an option out of its range.

    References:
        Salehi, Erdogmus, Gholipour, "Tversky loss function for image segmentation using 3D fully convolutional
        deep networks", MLMI 2017, arXiv 1706.05721. Abraham & Khan, "A Novel Focal Tversky loss function with
        improved Attention U-Net for lesion segmentation", ISBI 2019, arXiv 1810.07842.

    Example:
        >>> logits = torch.tensor([[[[4.0, -4.0]]]])  # one channel: predicts the first pixel only
        >>> round(float(tversky_loss(logits, torch.tensor([[[1.0, 1.0]]]), alpha=0.3, beta=0.7)), 4)
        0.4118
    """
    return tversky_core(input, target, TverskyOptions.pick(locals()))


def tversky_core(input: Tensor, target: Tensor, options: TverskyOptions) -> Tensor:
    """The kernel of :func:`tversky_loss` from checked options (inputs are checked here)."""
    probs, onehot, mask = class_probabilities(input, target, options.ignore_index, options.include_background,
                                              options.check_finite)
    dims = _class_sums(probs, options.batch_dice)
    counted = probs * mask
    tp = (counted * onehot).sum(dims)
    fp = (counted - counted * onehot).sum(dims)
    fn = ((1.0 - probs) * onehot * mask).sum(dims)
    values = overlap_ratio_loss(tp, tp + options.alpha * fp + options.beta * fn, options.smooth)
    if options.gamma != 1.0:  # (1 − TI)^γ with a zero gradient, not an infinite one, where 1 − TI = 0
        positive = values > 0
        values = torch.where(positive, torch.where(positive, values, 1.0).pow(options.gamma), 0.0)
    return nan_if_nonfinite(reduce(values, options.reduction), input, target).to(input.dtype)


class TverskyLoss(OptionsLoss[TverskyOptions], function=tversky_loss):
    """Tversky (and focal Tversky) loss from logits, as a module.

    ``TverskyLoss(alpha=0.5, beta=0.5, gamma=1.0, ignore_index=-100, smooth=1e-5, include_background=True,
    batch_dice=False, reduction="mean", check_finite=False)``, called as ``loss(input, target)``; the math, the
    shapes and the errors are those of :func:`tversky_loss`. ``TverskyLoss(alpha=0.3, beta=0.7)`` on one-channel
    logits equals MONAI's ``TverskyLoss(sigmoid=True, alpha=0.3, beta=0.7)``.

    Example:
        >>> loss = TverskyLoss(alpha=0.3, beta=0.7, gamma=0.75)
        >>> round(float(loss(torch.tensor([[[[4.0, -4.0]]]]), torch.tensor([[[1.0, 1.0]]]))), 4)  # 0.4118 ** 0.75
        0.514
    """

    Options = TverskyOptions

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return tversky_core(input, target, self.current_options())


# ---------------------------------------------------------------------------------- generalized Dice
@dataclass(frozen=True)
class GeneralizedDiceOptions(Options):
    """The options of :func:`generalized_dice_loss` and :class:`GeneralizedDiceLoss`."""

    ignore_index: int = -100
    smooth: float = number(1e-5, low=0.0)
    include_background: bool = True
    batch_dice: bool = False
    reduction: Reduction = "mean"
    check_finite: bool = False


def generalized_dice_loss(input: Tensor, target: Tensor, *, ignore_index: int = -100, smooth: float = 1e-5,
                          include_background: bool = True, batch_dice: bool = False, reduction: Reduction = "mean",
                          check_finite: bool = False) -> Tensor:
    """Generalized Dice loss from logits, each class weighted by the inverse square of its volume.

    With ``p = softmax(x)`` (``sigmoid`` for one channel), one-hot targets ``r`` and sums ``Σ_n`` over the
    counted pixels of one sample (of the batch with ``batch_dice``):

    ``l = 1 − (2·Σ_c w_c·Σ_n r_cn·p_cn + s) / (Σ_c w_c·Σ_n (r_cn + p_cn) + s)``, ``w_c = 1 / (Σ_n r_cn)²``.

    A class absent from the target has an infinite weight; as MONAI does, it gets the largest finite weight
    of the sample's classes instead, so its false positives still count. A sample with no class present gets
    all weights 0 and loss 0 (with ``s = 0`` too). ``"mean"`` averages over the samples.

    Args:
        input: (N, C, *) logits. target: (N, *) class indices or (N, C, *) class probabilities (one-hot or soft)
            for C ≥ 2; (N, 1, *) or (N, *) in [0, 1] for C = 1.
        ignore_index, smooth, include_background, batch_dice, reduction, check_finite: as
            :func:`~imagelosses.dice_loss` (``s`` = 1e-5, MONAI's ``smooth_nr = smooth_dr``).

    Shape:
        output of "none": (N,), or () with ``batch_dice``.

    Raises:
        TypeError: integer logits, a target of the wrong dtype, an option of the wrong type. ValueError:
        mismatched shapes, class index out of range, binary targets or class probabilities outside [0, 1], empty
        batch, ``include_background=False`` with one channel, an option out of its range.

    References:
        Sudre, Li, Vercauteren, Ourselin, Cardoso, "Generalised Dice overlap as a deep learning loss function for
        highly unbalanced segmentations", DLMIA 2017, arXiv 1707.03237 (eq. 2; ``w_l = 1/(Σ_n r_ln)²``).

    Example:
        >>> logits = torch.tensor([[[[9.0, -9.0]], [[-9.0, 9.0]]]])  # (1, 2, 1, 2): right on both pixels
        >>> round(float(generalized_dice_loss(logits, torch.tensor([[[0, 1]]]))), 4)
        0.0
    """
    return generalized_dice_core(input, target, GeneralizedDiceOptions.pick(locals()))


def generalized_dice_core(input: Tensor, target: Tensor, options: GeneralizedDiceOptions) -> Tensor:
    """The kernel of :func:`generalized_dice_loss` from checked options (inputs are checked here)."""
    probs, onehot, mask = class_probabilities(input, target, options.ignore_index, options.include_background,
                                              options.check_finite)
    dims = _class_sums(probs, options.batch_dice)
    truth = onehot * mask
    intersection = (probs * truth).sum(dims)  # (N, C') or (C',)
    volume = truth.sum(dims)
    predicted = (probs * mask).sum(dims)
    present = volume > 0
    weight = torch.where(present, 1.0 / torch.where(present, volume, 1.0).square(), 0.0)
    weight = torch.where(present, weight, weight.amax(dim=-1, keepdim=True))  # absent: the largest finite weight
    numerator = 2.0 * (weight * intersection).sum(-1)
    denominator = (weight * (volume + predicted)).sum(-1)
    values = overlap_ratio_loss(numerator, denominator, options.smooth)
    return nan_if_nonfinite(reduce(values, options.reduction), input, target).to(input.dtype)


class GeneralizedDiceLoss(OptionsLoss[GeneralizedDiceOptions], function=generalized_dice_loss):
    """Generalized Dice loss from logits, as a module.

    ``GeneralizedDiceLoss(ignore_index=-100, smooth=1e-5, include_background=True, batch_dice=False,
    reduction="mean", check_finite=False)``, called as ``loss(input, target)``; the math, the shapes and the
    errors are those of :func:`generalized_dice_loss`. On multi-class logits and integer targets it equals
    MONAI's ``GeneralizedDiceLoss(softmax=True, to_onehot_y=True)``.

    Example:
        >>> loss = GeneralizedDiceLoss()
        >>> round(float(loss(torch.zeros(1, 2, 1, 2), torch.tensor([[[0, 1]]]))), 4)
        0.5
    """

    Options = GeneralizedDiceOptions

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return generalized_dice_core(input, target, self.current_options())


# ------------------------------------------------------------------------------------ Dice + CE
@dataclass(frozen=True)
class DiceCEOptions(DiceOptions, CrossEntropyOptions):
    """The options of :func:`dice_ce_loss` and :class:`DiceCELoss`: those of the Dice loss
    (:class:`~imagelosses.losses.segmentation.DiceOptions`), those of the cross-entropy
    (:class:`~imagelosses.losses.segmentation.CrossEntropyOptions`; ``ignore_index`` and ``check_finite``
    serve both), the two term weights, and a ``reduction`` of ``"mean"`` or ``"sum"``."""

    lambda_dice: float = number(1.0, low=0.0)
    lambda_ce: float = number(1.0, low=0.0)
    reduction: MeanOrSum = "mean"


def dice_ce_loss(input: Tensor, target: Tensor, *, weight: Tensor | None = None, lambda_dice: float = 1.0,
                 lambda_ce: float = 1.0, class_weight: ClassWeight = None, ignore_index: int = -100,
                 label_smoothing: float = 0.0, weighted_mean: WeightedMean = "weight_sum", smooth: float = 1e-5,
                 squared: bool = False, include_background: bool = True, batch_dice: bool = False,
                 class_average: ClassAverage = "macro", reduction: MeanOrSum = "mean",
                 check_finite: bool = False) -> Tensor:
    """Dice + cross-entropy, ``l = λ_dice·L_dice + λ_ce·L_CE``, nnU-Net's default loss.

    ``L_dice`` is :func:`~imagelosses.dice_loss` (soft Dice of ``softmax(x)``, ``sigmoid`` for one channel, with
    ``smooth``, ``squared``, ``include_background``, ``batch_dice``, ``class_average``) and ``L_CE`` is
    :func:`~imagelosses.pixel_cross_entropy` (softmax cross-entropy, binary cross-entropy for one channel, with
    ``class_weight``, the per-pixel ``weight`` map such as a U-Net border map, ``label_smoothing`` and
    ``weighted_mean``); ``ignore_index`` leaves a pixel out of both. ``"mean"`` is the sum of the two means
    (Dice: over samples and classes; CE: over the counted pixels, weighted as :func:`pixel_cross_entropy`
    says), ``"sum"`` the sum of the two sums. With the defaults it equals MONAI's
    ``DiceCELoss(softmax=True, to_onehot_y=True)`` (``sigmoid=True`` for one channel). nnU-Net uses Dice with
    ``batch_dice`` and without background and both weights 1.

    Args:
        input: (N, C, *) logits. target: (N, *) class indices or (N, C, *) class probabilities (one-hot or soft)
            for C ≥ 2; (N, 1, *) or (N, *) in [0, 1] for C = 1.
        weight: an optional (N, *) or (N, 1, *) per-pixel map for the cross-entropy term.
        lambda_dice, lambda_ce: the term weights, ≥ 0. reduction: ``"mean"`` or ``"sum"``.
        The other options: as :func:`~imagelosses.dice_loss` and :func:`~imagelosses.pixel_cross_entropy`.

    Shape:
        output: a scalar.

    Raises:
        The errors of :func:`~imagelosses.dice_loss` and :func:`~imagelosses.pixel_cross_entropy`.

    References:
        Isensee et al., "nnU-Net: a self-configuring method for deep learning-based biomedical image
        segmentation", Nature Methods 2021, arXiv 1809.10486; Milletari et al., arXiv 1606.04797.

    Example:
        >>> logits = torch.zeros(1, 2, 1, 2); target = torch.tensor([[[0, 1]]])
        >>> round(float(dice_ce_loss(logits, target)), 4)  # Dice 0.5 + ln 2
        1.1931
    """
    return dice_ce_core(input, target, weight, DiceCEOptions.pick(locals()))


def dice_ce_core(input: Tensor, target: Tensor, weight: Tensor | None, options: DiceCEOptions) -> Tensor:
    """The kernel of :func:`dice_ce_loss` from checked options: the two kernels, weighted and added."""
    dice = dice_core(input, target, options)
    ce = cross_entropy_core(input, target, weight, options)
    out = options.lambda_dice * at_least_float32(dice) + options.lambda_ce * at_least_float32(ce)
    return out.to(input.dtype)


class DiceCELoss(OptionsLoss[DiceCEOptions], function=dice_ce_loss):
    """Dice + cross-entropy (nnU-Net's default loss), as a module.

    ``DiceCELoss(class_weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean",
    weighted_mean="weight_sum", check_finite=False, smooth=1e-5, squared=False, include_background=True,
    batch_dice=False, class_average="macro", lambda_dice=1.0, lambda_ce=1.0)``, called as
    ``loss(input, target, weight=None)`` (``weight``: the per-pixel map of the CE term). ``DiceCELoss()`` equals
    MONAI's ``DiceCELoss(softmax=True, to_onehot_y=True)``; the math is that of :func:`dice_ce_loss`.

    Example:
        >>> loss = DiceCELoss(lambda_dice=0.0)  # cross-entropy alone
        >>> round(float(loss(torch.zeros(1, 2, 1, 2), torch.tensor([[[0, 1]]]))), 4)
        0.6931
    """

    Options = DiceCEOptions

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return dice_ce_core(input, target, weight, self.current_options())


# --------------------------------------------------------------------------------------- Lovász
@dataclass(frozen=True)
class LovaszOptions(Options):
    """The options of :func:`lovasz_softmax_loss` and :class:`LovaszSoftmaxLoss`."""

    per_image: bool = False
    classes: LovaszClasses = "present"
    ignore_index: int = -100
    reduction: Reduction = "mean"
    check_finite: bool = False


def lovasz_softmax_loss(input: Tensor, target: Tensor, *, per_image: bool = False, classes: LovaszClasses = "present",
                        ignore_index: int = -100, reduction: Reduction = "mean", check_finite: bool = False) -> Tensor:
    """Lovász-softmax loss from logits: the Lovász extension of the Jaccard loss, a convex surrogate of 1 − IoU.

    With ``p = softmax(x)`` and, for each class c, the errors ``m_i = |1{y_i = c} − p_{i,c}|`` of the counted
    pixels sorted in decreasing order ``m_(1) ≥ m_(2) ≥ …``: ``ΔJ_c = Σ_k m_(k)·g_k`` with
    ``g_k = J̄({(1), …, (k)}) − J̄({(1), …, (k − 1)})``, the Jaccard loss ``J̄(M) = 1 − |F \\ M| / |F ∪ M|`` of the
    set of the ``k`` largest errors against the class's pixels F. The ``g_k`` are computed in closed form from
    integer counts (``1/|F ∪ M_{k−1}|`` for a pixel of F, ``|F \\ M_{k−1}| / (|F ∪ M_k|·|F ∪ M_{k−1}|)``
    otherwise), with no cancellation at any image size. A class absent from the target gives its largest
    ``p_c``. The loss is the mean of ``ΔJ_c`` over the classes present in the target (``classes="present"``,
    the authors' default; none present gives 0) or over all classes (``"all"``, kornia's).

    ``per_image=False`` (the authors' default) sorts the pixels of the whole batch together and gives one value;
    ``per_image=True`` gives one value per image (an image without a counted pixel gives 0) and ``"mean"``
    averages them. ``per_image=True, classes="all"`` equals kornia's ``lovasz_softmax_loss``. One channel is
    the two classes background/foreground with ``p = (1 − σ(x), σ(x))`` and needs hard 0/1 targets.

    Args:
        input: (N, C, *) logits. target: (N, *) class indices for C ≥ 2; (N, 1, *) or (N, *) 0/1 for C = 1.
        per_image: one value per image instead of one over the batch.
        classes: ``"present"`` or ``"all"``: which classes are averaged.
        ignore_index: target value of the pixels to leave out. reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        check_finite: raise on NaN/inf logits instead of returning NaN.

    Shape:
        output of "none": (N,) with ``per_image``, () without.

    Raises:
        TypeError: integer logits, a target of the wrong dtype, an option of the wrong type. ValueError:
        mismatched shapes, class index out of range, soft or out-of-range binary targets, empty batch, an
        unknown option value.

    References:
        Berman, Rannen Triki, Blaschko, "The Lovász-Softmax loss: A tractable surrogate for the optimization of
        the intersection-over-union measure in neural networks", CVPR 2018, arXiv 1705.08790 (Algorithm 1).

    Example:
        >>> logits = torch.tensor([[[[0.0, 0.0]], [[0.0, 0.0]]]])  # (1, 2, 1, 2): p = 0.5 everywhere
        >>> float(lovasz_softmax_loss(logits, torch.tensor([[[0, 1]]])))
        0.5
    """
    return lovasz_core(input, target, LovaszOptions.pick(locals()))


def lovasz_core(input: Tensor, target: Tensor, options: LovaszOptions) -> Tensor:
    """The kernel of :func:`lovasz_softmax_loss` from checked options (inputs are checked here)."""
    check_prediction(input, options.check_finite)
    safe, valid = split_target(input, target, options.ignore_index, soft_targets=False)
    x = at_least_float32(input)
    if input.shape[1] == 1:  # sigmoid = the softmax of the logits (0, x): background and foreground
        if eager() and valid.any() and not bool(((safe == 0) | (safe == 1)).all()):
            fail("target", "hard 0/1 labels for the Lovász loss of one channel (it sorts pixels into foreground "
                 "and background)", "soft labels")
        x = torch.cat([torch.zeros_like(x), x], dim=1)
        safe, valid = safe.squeeze(1).long(), valid.squeeze(1)
    n, c = x.shape[:2]
    probs = torch.softmax(x, dim=1).reshape(n, c, -1)
    labels = torch.where(valid, safe, -1).reshape(n, 1, -1)  # -1: an ignored pixel, of no class
    counted = valid.reshape(n, 1, -1)
    if not options.per_image:  # one row of N·P pixels per class
        probs = probs.movedim(0, 1).reshape(1, c, -1)
        labels, counted = labels.reshape(1, 1, -1), counted.reshape(1, 1, -1)
    truth = (labels == torch.arange(c, device=x.device).view(1, c, 1)).to(probs.dtype)  # (B, C, P): 1{y = c}
    errors = (truth - probs).abs() * counted
    order = _descending_order(errors)
    errors = errors.gather(2, order)
    weights, present = _lovasz_gradient(truth.gather(2, order))
    values = (errors * weights).sum(2)  # (B, C)
    values = values + torch.where(present, 0.0, errors[..., 0])  # absent class: its largest error, max p_c
    if options.classes == "present":
        values = (values * present).sum(1) / present.sum(1).clamp_min(1)
    else:
        values = values.mean(1)
    values = values if options.per_image else values.squeeze(0)
    return nan_if_nonfinite(reduce(values, options.reduction), input).to(input.dtype)


def _descending_order(errors: Tensor) -> Tensor:
    """The indices that sort each row of ``errors`` (B, C, P), non-negative, in decreasing order.

    On the CPU, float32 rows are sorted as one 1-D int64 key ``row·2**31 + (2**31 − 1 − bits)``: the bits of a
    non-negative float32 order like its value, and torch sorts a long 1-D integer tensor by radix sort, several
    times faster than the comparison sort of the rows (ties may come in another order, which leaves the Lovász
    extension's value unchanged). Elsewhere, and for float64, ``torch.sort`` of the rows."""
    b, c, p = errors.shape
    if errors.device.type != "cpu" or errors.dtype != torch.float32:
        return torch.sort(errors.detach(), dim=2, descending=True).indices
    rows = torch.arange(b * c, device=errors.device).view(b, c, 1)
    key = (rows << 31) | (2**31 - 1 - errors.detach().view(torch.int32).to(torch.int64))
    return torch.sort(key.reshape(-1), stable=True).indices.view(b, c, p) - rows * p


def _lovasz_gradient(hits: Tensor) -> tuple[Tensor, Tensor]:
    r"""``(g, present)``: ``g_k`` of the Jaccard loss's Lovász extension for the sorted 0/1 ``hits`` (B, C, P),
    ``1/U`` for a pixel of F and ``I/(U·(U + 1))`` otherwise, with ``I = |F \ M_{k−1}|``, ``U = |F ∪ M_{k−1}|``,
    written ``(I + hit·k_1) / (U·(U + 1))`` (``U + 1 − I = k_1 = k``, the 1-based position) to need no select;
    0 for every k of an absent class (its first term is added by the caller); and whether F is not empty (B, C).
    The counts are exact: float32 holds integers up to 2**24, longer rows count in float64 (float32 on MPS)."""
    length, dtype = hits.shape[2], hits.dtype
    if length >= 2**24 and dtype != torch.float64:
        hits = hits.to(wide_dtype(hits.device))
    total = hits.sum(2, keepdim=True)
    position = torch.arange(1, length + 1, device=hits.device, dtype=hits.dtype)  # k
    missed = total - (hits.cumsum(2) - hits)  # I = |F| − |F ∩ M_{k−1}|
    union = missed + (position - 1.0)  # U = I + |M_{k−1}|
    weights = (missed + hits * position) / (union.clamp_min(1.0) * (union + 1.0))
    return weights.to(dtype), total.squeeze(2) > 0


class LovaszSoftmaxLoss(OptionsLoss[LovaszOptions], function=lovasz_softmax_loss):
    """Lovász-softmax loss from logits, as a module.

    ``LovaszSoftmaxLoss(per_image=False, classes="present", ignore_index=-100, reduction="mean",
    check_finite=False)``, called as ``loss(input, target)``; the math, the shapes and the errors are those of
    :func:`lovasz_softmax_loss`. ``LovaszSoftmaxLoss(per_image=True, classes="all")`` equals kornia's
    ``lovasz_softmax_loss``.

    Example:
        >>> loss = LovaszSoftmaxLoss(per_image=True, classes="all")
        >>> float(loss(torch.zeros(1, 2, 1, 2), torch.tensor([[[0, 1]]])))
        0.5
    """

    Options = LovaszOptions

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return lovasz_core(input, target, self.current_options())


