"""What every part of the command shares: its name, exit statuses, the error type, the one-line-error parser,
the option value types and the device check."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from .._core.checks import fail

if TYPE_CHECKING:
    import torch

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_INTERRUPTED", "IMAGES", "MIN_SIDE", "PROG", "InputError", "Parser",
           "device", "nonneg_float", "nonneg_int", "positive_float", "positive_int", "side"]

PROG = "imagelosses"
EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
#: The smallest image side the VGG reaches relu5_1 with: its four poolings halve the side down to 1 px.
MIN_SIDE = 16

IMAGES = """Images: any file Pillow reads (PNG, JPEG, TIFF, BMP, WebP, ...), in [0, 255] (or 16-bit grey). A grey
(one-channel) image is repeated to RGB; an image with an alpha channel is refused (flatten it first)."""


class InputError(ValueError):
    """Bad input to the command: a missing or unreadable file, an unwritable output, an unusable option."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``imagelosses: error: <message>`` on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{PROG}: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _number(kind: Callable[[str], Any], what: str, ok: Callable[[Any], bool]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not ok(value) or value != value:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


positive_int = _number(int, "a positive integer", lambda v: v >= 1)
nonneg_int = _number(int, "a non-negative integer", lambda v: v >= 0)
nonneg_float = _number(float, "a finite number >= 0", lambda v: 0 <= v < float("inf"))
positive_float = _number(float, "a finite number > 0", lambda v: 0 < v < float("inf"))
#: An image side in pixels: at least :data:`MIN_SIDE` (the upper bound depends on the memory, see ``limits``).
side = _number(int, f"a side of at least {MIN_SIDE} pixels (the VGG halves it four times)", lambda v: v >= MIN_SIDE)


def device(name: str) -> torch.device:
    """``torch.device(name)``; ``cuda`` refused where CUDA is not available."""
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        fail("--device", "cpu (CUDA is not available on this machine)", repr(name), exc=InputError)
    return torch.device(name)
