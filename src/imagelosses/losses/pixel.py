"""``nn.Module`` versions of the pixel-wise and segmentation losses; the math lives in
:mod:`imagelosses.functional`."""

from __future__ import annotations

from torch import Tensor

from .._checks import check_number
from ..functional.pixel import (
    ClassWeight,
    _check_common,
    charbonnier_loss,
    check_cross_entropy_options,
    l1_loss,
    mse_loss,
    pixel_cross_entropy,
)
from ..functional.segmentation import check_dice_options, check_focal_options, dice_loss, focal_loss
from ._base import FunctionalLoss

__all__ = ["CharbonnierLoss", "DiceLoss", "FocalLoss", "L1Loss", "MSELoss", "PixelCrossEntropyLoss"]


class MSELoss(FunctionalLoss):
    """Squared error with an optional per-pixel weight map; see :func:`imagelosses.functional.mse_loss`.

    ``forward(input, target, weight=None)``.
    """

    def __init__(self, *, reduction: str = "mean", weighted_mean: str = "weight_sum",
                 check_finite: bool = False) -> None:
        _check_common(reduction, weighted_mean)
        super().__init__(mse_loss, reduction=reduction, weighted_mean=weighted_mean, check_finite=check_finite)

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return super().forward(input, target, weight=weight)


class L1Loss(MSELoss):
    """Absolute error with an optional per-pixel weight map; see :func:`imagelosses.functional.l1_loss`."""

    def __init__(self, *, reduction: str = "mean", weighted_mean: str = "weight_sum",
                 check_finite: bool = False) -> None:
        super().__init__(reduction=reduction, weighted_mean=weighted_mean, check_finite=check_finite)
        self.function = l1_loss


class CharbonnierLoss(MSELoss):
    """``sqrt((x − y)² + ε²)`` with an optional per-pixel weight map; see
    :func:`imagelosses.functional.charbonnier_loss`."""

    def __init__(self, *, eps: float = 1e-3, reduction: str = "mean", weighted_mean: str = "weight_sum",
                 check_finite: bool = False) -> None:
        check_number(eps, "eps", low=0.0, low_inclusive=False)
        super().__init__(reduction=reduction, weighted_mean=weighted_mean, check_finite=check_finite)
        self.function = charbonnier_loss
        self._options["eps"] = eps


class PixelCrossEntropyLoss(FunctionalLoss):
    """Per-pixel cross-entropy, multi-class or binary, with class weights (a tensor, ``"balanced"`` or
    ``"median_frequency"``), a per-pixel weight map, ``ignore_index`` and label smoothing; see
    :func:`imagelosses.functional.pixel_cross_entropy` for the math and what ``"mean"`` divides by.

    ``forward(input, target, weight=None)``; ``weight`` is the per-pixel map (e.g. a U-Net map).
    """

    def __init__(self, *, class_weight: ClassWeight = None, ignore_index: int = -100,
                 label_smoothing: float = 0.0, reduction: str = "mean", weighted_mean: str = "weight_sum",
                 check_finite: bool = False) -> None:
        check_cross_entropy_options(class_weight, label_smoothing, reduction, weighted_mean)
        super().__init__(pixel_cross_entropy, class_weight=class_weight, ignore_index=ignore_index,
                         label_smoothing=label_smoothing, reduction=reduction, weighted_mean=weighted_mean,
                         check_finite=check_finite)

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return super().forward(input, target, weight=weight)


class DiceLoss(FunctionalLoss):
    """Soft Dice loss from logits; see :func:`imagelosses.functional.dice_loss`."""

    def __init__(self, *, ignore_index: int = -100, smooth: float = 1e-5, squared: bool = False,
                 include_background: bool = True, batch_dice: bool = False, reduction: str = "mean",
                 check_finite: bool = False) -> None:
        check_dice_options(smooth, reduction)
        super().__init__(dice_loss, ignore_index=ignore_index, smooth=smooth, squared=squared,
                         include_background=include_background, batch_dice=batch_dice, reduction=reduction,
                         check_finite=check_finite)


class FocalLoss(FunctionalLoss):
    """Focal loss from logits, multi-class or binary; see :func:`imagelosses.functional.focal_loss`."""

    def __init__(self, *, gamma: float = 2.0, alpha: float | Tensor | None = None, ignore_index: int = -100,
                 reduction: str = "mean", check_finite: bool = False) -> None:
        check_focal_options(gamma, alpha, reduction)
        super().__init__(focal_loss, gamma=gamma, alpha=alpha, ignore_index=ignore_index, reduction=reduction,
                         check_finite=check_finite)
