"""The one dtype rule for accumulation: half precision is computed in float32, wider dtypes as they are."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["at_least_float32", "wide_dtype"]


def at_least_float32(x: Tensor) -> Tensor:
    """``x`` in float32 when it is float16/bfloat16, unchanged otherwise (float32, float64)."""
    return x.to(torch.promote_types(x.dtype, torch.float32)) if x.is_floating_point() else x


def wide_dtype(device: torch.device) -> torch.dtype:
    """The accumulation dtype for counts and exact sums on ``device``: float64, or float32 where the device
    has no float64 (MPS)."""
    return torch.float32 if device.type == "mps" else torch.float64
