"""Segmentation losses computed from logits: soft Dice and focal.

Both take the same inputs as :func:`~imagelosses.functional.pixel_cross_entropy`: (N, C, *) logits with
integer (N, *) targets for C ≥ 2 classes, or (N, 1, *) logits with floating targets in [0, 1] for binary
segmentation; pixels whose target equals ``ignore_index`` count for nothing. Probabilities and sums are
computed in at least float32, so bf16/fp16 autocast gives the same finite values.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import (
    check_floating,
    check_number,
    fail,
    fmt_shape,
)
from .._dtypes import at_least_float32
from .._reduction import check_reduction, reduce
from .pixel import _check_logits, split_target

__all__ = ["check_dice_options", "check_focal_options", "dice_loss", "focal_loss"]


def check_dice_options(smooth: float, reduction: str) -> None:
    check_reduction(reduction)
    check_number(smooth, "smooth", low=0.0)


def dice_loss(
    input: Tensor,
    target: Tensor,
    *,
    ignore_index: int = -100,
    smooth: float = 1e-5,
    squared: bool = False,
    include_background: bool = True,
    batch_dice: bool = False,
    reduction: str = "mean",
    check_finite: bool = False,
) -> Tensor:
    """Soft Dice loss from logits, per sample and class.

    With ``p = softmax(x)`` (``sigmoid`` for one channel), one-hot targets ``g`` and the counted pixels Ω,
    ``l_{n,c} = 1 − (2·Σ_Ω p·g + s) / (Σ_Ω p^k + Σ_Ω g^k + s)`` with ``k = 2`` when ``squared`` (V-Net's
    denominator) else ``k = 1``, and smoothing ``s`` in numerator and denominator (a class absent from
    both prediction and target scores 0 loss). ``batch_dice`` sums over the batch too (one score per
    class); ``include_background=False`` drops channel 0 (multi-class only).

    ``"mean"`` averages over the (N, C) scores (the C scores with ``batch_dice``).

    Shape:
        output of "none": (N, C') or (C',) with ``batch_dice``, C' = C or C − 1 without background.

    References:
        Milletari et al., "V-Net", 3DV 2016, arXiv 1606.04797; Sudre et al., "Generalised Dice overlap",
        DLMIA 2017, arXiv 1707.03237.

    Example:
        >>> logits = torch.tensor([[[[-20.0, 20.0]], [[20.0, -20.0]]]])  # (1, 2, 1, 2)
        >>> float(dice_loss(logits, torch.tensor([[[1, 0]]])))
        0.0
    """
    check_dice_options(smooth, reduction)
    _check_logits(input, check_finite)
    safe, valid = split_target(input, target, ignore_index)
    x = at_least_float32(input)
    if input.shape[1] == 1:
        probs, onehot, mask = torch.sigmoid(x), safe.to(x.dtype), valid.to(x.dtype)
    else:
        probs = torch.softmax(x, dim=1)
        onehot = F.one_hot(safe, input.shape[1]).movedim(-1, 1).to(x.dtype)
        mask = valid.unsqueeze(1).to(x.dtype)
        if not include_background:
            probs, onehot = probs[:, 1:], onehot[:, 1:]
    dims = tuple(range(2, x.ndim))
    if batch_dice:
        dims = (0, *dims)
    power = 2 if squared else 1
    intersection = (probs * onehot * mask).sum(dims)
    denominator = ((probs**power) * mask).sum(dims) + ((onehot**power) * mask).sum(dims)
    values = 1.0 - (2.0 * intersection + smooth) / (denominator + smooth).clamp_min(torch.finfo(x.dtype).tiny)
    return reduce(values, reduction)


def check_focal_options(gamma: float, alpha: float | Tensor | None, reduction: str) -> None:
    check_reduction(reduction)
    check_number(gamma, "gamma", low=0.0)
    if isinstance(alpha, Tensor):
        check_floating(alpha, "alpha")
    elif alpha is not None:
        check_number(alpha, "alpha", low=0.0, high=1.0)


def focal_loss(
    input: Tensor,
    target: Tensor,
    *,
    gamma: float = 2.0,
    alpha: float | Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    check_finite: bool = False,
) -> Tensor:
    """Focal loss ``l = −α_t·(1 − p_t)^γ·log p_t`` from logits, numerically stable.

    ``log p_t`` comes from ``log_softmax`` (multi-class) or ``binary_cross_entropy_with_logits``
    (binary); ``1 − p_t`` is computed without cancellation (``−expm1(log p_t)``, or
    ``σ(x)(1 − t) + σ(−x)t`` for binary), so logits of ±1e4 give finite values and gradients. ``α_t`` is
    ``alpha[y]`` for a per-class tensor (multi-class) or ``α·t + (1 − α)(1 − t)`` for a float (binary,
    0.25 in the paper); ``None`` means no weighting. ``γ = 0`` with no ``alpha`` is cross-entropy.

    ``"mean"`` divides by the number of counted (non-ignored) pixels; torchvision's
    ``sigmoid_focal_loss`` divides by all elements, the same when nothing is ignored.

    Shape:
        output of "none": (N, *) multi-class, (N, 1, *) binary.

    References:
        Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, arXiv 1708.02002.
    """
    check_focal_options(gamma, alpha, reduction)
    _check_logits(input, check_finite)
    safe, valid = split_target(input, target, ignore_index)
    x = at_least_float32(input)
    if input.shape[1] == 1:
        t = safe.to(x.dtype)
        ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
        one_minus_pt = torch.sigmoid(x) * (1 - t) + torch.sigmoid(-x) * t
        alpha_t = None if alpha is None else _binary_alpha(alpha, t)
    else:
        logpt = torch.log_softmax(x, dim=1).gather(1, safe.unsqueeze(1)).squeeze(1)
        ce = -logpt
        one_minus_pt = -torch.expm1(logpt)
        alpha_t = None if alpha is None else _class_alpha(alpha, input.shape[1], x)[safe]
    values = one_minus_pt.clamp_min(1e-12).pow(gamma) * ce
    if alpha_t is not None:
        values = values * alpha_t
    values = values * valid.to(x.dtype)
    return reduce(values, reduction, denominator=valid.sum())


def _binary_alpha(alpha: float | Tensor, t: Tensor) -> Tensor:
    if isinstance(alpha, Tensor):
        fail("alpha", "a float in [0, 1] for binary (N, 1, *) logits", f"a tensor of shape {fmt_shape(alpha.shape)}",
             exc=TypeError)
    return alpha * t + (1 - alpha) * (1 - t)


def _class_alpha(alpha: float | Tensor, num_classes: int, like: Tensor) -> Tensor:
    if not isinstance(alpha, Tensor) or alpha.shape != (num_classes,):
        got = f"shape {fmt_shape(alpha.shape)}" if isinstance(alpha, Tensor) else repr(alpha)
        fail("alpha", f"a tensor of shape ({num_classes},), one weight per class", got)
    return alpha.to(like.dtype)
