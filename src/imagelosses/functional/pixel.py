"""Pixel-wise losses: MSE, L1, Charbonnier and cross-entropy (multi-class and binary).

Conventions shared by every loss in this file:

- ``input`` is (N, C, *) with C channels (regression) or C class logits (classification); ``*`` is any
  number of spatial dimensions, typically (H, W). An empty batch is an error.
- A per-pixel ``weight`` map is (N, *) or (N, 1, *) and broadcast over channels, or exactly ``input``'s
  shape. A U-Net border map from :func:`imagelosses.functional.unet_weight_map` is such a map.
- ``reduction="mean"`` with weights divides by the **sum of the weights** of the counted elements, as
  ``torch.nn.functional.cross_entropy`` does (``weighted_mean="weight_sum"``, the weighted average), or
  by the **number** of counted elements (``weighted_mean="count"``). Ignored pixels count for nothing
  either way; when every pixel is ignored the loss is 0 with a zero gradient.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import (
    check_finite,
    check_floating,
    check_index_range,
    check_integer,
    check_ndim,
    check_nonempty,
    check_number,
    check_option,
    check_same_shape,
    check_tensor,
    fail,
    fmt_shape,
)
from .._reduction import check_reduction, reduce

WeightedMean = Literal["weight_sum", "count"]
ClassWeight = Tensor | Literal["balanced", "median_frequency"] | None
WEIGHTED_MEANS = ("weight_sum", "count")
CLASS_WEIGHT_MODES = ("balanced", "median_frequency")

__all__ = [
    "charbonnier_loss",
    "check_cross_entropy_options",
    "class_frequency_weights",
    "l1_loss",
    "mse_loss",
    "pixel_cross_entropy",
]


# --------------------------------------------------------------------------------------------- helpers
def _check_logits(input: Tensor, nan_check: bool) -> Tensor:
    check_floating(input, "input")
    check_ndim(input, "input", range(2, 8), "(N, C, *)")
    check_nonempty(input, "input")
    return check_finite(input, "input") if nan_check else input


def _pixel_weight(weight: Tensor | None, input: Tensor, *, per_channel: bool = True) -> Tensor | None:
    """A non-negative per-pixel map of shape (N, *) or (N, 1, *) (or input's (N, C, *) when ``per_channel``),
    returned broadcast to input's shape (``per_channel``) or as (N, *)."""
    if weight is None:
        return None
    check_floating(weight, "weight")
    given = fmt_shape(weight.shape)
    if weight.ndim == input.ndim - 1:
        weight = weight.unsqueeze(1)
    channels = (1, input.shape[1]) if per_channel else (1,)
    if weight.ndim != input.ndim or weight.shape[0] != input.shape[0] or weight.shape[2:] != input.shape[2:] or (
        weight.shape[1] not in channels
    ):
        fail("weight", f"a per-pixel map of shape (N, *) or (N, 1, *) matching input {fmt_shape(input.shape)}",
             f"shape {given}")
    if not torch.compiler.is_compiling() and weight.numel() and float(weight.min()) < 0:
        fail("weight", "a non-negative weight map", f"minimum {float(weight.min()):.4g}")
    return weight.expand_as(input) if per_channel else weight.squeeze(1)


def _weighted_reduce(
    values: Tensor, reduction: str, weighted_mean: str, weight: Tensor | None, count: Tensor | int
) -> Tensor:
    """``values`` are already weighted and zero where not counted; ``weight`` is the effective weight of
    each element (zero where not counted), ``count`` the number of counted elements."""
    denominator = weight.sum() if weight is not None and weighted_mean == "weight_sum" else count
    return reduce(values, reduction, denominator=denominator)


def _check_common(reduction: str, weighted_mean: str) -> None:
    check_reduction(reduction)
    check_option(weighted_mean, "weighted_mean", WEIGHTED_MEANS)


# ------------------------------------------------------------------------------------------ regression
def _regression(
    kind: str,
    input: Tensor,
    target: Tensor,
    weight: Tensor | None,
    reduction: str,
    weighted_mean: str,
    eps: float,
    nan_check: bool,
) -> Tensor:
    _check_common(reduction, weighted_mean)
    _check_logits(input, nan_check)
    check_floating(target, "target")
    check_same_shape(target, "target", input, "input")
    if nan_check:
        check_finite(target, "target")
    diff = input - target
    if kind == "mse":
        values = diff.square()
    elif kind == "l1":
        values = diff.abs()
    else:
        values = torch.sqrt(diff.square() + eps * eps)
    w = _pixel_weight(weight, input)
    if w is not None:
        values = values * w
    return _weighted_reduce(values, reduction, weighted_mean, w, values.numel())


def mse_loss(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    reduction: str = "mean",
    weighted_mean: str = "weight_sum",
    check_finite: bool = False,
) -> Tensor:
    """Squared error ``l = w·(x − y)²`` per element.

    ``"mean"`` divides by the number of elements, or with a ``weight`` map by ``Σ w`` over all elements
    (``weighted_mean="weight_sum"``) or their number (``"count"``).

    Shape:
        input, target: (N, C, *); weight: (N, *), (N, 1, *) or (N, C, *); output (N, C, *) for "none".

    Raises:
        TypeError: non-floating input/target/weight. ValueError: shapes that do not match, empty batch,
        NaN when ``check_finite``.

    Example:
        >>> x = torch.zeros(1, 1, 2, 2); y = torch.ones(1, 1, 2, 2)
        >>> float(mse_loss(x, y, weight=torch.tensor([[[1.0, 3.0], [0.0, 0.0]]])))
        1.0
    """
    return _regression("mse", input, target, weight, reduction, weighted_mean, 0.0, check_finite)


def l1_loss(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    reduction: str = "mean",
    weighted_mean: str = "weight_sum",
    check_finite: bool = False,
) -> Tensor:
    """Absolute error ``l = w·|x − y|`` per element; reductions as :func:`mse_loss`."""
    return _regression("l1", input, target, weight, reduction, weighted_mean, 0.0, check_finite)


def charbonnier_loss(
    input: Tensor,
    target: Tensor,
    *,
    eps: float = 1e-3,
    weight: Tensor | None = None,
    reduction: str = "mean",
    weighted_mean: str = "weight_sum",
    check_finite: bool = False,
) -> Tensor:
    """Charbonnier penalty ``l = w·sqrt((x − y)² + ε²)``, a differentiable L1 (LapSRN, ε = 1e-3).

    Equal inputs give ``ε`` per element, not 0; the gradient is finite everywhere for ``ε > 0``.
    Reductions as :func:`mse_loss`.

    References:
        Lai et al., "Deep Laplacian Pyramid Networks for Fast and Accurate Super-Resolution", CVPR 2017,
        arXiv 1704.03915.
    """
    check_number(eps, "eps", low=0.0, low_inclusive=False)
    return _regression("charbonnier", input, target, weight, reduction, weighted_mean, eps, check_finite)


# ------------------------------------------------------------------------------------- class weighting
def class_frequency_weights(counts: Tensor, mode: str) -> Tensor:
    """Class weights from per-class pixel counts ``n_c`` (absent classes get weight 0).

    - ``"balanced"`` (inverse frequency, scikit-learn's): ``w_c = n / (K·n_c)``, ``n = Σ n_c``, K the number
      of classes present; a batch with equal counts gets weight 1 for every class.
    - ``"median_frequency"`` (Eigen & Fergus 2015, arXiv 1411.4734): ``w_c = median_k(f_k) / f_c`` with
      ``f_c = n_c / n`` and the median over the classes present (mean of the two middle ones for even K).
    """
    check_option(mode, "class_weight", CLASS_WEIGHT_MODES)
    counts = counts.to(torch.float32)
    present = counts > 0
    safe = torch.where(present, counts, torch.ones_like(counts))
    n = counts.sum()
    k = present.sum()
    if mode == "balanced":
        w = n / (k.clamp_min(1) * safe)
    else:
        freq = torch.where(present, counts / n.clamp_min(1), torch.full_like(counts, float("inf")))
        ordered = freq.sort().values
        lo = ((k - 1).clamp_min(0) // 2).reshape(1)
        hi = (k // 2).clamp_max(counts.numel() - 1).reshape(1)
        median = 0.5 * (ordered.gather(0, lo) + ordered.gather(0, torch.where(k % 2 == 1, lo, hi)))
        w = median / (safe / n.clamp_min(1))
    return torch.where(present, w, torch.zeros_like(w))


def _resolve_class_weight(class_weight: ClassWeight, counts_fn, num_classes: int, like: Tensor) -> Tensor | None:
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        return class_frequency_weights(counts_fn(), class_weight).to(like.dtype)
    check_floating(class_weight, "class_weight")
    if class_weight.shape != (num_classes,):
        fail("class_weight", f"a tensor of shape ({num_classes},), one weight per class",
             f"shape {fmt_shape(class_weight.shape)}")
    if not torch.compiler.is_compiling() and bool((class_weight < 0).any()):
        fail("class_weight", "non-negative weights", class_weight.tolist())
    return class_weight.to(like.dtype)


def _check_class_weight_option(class_weight: ClassWeight) -> None:
    if isinstance(class_weight, str):
        check_option(class_weight, "class_weight", CLASS_WEIGHT_MODES)
    elif class_weight is not None:
        check_tensor(class_weight, "class_weight")


def split_target(input: Tensor, target: Tensor, ignore_index: int) -> tuple[Tensor, Tensor]:
    """Validate a classification ``target`` against ``input`` logits; return ``(safe, valid)``.

    Multi-class (C ≥ 2): ``target`` is integer (N, *) with indices in [0, C) or ``ignore_index``;
    ``safe`` is a long (N, *) copy with ignored pixels set to class 0 and ``valid`` the (N, *) mask.
    Binary (C = 1): ``target`` is floating (N, 1, *) or (N, *); ``safe`` is (N, 1, *) with ignored pixels
    set to 0 and ``valid`` the (N, 1, *) mask.
    """
    check_tensor(target, "target")
    if input.shape[1] == 1:
        if not target.is_floating_point():
            fail("target", "a floating-point tensor of 0/1 (or soft) labels for binary (N, 1, *) logits",
                 f"dtype {target.dtype}", exc=TypeError)
        if target.ndim == input.ndim - 1:
            target = target.unsqueeze(1)
        check_same_shape(target, "target", input, "input", layout="(N, 1, *) or (N, *)")
    else:
        if target.is_floating_point():
            fail("target", f"an integer tensor of class indices for {input.shape[1]}-class logits "
                 "(floating targets are for binary (N, 1, *) logits)", f"dtype {target.dtype}", exc=TypeError)
        check_integer(target, "target")
        expected = (input.shape[0], *input.shape[2:])
        if tuple(target.shape) != expected:
            fail("target", f"shape (N, *) = {fmt_shape(expected)} matching input {fmt_shape(input.shape)}",
                 fmt_shape(target.shape))
        target = target.long()
    valid = target != ignore_index
    safe = torch.where(valid, target, torch.zeros_like(target))
    if input.shape[1] > 1:
        check_index_range(safe, "target", input.shape[1], ignore_index)
    return safe, valid


# ------------------------------------------------------------------------------------- cross-entropy
def check_cross_entropy_options(
    class_weight: ClassWeight, label_smoothing: float, reduction: str, weighted_mean: str
) -> None:
    _check_common(reduction, weighted_mean)
    _check_class_weight_option(class_weight)
    check_number(label_smoothing, "label_smoothing", low=0.0, high=1.0, high_inclusive=False)


def pixel_cross_entropy(
    input: Tensor,
    target: Tensor,
    *,
    class_weight: ClassWeight = None,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    weighted_mean: str = "weight_sum",
    check_finite: bool = False,
) -> Tensor:
    """Per-pixel cross-entropy with class weights, a per-pixel weight map and ignored pixels.

    **Multi-class** (C ≥ 2 logits, integer ``target`` (N, *)): with ``p = softmax(x)``, class weights
    ``w_c``, smoothing ``ε`` and map ``m``, each counted pixel i gives
    ``l_i = m_i·[(1 − ε)·w_{y_i}·(−log p_{i,y_i}) + (ε/C)·Σ_c w_c·(−log p_{i,c})]``, exactly
    ``F.cross_entropy(..., reduction="none")`` times the map.

    **Binary** (C = 1 logit, floating ``target`` in [0, 1] of shape (N, 1, *) or (N, *)): with
    ``t' = (1 − ε)·t + ε/2`` and ``w = w_0·(1 − t) + w_1·t`` from a length-2 ``class_weight``
    (background, foreground), ``l_i = m_i·w_i·BCEWithLogits(x_i, t'_i)``.

    ``class_weight`` is a tensor, ``"balanced"`` (inverse class frequency in this batch) or
    ``"median_frequency"``; see :func:`class_frequency_weights`. Pixels whose target equals
    ``ignore_index`` contribute nothing.

    Reduction ``"mean"`` divides by the sum of the effective weights ``m_i·w_{y_i}`` of the counted pixels
    (PyTorch's convention, ``weighted_mean="weight_sum"``; without any weights this is the number of
    counted pixels) or by the number of counted pixels (``weighted_mean="count"``). All pixels ignored:
    0 with a zero gradient.

    Shape:
        input (N, C, *); target (N, *) integer for C ≥ 2, (N, 1, *) or (N, *) floating for C = 1;
        output (N, *) for "none" ((N, 1, *) for binary).

    Raises:
        TypeError: integer logits, floating targets with C ≥ 2, integer targets with C = 1.
        ValueError: mismatched shapes, class index out of range, negative or wrong-length class
        weights, a weight map of the wrong shape, empty batch, NaN in input when ``check_finite``.

    Example:
        >>> logits = torch.zeros(1, 4, 2, 2); target = torch.zeros(1, 2, 2, dtype=torch.long)
        >>> round(float(pixel_cross_entropy(logits, target)), 4)  # ln 4
        1.3863
    """
    check_cross_entropy_options(class_weight, label_smoothing, reduction, weighted_mean)
    _check_logits(input, check_finite)
    safe_target, valid = split_target(input, target, ignore_index)
    if input.shape[1] == 1:
        return _binary_cross_entropy(input, safe_target, valid, class_weight, weight, label_smoothing,
                                     reduction, weighted_mean)
    num_classes = input.shape[1]

    def counts() -> Tensor:
        flat = torch.zeros(num_classes, dtype=torch.float32, device=input.device)
        return flat.index_add(0, safe_target.flatten(), valid.flatten().float())

    cw = _resolve_class_weight(class_weight, counts, num_classes, input)
    values = F.cross_entropy(input, target.long(), weight=cw, ignore_index=ignore_index, reduction="none",
                             label_smoothing=label_smoothing)  # already 0 on ignored pixels
    eff = None if cw is None else cw.to(values.dtype).take(safe_target) * valid
    if weight is not None:
        pixel_map = _pixel_weight(weight, input, per_channel=False).to(values.dtype)
        values = values * pixel_map
        eff = pixel_map * valid if eff is None else eff * pixel_map
    return _weighted_reduce(values, reduction, weighted_mean, eff, valid.sum())


def _binary_cross_entropy(
    input: Tensor,
    t: Tensor,
    valid: Tensor,
    class_weight: ClassWeight,
    weight: Tensor | None,
    label_smoothing: float,
    reduction: str,
    weighted_mean: str,
) -> Tensor:
    def counts() -> Tensor:
        v = valid.float()
        return torch.stack([((1 - t.float()) * v).sum(), (t.float() * v).sum()])

    cw = _resolve_class_weight(class_weight, counts, 2, input)
    eff = valid.to(input.dtype)
    if cw is not None:
        eff = eff * (cw[0] * (1 - t) + cw[1] * t)
    if weight is not None:
        eff = eff * _pixel_weight(weight, input)
    smoothed = t * (1 - label_smoothing) + 0.5 * label_smoothing
    values = F.binary_cross_entropy_with_logits(input, smoothed, reduction="none") * eff
    return _weighted_reduce(values, reduction, weighted_mean, eff, valid.sum())
