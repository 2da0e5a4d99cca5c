"""The experiments' data: scikit-image's bundled photographs (loaded in :mod:`imagelosses.backbones.normalization`,
which measures the normalised VGG on them) and textures, scikit-learn's digits, generated
images of touching cells with known instances, the image measures computed on them (luma, Gaussian blur), and
the sign test of an effect over seeds that verdict rules use. Figure writing is :mod:`.figures`.

Nothing here downloads anything: the photographs, textures and digits ship inside scikit-image and
scikit-learn (the ``demo`` extra), which are imported inside the functions that need them.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .._core.checks import check_int, check_option, fail
from ..backbones.normalization import PHOTOGRAPHS, bundled_image, central_square, photograph
from .base import Summary

__all__ = [
    "PHOTOGRAPHS",
    "TEXTURES",
    "describe_effect",
    "digits",
    "effect",
    "gaussian_blur",
    "luminance",
    "photograph",
    "texture",
]

#: scikit-image's bundled grey textures.
TEXTURES: tuple[str, ...] = ("brick", "grass", "gravel")


def texture(name: str, size: int) -> Tensor:
    """A bundled grey texture, central square resized to ``size``, repeated to ``(1, 3, size, size)``."""
    check_option(name, "name", TEXTURES)
    return central_square(bundled_image(name), check_int(size, "size", low=8)).expand(1, 3, -1, -1).clone()


def digits() -> tuple[Tensor, Tensor]:
    """scikit-learn's bundled 8×8 digits: ``(1797, 64)`` float features in [0, 1] and ``(1797,)`` labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (torch.from_numpy(np.asarray(bunch.data, dtype=np.float32) / 16.0),
            torch.from_numpy(np.asarray(bunch.target, dtype=np.int64)))


def luminance(x: Tensor) -> Tensor:
    """ITU-R BT.601 luma Y in [0, 1] (``(16 + 65.481 R + 128.553 G + 24.966 B) / 255``), as SR papers
    compute PSNR; ``(N, 3, H, W)`` → ``(N, H, W)``."""
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def gaussian_blur(x: Tensor, sigma: float, *, border: Literal["reflect", "replicate"] = "reflect") -> Tensor:
    """Separable Gaussian blur of ``(N, C, H, W)`` with standard deviation ``sigma`` pixels (kernel radius
    ``max(1, ⌈3σ⌉)``; the border reflected, or replicated with ``border="replicate"``)."""
    if sigma <= 0:
        return x
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode=border)
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


Effect = Literal["positive", "negative", "unclear"]


def effect(summary: Summary, metric: str) -> Effect:
    """The sign of a per-seed difference: ``"positive"`` when it is > 0 in every seed and its mean exceeds
    its standard deviation over seeds, ``"negative"`` when it is < 0 in every seed and ``|mean| > std``,
    else ``"unclear"``. (With one seed the spread is 0 and only the sign counts.)"""
    if metric not in summary.values:
        fail("metric", f"one of {sorted(summary.values)}", repr(metric))
    mean, std = summary.mean(metric), summary.std(metric)
    if summary.all(metric, lambda v: v > 0) and mean > std:
        return "positive"
    if summary.all(metric, lambda v: v < 0) and -mean > std:
        return "negative"
    return "unclear"


def describe_effect(summary: Summary, metric: str, label: str, sign: str, digits: int = 3) -> str:
    """``"<label> +0.123 ± 0.045 (positive)"``: a per-seed difference in words, for a verdict's reason."""
    return f"{label} {summary.mean(metric):+.{digits}f} ± {summary.std(metric):.{digits}f} ({sign})"
