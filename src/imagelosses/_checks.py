"""One validation vocabulary for the whole library.

Every check raises ``ValueError`` (wrong value or shape) or ``TypeError`` (wrong type or dtype) with a
message of one form: ``"<argument>: expected <what was expected>, got <what came>"``. Nothing here uses
``assert`` (asserts vanish under ``python -O``). Checks that must read tensor *values* (class indices in
range, NaN) synchronise with the device and break graph capture, so they run only in eager mode
(``torch.compiler.is_compiling()`` is false) and, for NaN, only when the caller asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

import torch
from torch import Tensor

__all__ = [
    "check_finite",
    "check_floating",
    "check_index_range",
    "check_integer",
    "check_ndim",
    "check_nonempty",
    "check_number",
    "check_option",
    "check_same_shape",
    "check_tensor",
    "fail",
    "fmt_shape",
]


def fmt_shape(shape: Iterable[int]) -> str:
    """``(4, 3, 32, 32)``; a 1-tuple is written ``(4,)`` as Python does."""
    return str(tuple(int(s) for s in shape))


def fail(name: str, expected: str, got: Any, *, exc: type[Exception] = ValueError) -> NoReturn:
    """Raise ``exc("<name>: expected <expected>, got <got>")``."""
    raise exc(f"{name}: expected {expected}, got {got}")


def _eager() -> bool:
    return not torch.compiler.is_compiling()


def check_tensor(x: Any, name: str) -> Tensor:
    """``x`` must be a ``torch.Tensor``."""
    if not isinstance(x, Tensor):
        fail(name, "a torch.Tensor", type(x).__name__, exc=TypeError)
    return x


def check_floating(x: Any, name: str) -> Tensor:
    """``x`` must be a floating-point tensor (logits, images, embeddings)."""
    check_tensor(x, name)
    if not x.is_floating_point():
        fail(name, "a floating-point tensor", f"dtype {x.dtype}", exc=TypeError)
    return x


def check_integer(x: Any, name: str) -> Tensor:
    """``x`` must be an integer tensor (class indices, labels)."""
    check_tensor(x, name)
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        fail(name, "an integer tensor (torch.long)", f"dtype {x.dtype}", exc=TypeError)
    return x


def check_ndim(x: Tensor, name: str, ndims: Sequence[int], layout: str) -> Tensor:
    """``x.ndim`` must be one of ``ndims``; ``layout`` names them, e.g. ``"(N, C, H, W)"``."""
    if x.ndim not in ndims:
        fail(name, f"a tensor of shape {layout}", f"shape {fmt_shape(x.shape)}")
    return x


def check_nonempty(x: Tensor, name: str) -> Tensor:
    """The batch (dim 0) and every other dimension must be non-empty."""
    if x.numel() == 0:
        fail(name, "a non-empty tensor", f"shape {fmt_shape(x.shape)}")
    return x


def check_same_shape(x: Tensor, name: str, ref: Tensor, ref_name: str, *, layout: str | None = None) -> Tensor:
    """``x.shape`` must equal ``ref.shape``."""
    if x.shape != ref.shape:
        what = f"shape {layout} " if layout else "shape "
        fail(name, f"{what}matching {ref_name} {fmt_shape(ref.shape)}", fmt_shape(x.shape))
    return x


def check_option(value: Any, name: str, valid: Sequence[Any]) -> Any:
    """``value`` must be one of ``valid``; the message lists them."""
    if not isinstance(value, (str, int, float, bool, type(None))) or value not in valid:
        fail(name, "one of " + ", ".join(repr(v) for v in valid), repr(value))
    return value


def check_number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """A real Python number (not bool) within the given bounds, e.g. ``margin`` > 0, ``eps`` >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(name, "a real number", type(value).__name__, exc=TypeError)
    bad_low = low is not None and (value < low if low_inclusive else value <= low)
    bad_high = high is not None and (value > high if high_inclusive else value >= high)
    if bad_low or bad_high or value != value:
        lo = "" if low is None else f"{'>=' if low_inclusive else '>'} {low}"
        hi = "" if high is None else f"{'<=' if high_inclusive else '<'} {high}"
        fail(name, "a number " + " and ".join(p for p in (lo, hi) if p), repr(value))
    return float(value)


def check_index_range(target: Tensor, name: str, num_classes: int, ignore_index: int | None) -> None:
    """Every entry of ``target`` lies in ``[0, num_classes)``. Eager only, one ``aminmax`` pass.

    Ignored pixels must already be replaced by a valid class (as ``split_target`` does); ``ignore_index``
    is only named in the message.
    """
    if not _eager() or target.numel() == 0:
        return
    lo, hi = (int(v) for v in torch.aminmax(target))
    if lo < 0 or hi >= num_classes:
        bad = lo if lo < 0 else hi
        ign = "" if ignore_index is None else f" or ignore_index={ignore_index}"
        fail(name, f"class indices in [0, {num_classes - 1}]{ign}", f"index {bad}")


def check_finite(x: Tensor, name: str) -> Tensor:
    """No NaN or infinity in ``x``. Eager only; callers run it only when asked (``check_finite=True``)."""
    if _eager() and x.numel() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        fail(name, "finite values", f"{bad} NaN or infinite entries")
    return x
