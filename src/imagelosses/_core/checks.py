"""One validation vocabulary for the whole library.

Every check raises ``ValueError`` (wrong value or shape) or ``TypeError`` (wrong type or dtype) with a
message of one form: ``"<argument>: expected <what was expected>, got <what came>"``. Nothing here uses
``assert`` (asserts vanish under ``python -O``). Checks that must read tensor *values* (class indices in
range, NaN) synchronise with the device and break graph capture, so they run only in eager mode
(``torch.compiler.is_compiling()`` is false) and, for NaN, only when the caller asks.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

import torch
from torch import Tensor

__all__ = [
    "check_bool",
    "check_flags",
    "check_floating",
    "check_index_range",
    "check_int",
    "check_integer",
    "check_ndim",
    "check_nonempty",
    "check_number",
    "check_option",
    "check_prediction",
    "check_same_device",
    "check_same_shape",
    "check_tensor",
    "check_unit_range",
    "check_weight_map",
    "eager",
    "fail",
    "fmt_shape",
    "require_finite",
]


def fmt_shape(shape: Iterable[int]) -> str:
    """``(4, 3, 32, 32)``; a 1-tuple is written ``(4,)`` as Python does."""
    return str(tuple(int(s) for s in shape))


def fail(name: str, expected: str, got: Any, *, exc: type[Exception] = ValueError) -> NoReturn:
    """Raise ``exc("<name>: expected <expected>, got <got>")``."""
    raise exc(f"{name}: expected {expected}, got {got}")


def eager() -> bool:
    """Whether value checks may run: false while ``torch.compile`` traces (they would break the graph)."""
    return not torch.compiler.is_compiling()


def check_tensor(x: object, name: str) -> Tensor:
    """``x`` must be a ``torch.Tensor`` with data (not on the meta device)."""
    if not isinstance(x, Tensor):
        fail(name, "a torch.Tensor", type(x).__name__, exc=TypeError)
    if x.is_meta and eager():
        fail(name, "a tensor with data (meta tensors carry only a shape)", "a tensor on the meta device")
    return x


def check_floating(x: object, name: str) -> Tensor:
    """``x`` must be a floating-point tensor (logits, images, embeddings)."""
    t = check_tensor(x, name)
    if not t.is_floating_point():
        fail(name, "a floating-point tensor", f"dtype {t.dtype}", exc=TypeError)
    return t


def check_integer(x: object, name: str) -> Tensor:
    """``x`` must be an integer tensor (class indices, labels)."""
    t = check_tensor(x, name)
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        fail(name, "an integer tensor (torch.long)", f"dtype {t.dtype}", exc=TypeError)
    return t


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


def check_same_device(x: Tensor, name: str, ref: Tensor, ref_name: str) -> Tensor:
    """``x`` must be on ``ref``'s device (a clear message where torch would fail deep inside)."""
    if x.device != ref.device:
        owner = f"{ref_name}'" if ref_name.endswith("s") else f"{ref_name}'s"  # samples' device, input's device
        fail(name, f"a tensor on {owner} device {ref.device}", f"device {x.device}")
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
    finite: bool = True,
) -> float:
    """A real number (not bool; Python or numpy scalars) within the given bounds, e.g. ``margin`` > 0,
    ``eps`` >= 0; NaN is refused, and so is ±inf unless ``finite=False``. Returned as a Python float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy scalars are numbers.Real
        fail(name, "a real number", type(value).__name__, exc=TypeError)
    given, number = value, float(value)
    bad_low = low is not None and (number < low if low_inclusive else number <= low)
    bad_high = high is not None and (number > high if high_inclusive else number >= high)
    infinite = finite and number in (float("inf"), float("-inf"))
    if bad_low or bad_high or number != number or infinite:
        lo = "" if low is None else f"{'>=' if low_inclusive else '>'} {low}"
        hi = "" if high is None else f"{'<=' if high_inclusive else '<'} {high}"
        kind = "a finite number " if finite else "a number "
        fail(name, (kind + " and ".join(p for p in (lo, hi) if p)).strip(), repr(given))
    return number


def check_index_range(target: Tensor, name: str, num_classes: int, ignore_index: int | None) -> None:
    """Every entry of ``target`` lies in ``[0, num_classes)``. Eager only, one ``aminmax`` pass.

    Ignored pixels must already be replaced by a valid class (as ``split_target`` does); ``ignore_index``
    is only named in the message.
    """
    if not eager() or target.numel() == 0:
        return
    lo, hi = (int(v) for v in torch.aminmax(target))
    if lo < 0 or hi >= num_classes:
        bad = lo if lo < 0 else hi
        ign = "" if ignore_index is None else f" or ignore_index={ignore_index}"
        fail(name, f"class indices in [0, {num_classes - 1}]{ign}", f"index {bad}")


def check_unit_range(x: Tensor, name: str, *, tolerance: float = 0.1, allow_nan: bool = True) -> Tensor:
    """Image values in [0, 1], ``tolerance`` either side: a batch in 0..255 or in [-1, 1] (another library's
    convention, which a backbone's preprocessing silently turns into features far outside the range its weights
    were trained on) is refused with a message that says how to convert it. One ``aminmax`` pass, eager only
    (skipped under ``torch.compile``). NaN (which ``aminmax`` spreads to both ends) passes when ``allow_nan``, so
    that a loss gives NaN as the library's rule says (``check_finite`` is the check that refuses it); ±inf is out
    of range."""
    if not eager() or x.numel() == 0:
        return x
    lo, hi = (float(v) for v in torch.aminmax(x.detach()))
    if allow_nan and lo != lo:
        return x
    if not (-tolerance <= lo and hi <= 1 + tolerance):  # NaN fails too
        fail(name, f"RGB values in [0, 1] (checked with tolerance {tolerance:g}; divide 0..255 images by 255, map "
             "[-1, 1] images with (x + 1) / 2, or pass check_range=False)", f"values in [{lo:.4g}, {hi:.4g}]")
    return x


def require_finite(x: Tensor, name: str) -> Tensor:
    """No NaN or infinity in ``x``. Eager only; callers run it only when asked (``check_finite=True``)."""
    if eager() and x.numel() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        fail(name, "finite values", f"{bad} NaN or infinite entries")
    return x


def check_bool(value: Any, name: str) -> bool:
    """A Python ``bool`` (the string ``"False"`` would be true)."""
    if not isinstance(value, bool):
        fail(name, "a bool (True or False)", repr(value), exc=TypeError)
    return value


def check_flags(**flags: Any) -> None:
    """Every keyword must be a Python ``bool`` (:func:`check_bool`, by its own name)."""
    for name, value in flags.items():
        check_bool(value, name)


def check_int(value: Any, name: str, *, low: int | None = None, what: str | None = None) -> int:
    """A Python integer (not bool; numpy integers accepted), at least ``low`` when given; ``what`` describes
    the expected value in the message (default: from ``low``)."""
    if what is None:
        what = {None: "an integer", 0: "a non-negative integer", 1: "a positive integer"}.get(
            low, f"an integer >= {low}")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(name, what, type(value).__name__, exc=TypeError)
    if low is not None and value < low:
        fail(name, what, repr(value))
    return int(value)


def check_generator(generator: Any, name: str = "generator") -> torch.Generator | None:
    """None or a CPU ``torch.Generator`` (random draws are made on the CPU, then moved to the data's device,
    so a seeded run gives the same draws on every device)."""
    if generator is None:
        return None
    if not isinstance(generator, torch.Generator):
        fail(name, "a torch.Generator or None", type(generator).__name__, exc=TypeError)
    if generator.device.type != "cpu":
        fail(name, "a CPU torch.Generator (the draws are made on the CPU, then moved to the data's device)",
             f"a generator on {generator.device}")
    return generator


def check_prediction(input: object, check_finite: bool, *, name: str = "input", ndims: Sequence[int] = range(2, 8),
                     layout: str = "(N, C, *)") -> Tensor:
    """A non-empty floating prediction (logits, images, critic scores, samples) of one of ``ndims``
    dimensions, laid out as ``layout``; finite when ``check_finite``."""
    input = check_floating(input, name)
    check_ndim(input, name, ndims, layout)
    check_nonempty(input, name)
    return require_finite(input, name) if check_finite else input


def check_weight_map(weight: Tensor | None, input: Tensor, *, per_channel: bool = True) -> Tensor | None:
    """A non-negative per-pixel ``weight`` map of shape (N, *) or (N, 1, *) (or input's (N, C, *) when
    ``per_channel``); returned broadcast to input's shape (``per_channel``) or as (N, *)."""
    if weight is None:
        return None
    check_floating(weight, "weight")
    check_same_device(weight, "weight", input, "input")
    given = fmt_shape(weight.shape)
    if weight.ndim == input.ndim - 1:
        weight = weight.unsqueeze(1)
    channels = (1, input.shape[1]) if per_channel else (1,)
    if weight.ndim != input.ndim or weight.shape[0] != input.shape[0] or weight.shape[2:] != input.shape[2:] or (
        weight.shape[1] not in channels
    ):
        shapes = "(N, *), (N, 1, *) or (N, C, *)" if per_channel else "(N, *) or (N, 1, *)"
        fail("weight", f"a per-pixel map of shape {shapes} matching input {fmt_shape(input.shape)}", f"shape {given}")
    if eager() and weight.numel() and float(weight.min()) < 0:
        fail("weight", "a non-negative weight map", f"minimum {float(weight.min()):.4g}")
    return weight.expand_as(input) if per_channel else weight.squeeze(1)
