"""The one precision rule, and the one NaN rule.

- Half precision (float16/bfloat16 inputs, or autocast) is computed in float32 — every sum, mean, norm, sum of
  squares and Gram — and the result is returned in the input's dtype, as torch's own losses return it.
- A NaN or infinity in any input gives a NaN loss, never a finite one, whatever masking, mining or ``where``
  the loss does inside (:func:`nan_if_nonfinite`).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["at_least_float32", "nan_if_nonfinite", "wide_dtype"]


def at_least_float32(x: Tensor) -> Tensor:
    """``x`` in float32 when it is float16/bfloat16, unchanged otherwise (float32, float64)."""
    return x.to(torch.promote_types(x.dtype, torch.float32)) if x.is_floating_point() else x


def wide_dtype(device: torch.device) -> torch.dtype:
    """The accumulation dtype for counts and exact sums on ``device``: float64, or float32 where the device
    has no float64 (MPS)."""
    return torch.float32 if device.type == "mps" else torch.float64


def nan_if_nonfinite(out: Tensor, *inputs: Tensor | None) -> Tensor:
    """``out`` where every floating input is finite, NaN (every entry) otherwise.

    The test is one sum per input, in float32 for half inputs and in the input's dtype otherwise (NaN and ±inf
    survive a sum), a vectorised read without a mask in memory or a host synchronisation, so it also runs
    under ``torch.compile``; the gradient of ``out`` is unchanged where the inputs are finite. The one
    false alarm: finite float32 inputs whose sum overflows (entries around 1e38 / numel, far beyond any
    logit or image) count as non-finite.
    """
    ok: Tensor | None = None
    for x in inputs:
        if x is not None and x.is_floating_point() and x.numel():
            finite = torch.isfinite(x.detach().sum(dtype=torch.promote_types(x.dtype, torch.float32)))
            ok = finite if ok is None else ok & finite
    if ok is None:
        return out
    return torch.where(ok, out, torch.full_like(out, float("nan")))
