"""The one reduction helper of the library.

Every loss computes an unreduced tensor of per-element (per-pixel, per-triplet, per-sample) values and
hands it to :func:`reduce`. ``"none"`` returns it as is, ``"sum"`` adds it up, ``"mean"`` divides the sum
by a *denominator* that each loss documents (the number of counted elements by default, the sum of the
weights for weighted losses, as PyTorch's ``cross_entropy`` does). A zero denominator (empty batch, all
pixels ignored, no valid triplet) gives ``0`` with a zero gradient, never ``0/0``.
"""

from __future__ import annotations

from typing import Literal, cast

import torch
from torch import Tensor

from .checks import check_option

Reduction = Literal["none", "mean", "sum"]
REDUCTIONS: tuple[str, ...] = ("none", "mean", "sum")
WeightedMean = Literal["weight_sum", "count"]
WEIGHTED_MEANS: tuple[str, ...] = ("weight_sum", "count")

__all__ = ["REDUCTIONS", "WEIGHTED_MEANS", "Reduction", "WeightedMean", "check_reduction", "reduce", "safe_divide",
           "weighted_reduce"]


def check_reduction(reduction: str) -> Reduction:
    """``reduction`` must be ``"none"``, ``"mean"`` or ``"sum"``."""
    return cast(Reduction, check_option(reduction, "reduction", REDUCTIONS))


def safe_divide(numerator: Tensor, denominator: Tensor | float) -> Tensor:
    """``numerator / denominator`` where a zero denominator (whose numerator is then a sum of nothing or of
    zero-weighted terms) gives ``numerator`` itself, so value and gradient stay finite."""
    if not isinstance(denominator, Tensor):
        return numerator / denominator if denominator != 0 else numerator
    denominator = denominator.to(numerator.dtype)
    return numerator / torch.where(denominator != 0, denominator, torch.ones_like(denominator))


def reduce(values: Tensor, reduction: str, *, denominator: Tensor | float | None = None) -> Tensor:
    """Reduce unreduced loss ``values``.

    Args:
        values: unreduced loss values, any shape.
        reduction: ``"none"`` (return ``values``), ``"sum"`` (``values.sum()``) or ``"mean"``
            (``values.sum() / denominator``).
        denominator: what ``"mean"`` divides by; ``None`` means ``values.numel()``. Zero gives 0.
    """
    if reduction == "none":
        return values
    total = values.sum(dtype=torch.promote_types(values.dtype, torch.float32)) if values.is_floating_point() else (
        values.sum())
    if reduction == "sum":
        return total
    if reduction != "mean":
        check_reduction(reduction)
    return safe_divide(total, values.numel() if denominator is None else denominator)


def weighted_reduce(values: Tensor, reduction: str, weighted_mean: str, weight: Tensor | None,
                    count: Tensor | int) -> Tensor:
    """Reduce ``values`` that are already weighted and zero where not counted.

    ``weight`` is the effective weight of each element (zero where not counted), ``count`` the number of
    counted elements; ``"mean"`` divides by ``weight.sum()`` (``weighted_mean="weight_sum"``, a weighted
    average, PyTorch's convention) or by ``count`` (``"count"``, or when there is no weight).
    """
    if weight is not None and weighted_mean == "weight_sum":
        denominator: Tensor | int = weight.sum(dtype=torch.promote_types(weight.dtype, torch.float32))
    else:
        denominator = count
    return reduce(values, reduction, denominator=denominator)
