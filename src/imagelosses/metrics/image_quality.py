"""Image-quality measures for the restoration experiments: the peak signal-to-noise ratio."""

from __future__ import annotations

import torch
from torch import Tensor

from .._core.checks import check_floating, check_number, check_prediction, check_same_device, check_same_shape
from .._core.dtypes import at_least_float32, nan_if_nonfinite

__all__ = ["psnr"]


def psnr(input: Tensor, target: Tensor, *, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio per image, in dB: ``10·log10(L² / MSE)`` with the MSE over all of an image's
    channels and pixels and L = ``data_range``.

    Identical images (MSE = 0) give ``+inf`` (a float infinity, not an error and not a capped number); a NaN or an
    infinity in an input gives NaN. Half-precision inputs are computed in float32, and the result is float32 (or
    float64 for float64 inputs). A measure, not a loss: no reduction; average the (N,) values yourself (the mean
    of per-image PSNRs, the usual convention of restoration papers, differs from the PSNR of the mean MSE).

    Args:
        input, target: (N, C, *) floating tensors of one shape.
        data_range: L > 0, the range of the values (1 for [0, 1], 255 for 8-bit).

    Shape:
        output (N,).

    Raises:
        TypeError: non-floating inputs, a non-number ``data_range``. ValueError: shapes that do not match, an
        empty batch, ``data_range`` ≤ 0.

    Example:
        >>> x = torch.zeros(2, 1, 4, 4); y = torch.full((2, 1, 4, 4), 0.1)
        >>> psnr(x, y)
        tensor([20., 20.])
        >>> psnr(x, x)
        tensor([inf, inf])
    """
    data_range = check_number(data_range, "data_range", low=0.0, low_inclusive=False)
    check_prediction(input, False)
    check_floating(target, "target")
    check_same_device(target, "target", input, "input")
    check_same_shape(target, "target", input, "input")
    x, y = at_least_float32(input), at_least_float32(target)
    mse = (x - y).square().flatten(1).mean(dim=1)
    out = 10.0 * torch.log10(data_range**2 / mse)
    return nan_if_nonfinite(out, input, target)
