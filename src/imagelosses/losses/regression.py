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

from typing import ClassVar, Literal

import torch
from torch import Tensor

from .._core.checks import (
    check_bool,
    check_floating,
    check_number,
    check_option,
    check_prediction,
    check_same_device,
    check_same_shape,
    check_weight_map,
    require_finite,
)
from .._core.dtypes import at_least_float32, nan_if_nonfinite
from .._core.module import Loss
from .._core.reduction import WEIGHTED_MEANS, Reduction, WeightedMean, check_reduction, weighted_reduce

__all__ = ["CharbonnierLoss", "L1Loss", "MSELoss", "charbonnier_loss", "l1_loss", "mse_loss"]

Penalty = Literal["mse", "l1", "charbonnier"]


def _check_options(reduction: str, weighted_mean: str, check_finite: bool) -> dict[str, object]:
    return {"reduction": check_reduction(reduction),
            "weighted_mean": check_option(weighted_mean, "weighted_mean", WEIGHTED_MEANS),
            "check_finite": check_bool(check_finite, "check_finite")}


def _regression(penalty: Penalty, input: Tensor, target: Tensor, weight: Tensor | None, *, reduction: str,
                weighted_mean: str, check_finite: bool, eps: float = 0.0) -> Tensor:
    """The unchecked-options core of the three losses (inputs are still checked)."""
    check_prediction(input, check_finite)
    check_floating(target, "target")
    check_same_device(target, "target", input, "input")
    check_same_shape(target, "target", input, "input")
    if check_finite:
        require_finite(target, "target")
    diff = at_least_float32(input) - at_least_float32(target)
    if penalty == "mse":
        values = diff.square()
    elif penalty == "l1":
        values = diff.abs()
    else:  # sqrt(d² + ε²) without underflow of ε² (ε = 1e-30): a finite, zero gradient at d = 0
        values = torch.hypot(diff, torch.tensor(eps, dtype=diff.dtype, device=diff.device))
    w = check_weight_map(weight, input)
    if w is not None:
        values = values * at_least_float32(w)
    out = weighted_reduce(values, reduction, weighted_mean, w, values.numel())
    return nan_if_nonfinite(out, input, target, weight).to(input.dtype)


def mse_loss(input: Tensor, target: Tensor, *, weight: Tensor | None = None, reduction: Reduction = "mean",
             weighted_mean: WeightedMean = "weight_sum", check_finite: bool = False) -> Tensor:
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
    options = _check_options(reduction, weighted_mean, check_finite)
    return _regression("mse", input, target, weight, **options)  # type: ignore[arg-type]


def l1_loss(input: Tensor, target: Tensor, *, weight: Tensor | None = None, reduction: Reduction = "mean",
            weighted_mean: WeightedMean = "weight_sum", check_finite: bool = False) -> Tensor:
    """Absolute error ``l = w·|x − y|`` per element; reductions as :func:`mse_loss`.

    Example:
        >>> float(l1_loss(torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), -2.0)))
        2.0
    """
    options = _check_options(reduction, weighted_mean, check_finite)
    return _regression("l1", input, target, weight, **options)  # type: ignore[arg-type]


def charbonnier_loss(input: Tensor, target: Tensor, *, eps: float = 1e-3, weight: Tensor | None = None,
                     reduction: Reduction = "mean", weighted_mean: WeightedMean = "weight_sum",
                     check_finite: bool = False) -> Tensor:
    """Charbonnier penalty ``l = w·sqrt((x − y)² + ε²)``, a differentiable L1 (LapSRN, ε = 1e-3).

    Equal inputs give ``ε`` per element, not 0; the gradient is finite everywhere for ``ε > 0``, also for
    tiny ``ε`` (computed as ``hypot(x − y, ε)``, so ``ε²`` never underflows).
    Reductions as :func:`mse_loss`.

    References:
        Lai et al., "Deep Laplacian Pyramid Networks for Fast and Accurate Super-Resolution", CVPR 2017,
        arXiv 1704.03915.

    Example:
        >>> round(float(charbonnier_loss(torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 1, 1))), 6)
        0.001
    """
    eps = check_number(eps, "eps", low=0.0, low_inclusive=False)
    options = _check_options(reduction, weighted_mean, check_finite)
    return _regression("charbonnier", input, target, weight, eps=eps, **options)  # type: ignore[arg-type]


class _PointwiseLoss(Loss):
    """The shell of :class:`MSELoss` and :class:`L1Loss`, which differ only in their ``penalty``."""

    penalty: ClassVar[Penalty]
    reduction: str
    weighted_mean: str
    check_finite: bool
    options = ("reduction", "weighted_mean", "check_finite")

    def __init__(self, *, reduction: Reduction = "mean", weighted_mean: WeightedMean = "weight_sum",
                 check_finite: bool = False) -> None:
        super().__init__()
        self.set_options(**_check_options(reduction, weighted_mean, check_finite))

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return _regression(self.penalty, input, target, weight, **self.option_values())


class MSELoss(_PointwiseLoss):
    """Squared error with an optional per-pixel weight map; see :func:`mse_loss`.

    ``loss(input, target, weight=None)``.
    """

    penalty = "mse"


class L1Loss(_PointwiseLoss):
    """Absolute error with an optional per-pixel weight map; see :func:`l1_loss`.

    ``loss(input, target, weight=None)``.
    """

    penalty = "l1"


class CharbonnierLoss(Loss):
    """``sqrt((x − y)² + ε²)`` with an optional per-pixel weight map; see :func:`charbonnier_loss`.

    ``loss(input, target, weight=None)``.
    """

    eps: float
    reduction: str
    weighted_mean: str
    check_finite: bool
    options = ("eps", "reduction", "weighted_mean", "check_finite")

    def __init__(self, *, eps: float = 1e-3, reduction: Reduction = "mean", weighted_mean: WeightedMean = "weight_sum",
                 check_finite: bool = False) -> None:
        super().__init__()
        self.set_options(eps=check_number(eps, "eps", low=0.0, low_inclusive=False),
                         **_check_options(reduction, weighted_mean, check_finite))

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return _regression("charbonnier", input, target, weight, **self.option_values())
