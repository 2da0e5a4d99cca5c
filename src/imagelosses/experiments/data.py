"""The experiments' data: scikit-image's bundled photographs and textures, scikit-learn's digits, generated
images of touching cells with known instances, the image measures computed on them (luma, Gaussian blur), and
the sign test of an effect over seeds that verdict rules use. Figure writing is :mod:`.figures`.

Nothing here downloads anything: the photographs, textures and digits ship inside scikit-image and
scikit-learn (the ``demo`` extra), which are imported inside the functions that need them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .._core.checks import check_int, check_option, fail
from .base import Summary

__all__ = [
    "PHOTOGRAPHS",
    "TEXTURES",
    "Cells",
    "describe_effect",
    "digits",
    "effect",
    "gaussian_blur",
    "luminance",
    "make_cells",
    "photograph",
    "texture",
]

#: scikit-image's bundled colour photographs (``skimage.data.<name>()``; a stained-tissue micrograph last).
PHOTOGRAPHS: tuple[str, ...] = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle", "immunohistochemistry")
#: scikit-image's bundled grey textures.
TEXTURES: tuple[str, ...] = ("brick", "grass", "gravel")


def _skimage_image(name: str) -> np.ndarray:
    from skimage import data

    if name == "motorcycle":
        return np.asarray(data.stereo_motorcycle()[0])  # type: ignore[no-untyped-call]
    return np.asarray(getattr(data, name)())


def _to_tensor(image: np.ndarray) -> Tensor:
    x = torch.from_numpy(np.ascontiguousarray(image)).float() / 255.0
    x = x[None] if x.ndim == 2 else x.permute(2, 0, 1)
    return x[:3].unsqueeze(0)


def _square(x: Tensor, size: int) -> Tensor:
    h, w = x.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    x = x[..., top:top + s, left:left + s]
    if s == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def photograph(name: str, size: int | None = None) -> Tensor:
    """A bundled photograph as a ``(1, 3, H, W)`` float tensor in [0, 1]: the full image when ``size`` is
    None, else its central square resized (bicubic, antialiased) to ``size × size``."""
    check_option(name, "name", PHOTOGRAPHS)
    x = _to_tensor(_skimage_image(name))
    return x if size is None else _square(x, check_int(size, "size", low=8))


def texture(name: str, size: int) -> Tensor:
    """A bundled grey texture, central square resized to ``size``, repeated to ``(1, 3, size, size)``."""
    check_option(name, "name", TEXTURES)
    return _square(_to_tensor(_skimage_image(name)), check_int(size, "size", low=8)).expand(1, 3, -1, -1).clone()


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


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of ``(N, C, H, W)`` with standard deviation ``sigma`` pixels (reflect border)."""
    if sigma <= 0:
        return x
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


# ------------------------------------------------------------------------------------------- cells
@dataclass(frozen=True)
class Cells:
    """Generated microscopy-like images with their ground truth.

    ``images`` ``(N, 1, S, S)`` in about [0, 1]; ``instances`` ``(N, S, S)`` int64 instance ids (0 =
    background) after a one-pixel separating background line was carved between touching cells (the
    U-Net paper's labelling); ``mask`` ``(N, S, S)`` int64 foreground (1) / background (0) of the carved
    instances; ``pairs`` the touching pairs ``(image, id_a, id_b)`` (cells that shared an edge before
    carving).
    """

    images: Tensor
    instances: Tensor
    mask: Tensor
    pairs: tuple[tuple[int, int, int], ...]


def _touching_pairs(labels: np.ndarray) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1], labels[1:]),
                 (labels[:-1, :-1], labels[1:, 1:]), (labels[:-1, 1:], labels[1:, :-1])):
        touch = (a != b) & (a > 0) & (b > 0)
        for u, v in zip(a[touch].tolist(), b[touch].tolist(), strict=True):
            pairs.add((min(u, v), max(u, v)))
    return pairs


def _carve(labels: np.ndarray) -> np.ndarray:
    """Set to background every pixel of a cell that has an 8-neighbour in a cell with a *lower* id:
    a one-pixel line that separates touching cells under 8-connectivity."""
    out = labels.copy()
    padded = np.pad(labels, 1)
    h, w = labels.shape
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == dx == 0:
                continue
            nb = padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
            out[(labels > 0) & (nb > 0) & (nb < labels)] = 0
    return out


def _one_image(rng: np.random.Generator, size: int, n_pairs: int, n_single: int, radius: tuple[float, float],
               noise: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    best = np.full((size, size), np.inf)
    labels = np.zeros((size, size), dtype=np.int64)
    profile = np.zeros((size, size))
    cells: list[tuple[float, float, float, float, float]] = []  # cy, cx, ry, rx, angle

    def add(cy: float, cx: float, r: float) -> None:
        aspect = rng.uniform(0.8, 1.25)
        cells.append((cy, cx, r * aspect, r / aspect, rng.uniform(0, math.pi)))

    margin = radius[1] + 2
    for _ in range(n_pairs):
        r1, r2 = rng.uniform(*radius, size=2)
        cy, cx = (float(v) for v in rng.uniform(margin, size - margin, size=2))
        angle = rng.uniform(0, 2 * math.pi)
        dist = (r1 + r2) * rng.uniform(0.8, 0.95)  # overlapping ellipses: the two cells share a border
        add(cy, cx, r1)
        add(float(np.clip(cy + dist * math.sin(angle), 2, size - 3)),
            float(np.clip(cx + dist * math.cos(angle), 2, size - 3)), r2)
    for _ in range(n_single):
        cy, cx = rng.uniform(margin, size - margin, size=2)
        add(float(cy), float(cx), float(rng.uniform(*radius)))
    for k, (cy, cx, ry, rx, ang) in enumerate(cells, start=1):
        c, s = math.cos(ang), math.sin(ang)
        u = ((yy - cy) * c + (xx - cx) * s) / ry
        v = (-(yy - cy) * s + (xx - cx) * c) / rx
        d = np.sqrt(u**2 + v**2)  # < 1 inside the ellipse
        inside = (d < 1) & (d < best)
        labels[inside] = k
        best = np.where(inside, d, best)
        profile = np.where(inside, rng.uniform(0.55, 0.9) * (1 - 0.6 * d**2), profile)  # darker rims
    carved = _carve(labels)
    image = gaussian_blur(torch.from_numpy(profile).float()[None, None], 1.0)[0, 0].numpy()
    gy, gx = rng.normal(size=2)
    illumination = 0.75 + 0.25 * np.tanh(0.6 * (gy * (yy / size - 0.5) + gx * (xx / size - 0.5)) * 4)
    image = 0.1 + image * illumination + rng.normal(scale=noise, size=image.shape)
    return image.astype(np.float32), carved, labels


def make_cells(n: int, generator: torch.Generator, *, size: int = 64, n_pairs: int = 3, n_single: int = 2,
               radius: tuple[float, float] = (3.5, 5.5), noise: float = 0.06) -> Cells:
    """``n`` images of ``size × size`` px with ``n_pairs`` pairs of touching cells and ``n_single`` lone
    cells (elliptical, radius in ``radius`` px, darker towards their rim), blurred (σ = 1 px), under an
    uneven illumination (a random smooth gradient, ×0.5 to ×1.0), plus Gaussian noise of std ``noise``.
    With the defaults about 10 % of the pixels are foreground. Drawn from ``generator`` only."""
    n = check_int(n, "n", low=1)
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    rng = np.random.default_rng(seed)
    images, instances, pairs = [], [], []
    for i in range(n):
        image, carved, labels = _one_image(rng, size, n_pairs, n_single, radius, noise)
        present = set(np.unique(carved).tolist())
        pairs += [(i, a, b) for a, b in sorted(_touching_pairs(labels)) if a in present and b in present]
        images.append(image)
        instances.append(carved)
    inst = torch.from_numpy(np.stack(instances))
    return Cells(torch.from_numpy(np.stack(images))[:, None], inst, (inst > 0).long(), tuple(pairs))


# ------------------------------------------------------------------------------------------ verdicts
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
