"""Measures of a texture synthesis or a style transfer against its source image: its colours, its fine detail,
and whether it is a copy.

- :func:`mean_chroma`: the mean HSV chroma ``max(R, G, B) − min(R, G, B)`` (0 for a grey image; uniform RGB
  noise has ~0.5). A grey source must give a grey texture.
- :func:`channel_histogram_distance`: how far the per-channel value histograms lie apart.
- :func:`high_frequency_energy`: the mean squared difference of neighbouring pixels; pixel-level noise
  raises it, blur lowers it. Compared as a ratio to the source's.
- :func:`copied_fraction`: the share of the synthesis's patches that appear (nearly) verbatim in the source;
  a synthesis that copies the source, or tiles it, scores near 1, a new texture near 0.

They score outputs; they are not losses and are never differentiated. Images are ``(N, 3, H, W)`` in [0, 1];
each measure returns one value per image, ``(N,)``, in float32 (float64 for float64 inputs); a NaN or an
infinity in an input gives NaN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .._core.checks import check_floating, check_int, check_ndim, check_nonempty, check_number, fail, fmt_shape
from .._core.dtypes import at_least_float32, nan_if_nonfinite

__all__ = ["channel_histogram_distance", "copied_fraction", "high_frequency_energy", "mean_chroma"]


def _rgb(x: Tensor, name: str) -> Tensor:
    check_floating(x, name)
    check_ndim(x, name, (4,), "(N, 3, H, W)")
    if x.shape[1] != 3:
        fail(name, "RGB images (N, 3, H, W)", f"shape {fmt_shape(x.shape)}")
    check_nonempty(x, name)
    return at_least_float32(x.detach())


def mean_chroma(image: Tensor) -> Tensor:
    """Mean over pixels of the chroma ``max(R, G, B) − min(R, G, B)``, in the images' units (multiply by 255
    for 8-bit levels).

    Example:
        >>> grey = torch.full((1, 3, 4, 4), 0.5); red = torch.zeros(1, 3, 4, 4); red[:, 0] = 1
        >>> mean_chroma(torch.cat([grey, red]))
        tensor([0., 1.])
    """
    x = _rgb(image, "image")
    return (x.amax(dim=1) - x.amin(dim=1)).mean(dim=(-2, -1))


def channel_histogram_distance(image: Tensor, source: Tensor, *, bins: int = 32) -> Tensor:
    """The total-variation distance ``½ Σ_b |p_b − q_b|`` between the value histograms of ``image`` and
    ``source`` (``bins`` equal bins over [0, 1], values outside clamped into the end bins), per channel,
    averaged over R, G and B: 0 for the same colour distribution, 1 for disjoint ones. The two may differ in
    size; ``source`` is one image ``(1, 3, H', W')`` or one per image.

    Example:
        >>> a = torch.zeros(1, 3, 4, 4); b = torch.ones(1, 3, 4, 4)
        >>> channel_histogram_distance(a, a), channel_histogram_distance(a, b)
        (tensor([0.]), tensor([1.]))
    """
    bins = check_int(bins, "bins", low=1)
    x, s = _rgb(image, "image"), _rgb(source, "source")
    if s.shape[0] not in (1, x.shape[0]):
        fail("source", f"one image or {x.shape[0]} (one per image)", f"shape {fmt_shape(source.shape)}")

    def histograms(y: Tensor) -> Tensor:
        # NaN counts in bin 0 here; the result is NaN anyway (nan_if_nonfinite below)
        index = (y.nan_to_num(0.0).clamp(0, 1) * bins).long().clamp_max(bins - 1).flatten(2)  # (N, 3, HW)
        counts = torch.zeros(*index.shape[:2], bins, dtype=y.dtype, device=y.device)
        counts.scatter_add_(2, index, torch.ones_like(index, dtype=y.dtype))
        return counts / index.shape[-1]

    return nan_if_nonfinite(0.5 * (histograms(x) - histograms(s)).abs().sum(dim=-1).mean(dim=1), x, s)


def high_frequency_energy(image: Tensor) -> Tensor:
    """The mean squared difference of vertically and horizontally neighbouring pixels, over all channels:
    ``½ (mean (x_{i+1,j} − x_{i,j})² + mean (x_{i,j+1} − x_{i,j})²)``. Independent uniform noise in [0, 1]
    gives 1/6; a constant image 0.

    Example:
        >>> stripes = torch.zeros(1, 3, 4, 4); stripes[..., ::2] = 1
        >>> high_frequency_energy(stripes)
        tensor([0.5000])
    """
    x = _rgb(image, "image")
    dh = (x[..., 1:, :] - x[..., :-1, :]).square().mean(dim=(1, 2, 3))
    dw = (x[..., :, 1:] - x[..., :, :-1]).square().mean(dim=(1, 2, 3))
    return 0.5 * (dh + dw)


def copied_fraction(image: Tensor, source: Tensor, *, patch: int = 16, tolerance: float = 8 / 255) -> Tensor:
    """The share of ``image``'s ``patch × patch`` patches (taken at a stride of ``patch // 2``) whose nearest
    patch of ``source`` (every position) lies within an RMS difference of ``tolerance`` (default 8 levels of
    255): 1 for a copy, a crop or a tiling of the source, near 0 for a new image. ``source`` is one image
    ``(1, 3, H', W')``; both sides must be at least ``patch``.

    Example:
        >>> source = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
        >>> copied_fraction(source[..., 4:20, 2:22], source, patch=8), copied_fraction(1 - source, source, patch=8)
        (tensor([1.]), tensor([0.]))
    """
    patch = check_int(patch, "patch", low=1)
    tolerance = check_number(tolerance, "tolerance", low=0.0)
    x, s = _rgb(image, "image"), _rgb(source, "source")
    if s.shape[0] != 1:
        fail("source", "one image (1, 3, H, W)", f"shape {fmt_shape(source.shape)}")
    for name, y in (("image", x), ("source", s)):
        if min(y.shape[-2:]) < patch:
            fail(name, f"height and width >= patch ({patch})", f"shape {fmt_shape(y.shape)}")
    pool = F.unfold(s, patch).squeeze(0).T  # (positions, 3·patch²)
    fractions = []
    for one in x:
        queries = F.unfold(one[None], patch, stride=max(1, patch // 2)).squeeze(0).T
        nearest = torch.cat([torch.cdist(queries[i:i + 256], pool).amin(dim=1) for i in range(0, len(queries), 256)])
        rms = nearest / pool.shape[1] ** 0.5
        fractions.append((rms <= tolerance).to(x.dtype).mean())
    return nan_if_nonfinite(torch.stack(fractions), x, s)
