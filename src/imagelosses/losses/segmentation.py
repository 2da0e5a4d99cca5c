"""Segmentation losses from logits: per-pixel cross-entropy (multi-class and binary) with class weights,
soft Dice and focal.

Conventions shared by every loss in this file:

- ``input`` is (N, C, *) logits; C ≥ 2 classes take an integer (N, *) ``target`` of class indices or a floating
  (N, C, *) ``target`` of class probabilities in [0, 1] (one-hot or soft, e.g. mixup or label-smoothed
  masks), C = 1 (binary) takes a floating ``target`` in [0, 1] of shape (N, 1, *) or (N, *). Pixels whose
  (index or binary) target equals ``ignore_index`` count for nothing; a probability target ignores no pixel
  (as torch's ``cross_entropy`` with probabilities). An empty batch is an error.
- A per-pixel ``weight`` map (cross-entropy) is (N, *) or (N, 1, *); a U-Net border map from
  :func:`imagelosses.losses.weightmaps.unet_weight_map` is such a map.
- Probabilities and sums are computed in at least float32, so bf16/fp16 autocast gives the same values.
- Calling convention of the modules: ``loss(input, target)`` (cross-entropy: ``loss(input, target, weight=None)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from .._core.checks import (
    check_floating,
    check_index_range,
    check_integer,
    check_ndim,
    check_number,
    check_option,
    check_prediction,
    check_same_device,
    check_same_shape,
    check_tensor,
    check_weight_map,
    eager,
    fail,
    fmt_shape,
)
from .._core.dtypes import at_least_float32, nan_if_nonfinite, wide_dtype
from .._core.module import OptionsLoss
from .._core.options import Options, number
from .._core.reduction import Reduction, WeightedMean, reduce, weighted_reduce

__all__ = [
    "CLASS_WEIGHT_MODES",
    "ClassAverage",
    "ClassWeight",
    "CrossEntropyOptions",
    "DiceLoss",
    "DiceOptions",
    "FocalLoss",
    "FocalOptions",
    "PixelCrossEntropyLoss",
    "check_binary_values",
    "check_class_weight",
    "check_soft_target",
    "class_frequency_weights",
    "class_probabilities",
    "cross_entropy_core",
    "dice_core",
    "dice_loss",
    "focal_core",
    "focal_loss",
    "overlap_ratio_loss",
    "pixel_cross_entropy",
    "split_target",
]

ClassWeight = Tensor | Literal["balanced", "median_frequency"] | None
CLASS_WEIGHT_MODES: tuple[str, ...] = ("balanced", "median_frequency")


# ------------------------------------------------------------------------------------- class weighting
def class_frequency_weights(counts: Tensor, mode: str) -> Tensor:
    """Class weights (float32, computed in float64 where the device has it) from per-class pixel counts ``n_c``
    (integer or floating; absent classes get weight 0).

    - ``"balanced"`` (inverse frequency, scikit-learn's): ``w_c = n / (K·n_c)``, ``n = Σ n_c``, K the number
      of classes present; a batch with equal counts gets weight 1 for every class.
    - ``"median_frequency"`` (Eigen & Fergus 2015, arXiv 1411.4734): ``w_c = median_k(f_k) / f_c`` with
      ``f_c = n_c / n`` and the median over the classes present (mean of the two middle ones for even K).
    """
    check_option(mode, "class_weight", CLASS_WEIGHT_MODES)
    check_ndim(check_tensor(counts, "counts"), "counts", (1,), "(K,)")
    counts = counts.to(wide_dtype(counts.device))
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
    return torch.where(present, w, torch.zeros_like(w)).to(torch.float32)


def check_tensor_weights(value: Tensor, name: str, length: int, what: str) -> Tensor:
    """A floating (length,) tensor of finite, non-negative weights (the value check is eager only, and skips
    meta tensors, which have no values)."""
    check_floating(value, name)
    if value.shape != (length,):
        fail(name, f"a tensor of shape ({length},), {what}", f"shape {fmt_shape(value.shape)}")
    if eager() and not value.is_meta and not bool((torch.isfinite(value) & (value >= 0)).all()):
        fail(name, "finite, non-negative weights", value.tolist())
    return value


def _resolve_class_weight(class_weight: ClassWeight, counts_fn: Callable[[], Tensor], num_classes: int,
                          like: Tensor) -> Tensor | None:
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        return class_frequency_weights(counts_fn(), class_weight).to(like.dtype)
    check_tensor_weights(class_weight, "class_weight", num_classes, "one weight per class")
    return check_same_device(class_weight, "class_weight", like, "input").to(like.dtype)


def check_binary_values(target: Tensor, valid: Tensor) -> None:
    """Binary targets are probabilities in [0, 1]; a 0/255 PNG mask gets a message that says what to do."""
    if not eager() or target.numel() == 0:
        return
    counted = torch.where(valid, target, torch.zeros_like(target))
    lo, hi = (float(v) for v in torch.aminmax(counted))
    if lo < 0 or hi > 1:
        hint = " (a 0/255 mask: divide it by 255)" if hi == 255 else ""
        fail("target", f"binary labels in [0, 1]{hint}", f"values in [{lo:g}, {hi:g}]")


def split_target(input: Tensor, target: Tensor, ignore_index: int, *, soft_targets: bool = True
                 ) -> tuple[Tensor, Tensor]:
    """Validate a classification ``target`` against ``input`` logits; return ``(safe, valid)``.

    Multi-class (C ≥ 2): ``target`` is integer (N, *) with indices in [0, C) or ``ignore_index``;
    ``safe`` is a long (N, *) copy with ignored pixels set to class 0 and ``valid`` the (N, *) mask.
    Binary (C = 1): ``target`` is floating (N, 1, *) or (N, *) in [0, 1]; ``safe`` is (N, 1, *) with
    ignored pixels set to 0 and ``valid`` the (N, 1, *) mask. NaN in a binary target stays NaN (and so
    does the loss). Value checks (index range, [0, 1]) run in eager mode only, not under ``torch.compile``.
    A caller that takes probability targets of input's shape (:func:`check_soft_target`) handles them before;
    ``soft_targets`` says whether it does, for the message that refuses another floating target.
    """
    check_tensor(target, "target")
    check_same_device(target, "target", input, "input")
    if input.shape[1] == 1:
        if not target.is_floating_point():
            fail("target", "a floating-point tensor of 0/1 (or soft) labels for binary (N, 1, *) logits",
                 f"dtype {target.dtype}", exc=TypeError)
        if target.ndim == input.ndim - 1:
            target = target.unsqueeze(1)
        check_same_shape(target, "target", input, "input", layout="(N, 1, *) or (N, *)")
        valid = target != ignore_index
        check_binary_values(target, valid)
        return torch.where(valid, target, torch.zeros_like(target)), valid
    if target.is_floating_point():
        soft = f", or class probabilities of input's shape {fmt_shape(input.shape)}" if soft_targets else ""
        fail("target", f"an integer tensor of class indices for {input.shape[1]}-class logits{soft} (floating "
             "(N, *) targets are for binary (N, 1, *) logits)", f"dtype {target.dtype} shape "
             f"{fmt_shape(target.shape)}", exc=TypeError)
    check_integer(target, "target")
    expected = (input.shape[0], *input.shape[2:])
    if tuple(target.shape) != expected:
        fail("target", f"shape (N, *) = {fmt_shape(expected)} matching input {fmt_shape(input.shape)}",
             fmt_shape(target.shape))
    target = target.long()
    valid = target != ignore_index
    safe = torch.where(valid, target, torch.zeros_like(target))
    check_index_range(safe, "target", input.shape[1], ignore_index)
    return safe, valid


def _is_soft_target(input: Tensor, target: Tensor) -> bool:
    return isinstance(target, Tensor) and input.shape[1] > 1 and target.is_floating_point() and (
        target.shape == input.shape)


def check_soft_target(target: Tensor, input: Tensor) -> Tensor:
    """A probability target of the multi-class logits' shape (N, C, *) (one-hot or soft): on input's device, with
    values in [0, 1] (eager only; NaN passes, and the loss is NaN). Each pixel's values should sum to 1 over the
    classes, as torch's ``cross_entropy`` expects of probabilities; that is not checked."""
    check_same_device(target, "target", input, "input")
    if eager() and target.numel():
        lo, hi = (float(v) for v in torch.aminmax(target.detach()))
        if lo < 0 or hi > 1:
            fail("target", f"class probabilities in [0, 1] of input's shape {fmt_shape(input.shape)}",
                 f"values in [{lo:g}, {hi:g}]")
    return target


# ------------------------------------------------------------------------------------- cross-entropy
@dataclass(frozen=True)
class CrossEntropyOptions(Options):
    """The options of :func:`pixel_cross_entropy` and :class:`PixelCrossEntropyLoss`."""

    class_weight: ClassWeight = None
    ignore_index: int = -100
    label_smoothing: float = number(0.0, low=0.0, high=1.0, high_inclusive=False)
    reduction: Reduction = "mean"
    weighted_mean: WeightedMean = "weight_sum"
    check_finite: bool = False

    def validate(self) -> None:
        check_class_weight(self.class_weight)


def check_class_weight(class_weight: ClassWeight) -> None:
    """``class_weight`` is None, one of :data:`CLASS_WEIGHT_MODES`, or a floating 1-D tensor of finite,
    non-negative weights (its length is checked against the logits in the call)."""
    if isinstance(class_weight, Tensor):
        check_tensor_weights(class_weight, "class_weight", class_weight.numel(), "one weight per class")
    elif class_weight is not None:
        check_option(class_weight, "class_weight", CLASS_WEIGHT_MODES)


def pixel_cross_entropy(input: Tensor, target: Tensor, *, class_weight: ClassWeight = None,
                        weight: Tensor | None = None, ignore_index: int = -100, label_smoothing: float = 0.0,
                        reduction: Reduction = "mean", weighted_mean: WeightedMean = "weight_sum",
                        check_finite: bool = False) -> Tensor:
    """Per-pixel cross-entropy with class weights, a per-pixel weight map and ignored pixels.

    **Multi-class** (C ≥ 2 logits, integer ``target`` (N, *)): with ``p = softmax(x)``, class weights
    ``w_c``, smoothing ``ε`` and map ``m``, each counted pixel i gives
    ``l_i = m_i·[(1 − ε)·w_{y_i}·(−log p_{i,y_i}) + (ε/C)·Σ_c w_c·(−log p_{i,c})]``, exactly
    ``F.cross_entropy(..., reduction="none")`` times the map.

    **Soft targets** (C ≥ 2, floating ``target`` of input's shape (N, C, *): class probabilities, as
    torch's ``cross_entropy`` takes them for mixup or distillation): ``l_i = −m_i·Σ_c w_c·q'_{i,c}·log p_{i,c}``
    with ``q' = (1 − ε)q + ε/C``; no pixel is ignored and ``"mean"`` divides by the number of pixels (or
    ``Σ m`` with a map and ``weighted_mean="weight_sum"``), torch's convention for probability targets.
    ``class_weight`` must then be a tensor.

    **Binary** (C = 1 logit, floating ``target`` in [0, 1] of shape (N, 1, *) or (N, *)): with
    ``t' = (1 − ε)·t + ε/2`` and ``w = w_0·(1 − t) + w_1·t`` from a length-2 ``class_weight``
    (background, foreground), ``l_i = m_i·w_i·BCEWithLogits(x_i, t'_i)``. A 0/255 mask is refused
    (divide it by 255).

    ``class_weight`` is a tensor, ``"balanced"`` (inverse class frequency in this batch) or
    ``"median_frequency"``; see :func:`class_frequency_weights`. Pixels whose target equals
    ``ignore_index`` contribute nothing.

    Reduction ``"mean"`` divides by the sum of the effective weights ``m_i·w_{y_i}`` of the counted pixels
    (PyTorch's convention, ``weighted_mean="weight_sum"``; without any weights this is the number of
    counted pixels) or by the number of counted pixels (``weighted_mean="count"``). All pixels ignored:
    0 with a zero gradient. Computed in float32 for half-precision logits; the result keeps their dtype.

    Args:
        input: (N, C, *) logits.
        target: (N, *) class indices or (N, C, *) class probabilities for C ≥ 2; (N, 1, *) or (N, *) in [0, 1]
            for C = 1.
        class_weight: None, a (C,) tensor (length 2 for binary logits: background, foreground), ``"balanced"``
            or ``"median_frequency"``.
        weight: an optional per-pixel map (N, *) or (N, 1, *), non-negative (a U-Net border map).
        ignore_index: the target value of pixels to leave out (no pixel of a probability target is left out).
        label_smoothing: ε in [0, 1).
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        weighted_mean: what ``"mean"`` divides by: ``"weight_sum"`` or ``"count"``.
        check_finite: raise on NaN/inf logits instead of returning NaN.

    Shape:
        input (N, C, *); target (N, *) integer or (N, C, *) probabilities for C ≥ 2, (N, 1, *) or (N, *)
        floating for C = 1; output (N, *) for "none" ((N, 1, *) for binary).

    Raises:
        TypeError: integer logits, floating (N, *) targets with C ≥ 2, integer targets with C = 1, an option
        of the wrong type. ValueError: mismatched shapes, class index out of range, binary targets outside
        [0, 1], negative, non-finite or wrong-length class weights, a weight map of the wrong shape, empty
        batch, NaN in input when ``check_finite``, an unknown option value.

    Example:
        >>> logits = torch.zeros(1, 4, 2, 2); target = torch.zeros(1, 2, 2, dtype=torch.long)
        >>> round(float(pixel_cross_entropy(logits, target)), 4)  # ln 4
        1.3863
    """
    return cross_entropy_core(input, target, weight, CrossEntropyOptions.pick(locals()))


def cross_entropy_core(input: Tensor, target: Tensor, weight: Tensor | None, options: CrossEntropyOptions) -> Tensor:
    """The kernel of :func:`pixel_cross_entropy` from checked options (inputs are checked here); the
    Dice + cross-entropy loss of :mod:`.overlap` builds on it."""
    check_prediction(input, options.check_finite)
    x = at_least_float32(input)
    if _is_soft_target(input, target):
        out = _soft_cross_entropy(x, target, weight, options)
        return nan_if_nonfinite(out, input, target, weight).to(input.dtype)
    safe_target, valid = split_target(input, target, options.ignore_index)
    if input.shape[1] == 1:
        out = _binary_cross_entropy(x, safe_target, valid, weight, options)
        return nan_if_nonfinite(out, input, target, weight).to(input.dtype)
    num_classes = input.shape[1]

    def counts() -> Tensor:
        # integer counts: a float32 count stops growing at 2**24 pixels of a class (a 64×512² batch)
        flat = torch.zeros(num_classes, dtype=torch.long, device=input.device)
        return flat.index_add(0, safe_target.flatten(), valid.flatten().long())

    cw = _resolve_class_weight(options.class_weight, counts, num_classes, x)
    values = F.cross_entropy(x, target.long(), weight=cw, ignore_index=options.ignore_index, reduction="none",
                             label_smoothing=options.label_smoothing)  # already 0 on ignored pixels
    effective = None if cw is None else cw.to(values.dtype).take(safe_target) * valid
    pixel_map = check_weight_map(weight, input, per_channel=False)
    if pixel_map is not None:
        pixel_map = pixel_map.to(values.dtype)
        values = values * pixel_map
        effective = pixel_map * valid if effective is None else effective * pixel_map
    out = weighted_reduce(values, options.reduction, options.weighted_mean, effective, valid.sum())
    return nan_if_nonfinite(out, input, weight).to(input.dtype)


def _soft_cross_entropy(x: Tensor, target: Tensor, weight: Tensor | None, options: CrossEntropyOptions) -> Tensor:
    check_soft_target(target, x)
    if isinstance(options.class_weight, str):
        fail("class_weight", "a tensor (or None) with probability targets", repr(options.class_weight))
    cw = _resolve_class_weight(options.class_weight, lambda: x, x.shape[1], x)
    values = F.cross_entropy(x, target.to(x.dtype), weight=cw, reduction="none",
                             label_smoothing=options.label_smoothing)
    pixel_map = check_weight_map(weight, x, per_channel=False)
    if pixel_map is not None:
        values = values * pixel_map.to(values.dtype)
    return weighted_reduce(values, options.reduction, options.weighted_mean, pixel_map, values.numel())


def _binary_cross_entropy(x: Tensor, t: Tensor, valid: Tensor, weight: Tensor | None,
                          options: CrossEntropyOptions) -> Tensor:
    def counts() -> Tensor:
        wide = wide_dtype(t.device)
        v, tw = valid.to(wide), t.to(wide)
        return torch.stack([((1 - tw) * v).sum(), (tw * v).sum()])

    cw = _resolve_class_weight(options.class_weight, counts, 2, x)
    t = t.to(x.dtype)
    effective = valid.to(x.dtype)
    if cw is not None:
        effective = effective * (cw[0] * (1 - t) + cw[1] * t)
    pixel_map = check_weight_map(weight, x)
    if pixel_map is not None:
        effective = effective * pixel_map.to(x.dtype)
    smoothing = options.label_smoothing
    smoothed = t * (1 - smoothing) + 0.5 * smoothing
    values = F.binary_cross_entropy_with_logits(x, smoothed, reduction="none") * effective
    return weighted_reduce(values, options.reduction, options.weighted_mean, effective, valid.sum())


class PixelCrossEntropyLoss(OptionsLoss[CrossEntropyOptions], function=pixel_cross_entropy):
    """Per-pixel cross-entropy, multi-class, soft-target or binary, with class weights, a per-pixel weight
    map, ``ignore_index`` and label smoothing, as a module.

    ``PixelCrossEntropyLoss(class_weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean",
    weighted_mean="weight_sum", check_finite=False)``, called as ``loss(input, target, weight=None)``;
    ``weight`` is the per-pixel map (e.g. a U-Net map). A tensor ``class_weight`` is a buffer (moved by
    ``.to``). The math, what ``"mean"`` divides by, the shapes and the errors are those of
    :func:`pixel_cross_entropy`.

    Example:
        >>> loss = PixelCrossEntropyLoss(class_weight=torch.tensor([1.0, 3.0]))
        >>> round(float(loss(torch.zeros(1, 2, 1, 2), torch.tensor([[[0, 1]]]))), 4)  # ln 2
        0.6931
    """

    Options = CrossEntropyOptions

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return cross_entropy_core(input, target, weight, self.current_options())


# ---------------------------------------------------------------------------------------------- Dice
ClassAverage = Literal["macro", "micro"]


@dataclass(frozen=True)
class DiceOptions(Options):
    """The options of :func:`dice_loss` and :class:`DiceLoss`."""

    ignore_index: int = -100
    smooth: float = number(1e-5, low=0.0)
    squared: bool = False
    include_background: bool = True
    batch_dice: bool = False
    class_average: ClassAverage = "macro"
    reduction: Reduction = "mean"
    check_finite: bool = False


def dice_loss(input: Tensor, target: Tensor, *, ignore_index: int = -100, smooth: float = 1e-5,
              squared: bool = False, include_background: bool = True, batch_dice: bool = False,
              class_average: ClassAverage = "macro", reduction: Reduction = "mean",
              check_finite: bool = False) -> Tensor:
    """Soft Dice loss from logits.

    With ``p = softmax(x)`` (``sigmoid`` for one channel), one-hot targets ``g`` and the counted pixels Ω,
    ``l = 1 − (2·Σ p·g + s) / (Σ p^k + Σ g^k + s)`` with ``k = 2`` when ``squared`` (V-Net's denominator)
    else ``k = 1`` and smoothing ``s``. ``class_average="macro"`` (default) scores each sample and class,
    sums over Ω; ``"micro"`` (kornia's default) sums over Ω and the classes too, one score per sample.
    ``batch_dice`` sums over the batch as well. ``include_background=False`` drops channel 0 (multi-class).
    A probability target ``g`` of input's shape (one-hot or soft, values in [0, 1]) enters the same formula as
    it is, the standard soft-target generalisation (intersection ``Σ p·g``, Ω every pixel); a one-hot float
    target gives the value of its integer labels.

    A class absent from both prediction and target (an empty denominator, e.g. every pixel ignored) has
    loss 0 whatever ``s``, ``s = 0`` included; a class absent from the target but predicted has loss
    near 1 (with ``s`` small), so macro averaging punishes false positives of absent classes.
    ``"mean"`` averages the scores ((N, C') macro, (N,) micro; (C',) or one with ``batch_dice``).

    Args:
        input: (N, C, *) logits.
        target: (N, *) class indices or (N, C, *) class probabilities (one-hot or soft) for C ≥ 2; (N, 1, *) or
            (N, *) in [0, 1] for C = 1.
        ignore_index: the index (or binary target value) of pixels left out of every sum; a probability target
            ignores no pixel (as :func:`pixel_cross_entropy`).
        smooth: ``s`` ≥ 0, added to the numerator and the denominator.
        squared: ``k = 2`` in the denominator (V-Net) instead of 1.
        include_background: keep channel 0 of a multi-class input (must be True for one channel).
        batch_dice: sum over the batch too (one score per class).
        class_average: ``"macro"`` (one score per class) or ``"micro"`` (the classes summed).
        reduction: ``"none"``, ``"mean"`` or ``"sum"`` of the scores.
        check_finite: raise on NaN/inf logits instead of returning NaN.

    Shape:
        output of "none": macro (N, C') or (C',) with ``batch_dice``, C' = C or C − 1 without background;
        micro (N,) or () with ``batch_dice``.

    Raises:
        TypeError: integer logits, a target of the wrong dtype (a floating target for C ≥ 2 of another shape
        than input's), an option of the wrong type. ValueError: mismatched shapes, class index out of range,
        binary targets or class probabilities outside [0, 1], empty batch, ``include_background=False`` with
        one channel, an unknown option value.

    References:
        Milletari et al., "V-Net", 3DV 2016, arXiv 1606.04797; Sudre et al., "Generalised Dice overlap",
        DLMIA 2017, arXiv 1707.03237.

    Example:
        >>> logits = torch.tensor([[[[-20.0, 20.0]], [[20.0, -20.0]]]])  # (1, 2, 1, 2)
        >>> float(dice_loss(logits, torch.tensor([[[1, 0]]])))
        0.0
    """
    return dice_core(input, target, DiceOptions.pick(locals()))


def class_probabilities(input: Tensor, target: Tensor, ignore_index: int, include_background: bool,
                        check_finite: bool) -> tuple[Tensor, Tensor, Tensor]:
    """``(p, g, mask)`` of the overlap losses, in at least float32, each broadcastable to (N, C', *):
    ``p = softmax(x)`` (``sigmoid`` for one channel), ``g`` the one-hot (or binary) target, or the probability
    target itself (one-hot or soft, of input's shape), and ``mask`` 1 on counted pixels (every pixel of a
    probability target); ``include_background=False`` drops channel 0 of a multi-class input (refused for one
    channel). Checks the input and the target."""
    check_prediction(input, check_finite)
    if input.shape[1] == 1 and not include_background:  # one sigmoid channel is the foreground: nothing to drop
        fail("include_background", "True for a single-channel input (its one channel is the foreground; "
             "include_background=False drops channel 0 of a multi-class softmax)", "False")
    x = at_least_float32(input)
    if _is_soft_target(input, target):
        probs = torch.softmax(x, dim=1)
        onehot = check_soft_target(target, input).to(x.dtype)
        mask = torch.ones_like(probs[:, :1])
    else:
        safe, valid = split_target(input, target, ignore_index)
        if input.shape[1] == 1:
            return torch.sigmoid(x), safe.to(x.dtype), valid.to(x.dtype)
        probs = torch.softmax(x, dim=1)
        onehot = F.one_hot(safe, input.shape[1]).movedim(-1, 1).to(x.dtype)
        mask = valid.unsqueeze(1).to(x.dtype)
    if not include_background:
        probs, onehot = probs[:, 1:], onehot[:, 1:]
    return probs, onehot, mask


def dice_core(input: Tensor, target: Tensor, options: DiceOptions) -> Tensor:
    """The kernel of :func:`dice_loss` from checked options (inputs are checked here)."""
    probs, onehot, mask = class_probabilities(input, target, options.ignore_index, options.include_background,
                                              options.check_finite)
    dims = tuple(range(1 if options.class_average == "micro" else 2, probs.ndim))
    if options.batch_dice:
        dims = (0, *dims)
    power = 2 if options.squared else 1
    intersection = (probs * onehot * mask).sum(dims)
    denominator = ((probs**power) * mask).sum(dims) + ((onehot**power) * mask).sum(dims)
    values = overlap_ratio_loss(2.0 * intersection, denominator, options.smooth)
    return nan_if_nonfinite(reduce(values, options.reduction), input, target).to(input.dtype)


def overlap_ratio_loss(numerator: Tensor, denominator: Tensor, smooth: float) -> Tensor:
    """``1 − (numerator + s) / (denominator + s)``, 0 where the denominator is 0 (nothing predicted, nothing
    true: a perfect score whatever the smoothing); NaN stays NaN."""
    empty = denominator == 0
    score = (numerator + smooth) / torch.where(empty, torch.ones_like(denominator), denominator + smooth)
    return torch.where(empty & ~denominator.isnan(), torch.zeros_like(score), 1.0 - score)


class DiceLoss(OptionsLoss[DiceOptions], function=dice_loss):
    """Soft Dice loss from logits, as a module.

    ``DiceLoss(ignore_index=-100, smooth=1e-5, squared=False, include_background=True, batch_dice=False,
    class_average="macro", reduction="mean", check_finite=False)``, called as ``loss(input, target)``; the
    math, the options, the shapes and the errors are those of :func:`dice_loss`.

    Example:
        >>> logits = torch.tensor([[[[-20.0, 20.0]], [[20.0, -20.0]]]])  # (1, 2, 1, 2)
        >>> float(DiceLoss(class_average="micro")(logits, torch.tensor([[[1, 0]]])))
        0.0
    """

    Options = DiceOptions

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return dice_core(input, target, self.current_options())


# --------------------------------------------------------------------------------------------- focal
@dataclass(frozen=True)
class FocalOptions(Options):
    """The options of :func:`focal_loss` and :class:`FocalLoss`; ``alpha`` is None, a float in [0, 1]
    (binary) or a 1-D tensor of finite, non-negative per-class weights."""

    gamma: float = number(2.0, low=0.0)
    alpha: float | Tensor | None = None
    ignore_index: int = -100
    reduction: Reduction = "mean"
    check_finite: bool = False

    def validate(self) -> None:
        alpha = self.alpha
        if isinstance(alpha, Tensor):
            check_floating(alpha, "alpha")
            if alpha.ndim != 1:
                fail("alpha", "a 1-D tensor (C,), one weight per class (or a float for binary logits)",
                     f"shape {fmt_shape(alpha.shape)}")
            check_tensor_weights(alpha, "alpha", alpha.numel(), "one weight per class")
        elif alpha is not None:
            object.__setattr__(self, "alpha", check_number(alpha, "alpha", low=0.0, high=1.0))


def focal_loss(input: Tensor, target: Tensor, *, gamma: float = 2.0, alpha: float | Tensor | None = None,
               ignore_index: int = -100, reduction: Reduction = "mean", check_finite: bool = False) -> Tensor:
    """Focal loss ``l = −α_t·(1 − p_t)^γ·log p_t`` from logits, numerically stable.

    ``log p_t`` comes from ``log_softmax`` (multi-class) or ``binary_cross_entropy_with_logits``
    (binary); ``1 − p_t`` is computed without cancellation (``−expm1(log p_t)``, or
    ``σ(x)(1 − t) + σ(−x)t`` for binary), so logits of ±1e4 give finite values and gradients. ``α_t`` is
    ``alpha[y]`` for a per-class tensor of finite non-negative weights (multi-class) or
    ``α·t + (1 − α)(1 − t)`` for a float in [0, 1] (binary, 0.25 in the paper); ``None`` means no
    weighting. ``γ = 0`` with no ``alpha`` is cross-entropy.

    **Soft targets** (C ≥ 2, floating ``target`` of input's shape: class probabilities ``t``, one-hot or soft):
    ``l = −Σ_c t_c·α_c·(1 − p_c)^γ·log p_c`` per pixel, the expectation of the focal term under ``t`` (as
    cross-entropy's with probability targets); a one-hot float target gives the value of its integer labels.
    No pixel is ignored.

    ``"mean"`` divides by the number of counted (non-ignored) pixels; torchvision's
    ``sigmoid_focal_loss`` divides by all elements, the same when nothing is ignored.

    Args:
        input: (N, C, *) logits.
        target: (N, *) class indices or (N, C, *) class probabilities (one-hot or soft) for C ≥ 2; (N, 1, *) or
            (N, *) in [0, 1] for C = 1.
        gamma: the focusing exponent γ ≥ 0 (2 in the paper).
        alpha: None, a float in [0, 1] (binary) or a (C,) tensor of per-class weights (multi-class).
        ignore_index: the index (or binary target value) of pixels to leave out; a probability target ignores
            no pixel.
        reduction: ``"none"``, ``"mean"`` (over the counted pixels) or ``"sum"``.
        check_finite: raise on NaN/inf logits instead of returning NaN.

    Shape:
        output of "none": (N, *) multi-class, (N, 1, *) binary.

    Raises:
        TypeError: integer logits, a target of the wrong dtype (a floating target for C ≥ 2 of another shape
        than input's), a float ``alpha`` for multi-class logits (or a tensor for binary ones), an option of the
        wrong type. ValueError: mismatched shapes, class index out of range, class probabilities outside
        [0, 1], a wrong-length or negative ``alpha``, empty batch, an unknown option value.

    References:
        Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, arXiv 1708.02002.

    Example:
        >>> round(float(focal_loss(torch.zeros(1, 2, 1, 1), torch.zeros(1, 1, 1, dtype=torch.long))), 4)
        0.1733
    """
    return focal_core(input, target, FocalOptions.pick(locals()))


def focal_core(input: Tensor, target: Tensor, options: FocalOptions) -> Tensor:
    """The kernel of :func:`focal_loss` from checked options (inputs are checked here)."""
    check_prediction(input, options.check_finite)
    x = at_least_float32(input)
    alpha = options.alpha
    if _is_soft_target(input, target):
        t = check_soft_target(target, input).to(x.dtype)
        logp = torch.log_softmax(x, dim=1)
        terms = (-torch.expm1(logp)).clamp_min(1e-12).pow(options.gamma) * -logp * t  # 1 − p_c without cancellation
        if alpha is not None:
            terms = terms * _class_alpha(alpha, input.shape[1], x).view(1, -1, *(1,) * (x.ndim - 2))
        return nan_if_nonfinite(reduce(terms.sum(1), options.reduction), input, target).to(input.dtype)
    safe, valid = split_target(input, target, options.ignore_index)
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
    values = one_minus_pt.clamp_min(1e-12).pow(options.gamma) * ce
    if alpha_t is not None:
        values = values * alpha_t
    values = values * valid.to(x.dtype)
    out = reduce(values, options.reduction, denominator=valid.sum())
    return nan_if_nonfinite(out, input, target).to(input.dtype)


def _binary_alpha(alpha: float | Tensor, t: Tensor) -> Tensor:
    if isinstance(alpha, Tensor):
        fail("alpha", "a float in [0, 1] for binary (N, 1, *) logits", f"a tensor of shape {fmt_shape(alpha.shape)}",
             exc=TypeError)
    return alpha * t + (1 - alpha) * (1 - t)


def _class_alpha(alpha: float | Tensor, num_classes: int, like: Tensor) -> Tensor:
    if not isinstance(alpha, Tensor):  # a float alpha is the binary form: the wrong type for C > 1 classes
        fail("alpha", f"a tensor of shape ({num_classes},), one weight per class, for {num_classes}-class logits "
             "(a float alpha is for binary (N, 1, *) logits)", repr(alpha), exc=TypeError)
    if alpha.shape != (num_classes,):
        fail("alpha", f"a tensor of shape ({num_classes},), one weight per class", f"shape {fmt_shape(alpha.shape)}")
    return check_same_device(alpha, "alpha", like, "input").to(like.dtype)


class FocalLoss(OptionsLoss[FocalOptions], function=focal_loss):
    """Focal loss from logits, multi-class or binary, as a module.

    ``FocalLoss(gamma=2.0, alpha=None, ignore_index=-100, reduction="mean", check_finite=False)``, called as
    ``loss(input, target)``; a tensor ``alpha`` is a buffer (moved by ``.to``). The math, the shapes and the
    errors are those of :func:`focal_loss`.

    Example:
        >>> round(float(FocalLoss(gamma=0.0)(torch.zeros(1, 2, 1, 1), torch.zeros(1, 1, 1, dtype=torch.long))), 4)
        0.6931
    """

    Options = FocalOptions

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return focal_core(input, target, self.current_options())


