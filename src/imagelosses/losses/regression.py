"""Pixel-wise regression losses: MSE, L1 and Charbonnier, each with an optional per-pixel weight map.

Conventions shared by every loss in this file:

- ``input`` and ``target`` are (N, C, *) floating tensors of one shape; ``*`` is any number of spatial
  dimensions, typically (H, W). An empty batch is an error.
- A per-pixel ``weight`` map is (N, *) or (N, 1, *) and broadcast over channels, or exactly ``input``'s
  shape. A U-Net border map from :func:`imagelosses.losses.weightmaps.unet_weight_map` is such a map.
- ``reduction="mean"`` divides by the number of elements; with a ``weight`` map by ``Σ w`` over all
  elements (``weighted_mean="weight_sum"``, the weighted average) or by their number (``"count"``).
- Calling convention of the modules: ``loss(input, target, weight=None)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import Tensor

from .._core.checks import (
    check_floating,
    check_prediction,
    check_same_device,
    check_same_shape,
    check_weight_map,
    require_finite,
)
from .._core.dtypes import at_least_float32, nan_if_nonfinite
from .._core.module import OptionsLoss
from .._core.options import Options, number
from .._core.reduction import Reduction, WeightedMean, weighted_reduce

__all__ = ["CharbonnierLoss", "CharbonnierOptions", "L1Loss", "MSELoss", "RegressionOptions", "charbonnier_loss",
           "l1_loss", "mse_loss", "regression_loss"]

Penalty = Literal["mse", "l1", "charbonnier"]


@dataclass(frozen=True)
class RegressionOptions(Options):
    """The options of :func:`mse_loss` and :func:`l1_loss` (and their modules)."""

    reduction: Reduction = "mean"
    weighted_mean: WeightedMean = "weight_sum"
    check_finite: bool = False


@dataclass(frozen=True)
class CharbonnierOptions(RegressionOptions):
    """The options of :func:`charbonnier_loss`: those of :class:`RegressionOptions` and ``eps`` > 0."""

    eps: float = number(1e-3, low=0.0, low_inclusive=False)


def regression_loss(penalty: Penalty, input: Tensor, target: Tensor, weight: Tensor | None,
                    options: RegressionOptions) -> Tensor:
    """The shared kernel of the three losses, from checked options (inputs are checked here): the per-element
    penalty of ``x − y`` (``"mse"``, ``"l1"`` or ``"charbonnier"`` with ``options.eps``), weighted and
    reduced. Other families build on it (the cycle-consistency and identity losses are L1 terms)."""
    check_prediction(input, options.check_finite)
    check_floating(target, "target")
    check_same_device(target, "target", input, "input")
    check_same_shape(target, "target", input, "input")
    if options.check_finite:
        require_finite(target, "target")
    diff = at_least_float32(input) - at_least_float32(target)
    if penalty == "mse":
        values = diff.square()
    elif penalty == "l1":
        values = diff.abs()
    else:  # sqrt(d² + ε²) without underflow of ε² (ε = 1e-30): a finite, zero gradient at d = 0
        eps = options.eps if isinstance(options, CharbonnierOptions) else 0.0
        values = torch.hypot(diff, torch.tensor(eps, dtype=diff.dtype, device=diff.device))
    w = check_weight_map(weight, input)
    if w is not None:
        values = values * at_least_float32(w)
    out = weighted_reduce(values, options.reduction, options.weighted_mean, w, values.numel())
    return nan_if_nonfinite(out, input, target, weight).to(input.dtype)


def mse_loss(input: Tensor, target: Tensor, *, weight: Tensor | None = None, reduction: Reduction = "mean",
             weighted_mean: WeightedMean = "weight_sum", check_finite: bool = False) -> Tensor:
    """Squared error ``l = w·(x − y)²`` per element.

    ``"mean"`` divides by the number of elements, or with a ``weight`` map by ``Σ w`` over all elements
    (``weighted_mean="weight_sum"``) or their number (``"count"``).

    Args:
        input, target: (N, C, *) floating tensors of one shape.
        weight: an optional per-pixel weight map, (N, *), (N, 1, *) or (N, C, *), non-negative.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        weighted_mean: what ``"mean"`` divides by with a weight map: ``"weight_sum"`` or ``"count"``.
        check_finite: raise on NaN/inf inputs instead of returning NaN.

    Shape:
        input, target: (N, C, *); weight: (N, *), (N, 1, *) or (N, C, *); output (N, C, *) for "none".

    Raises:
        TypeError: non-floating input/target/weight, an option of the wrong type. ValueError: shapes that do
        not match, empty batch, an unknown option value, NaN when ``check_finite``.

    Example:
        >>> x = torch.zeros(1, 1, 2, 2); y = torch.ones(1, 1, 2, 2)
        >>> float(mse_loss(x, y, weight=torch.tensor([[[1.0, 3.0], [0.0, 0.0]]])))
        1.0
    """
    return regression_loss("mse", input, target, weight, RegressionOptions.pick(locals()))


def l1_loss(input: Tensor, target: Tensor, *, weight: Tensor | None = None, reduction: Reduction = "mean",
            weighted_mean: WeightedMean = "weight_sum", check_finite: bool = False) -> Tensor:
    """Absolute error ``l = w·|x − y|`` per element; reductions as :func:`mse_loss`.

    Args:
        input, target: (N, C, *) floating tensors of one shape.
        weight, reduction, weighted_mean, check_finite: as :func:`mse_loss`.

    Raises:
        TypeError: non-floating input/target/weight, an option of the wrong type. ValueError: shapes that do
        not match, empty batch, an unknown option value, NaN when ``check_finite``.

    Example:
        >>> float(l1_loss(torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), -2.0)))
        2.0
    """
    return regression_loss("l1", input, target, weight, RegressionOptions.pick(locals()))


def charbonnier_loss(input: Tensor, target: Tensor, *, eps: float = 1e-3, weight: Tensor | None = None,
                     reduction: Reduction = "mean", weighted_mean: WeightedMean = "weight_sum",
                     check_finite: bool = False) -> Tensor:
    """Charbonnier penalty ``l = w·sqrt((x − y)² + ε²)``, a differentiable L1 (LapSRN, ε = 1e-3).

    Equal inputs give ``ε`` per element, not 0; the gradient is finite everywhere for ``ε > 0``, also for
    tiny ``ε`` (computed as ``hypot(x − y, ε)``, so ``ε²`` never underflows).

    Args:
        eps: ε > 0; the other arguments as :func:`mse_loss`.

    Raises:
        TypeError: non-floating input/target/weight, an option of the wrong type. ValueError: shapes that do
        not match, empty batch, ``eps`` ≤ 0, an unknown option value, NaN when ``check_finite``.

    References:
        Lai et al., "Deep Laplacian Pyramid Networks for Fast and Accurate Super-Resolution", CVPR 2017,
        arXiv 1704.03915.

    Example:
        >>> round(float(charbonnier_loss(torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 1, 1))), 6)
        0.001
    """
    return regression_loss("charbonnier", input, target, weight, CharbonnierOptions.pick(locals()))


class _PointwiseLoss(OptionsLoss[RegressionOptions]):
    """The shell of :class:`MSELoss` and :class:`L1Loss`, which differ only in their ``penalty``."""

    penalty: ClassVar[Penalty]
    Options = RegressionOptions

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return regression_loss(self.penalty, input, target, weight, self.current_options())


class MSELoss(_PointwiseLoss, function=mse_loss):
    """Squared error ``w·(x − y)²`` with an optional per-pixel weight map, as a module.

    ``MSELoss(reduction="mean", weighted_mean="weight_sum", check_finite=False)``, called as
    ``loss(input, target, weight=None)``; the math, the options, the shapes and the errors are those of
    :func:`mse_loss`.

    Example:
        >>> MSELoss(reduction="sum")(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2))
        tensor(4.)
    """

    penalty = "mse"
    Options = RegressionOptions


class L1Loss(_PointwiseLoss, function=l1_loss):
    """Absolute error ``w·|x − y|`` with an optional per-pixel weight map, as a module.

    ``L1Loss(reduction="mean", weighted_mean="weight_sum", check_finite=False)``, called as
    ``loss(input, target, weight=None)``; see :func:`l1_loss`.

    Example:
        >>> L1Loss()(torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), -2.0))
        tensor(2.)
    """

    penalty = "l1"
    Options = RegressionOptions


class CharbonnierLoss(OptionsLoss[CharbonnierOptions], function=charbonnier_loss):
    """``w·sqrt((x − y)² + ε²)`` with an optional per-pixel weight map, as a module.

    ``CharbonnierLoss(eps=1e-3, reduction="mean", weighted_mean="weight_sum", check_finite=False)``, called as
    ``loss(input, target, weight=None)``; see :func:`charbonnier_loss`.

    Example:
        >>> CharbonnierLoss(eps=0.5)(torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 1, 1))
        tensor(0.5000)
    """

    Options = CharbonnierOptions

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return regression_loss("charbonnier", input, target, weight, self.current_options())
