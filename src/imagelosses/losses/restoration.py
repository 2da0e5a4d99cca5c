"""Restoration losses: SSIM, MS-SSIM, Zhao et al.'s MS-SSIM + L1 mix, and total variation.

Conventions shared by the SSIM family (:func:`ssim`, :func:`ms_ssim`, their losses and :func:`ms_ssim_l1_loss`):

- ``input`` and ``target`` are (N, C, H, W) floating tensors of one shape, values on a scale whose range is
  ``data_range`` (1 for images in [0, 1], 255 for 8-bit values); C1 = (k1·L)², C2 = (k2·L)².
- The local statistics are Gaussian-weighted (``kernel_size`` taps, standard deviation ``sigma``, normalised to
  sum 1) over the *valid* region only: no padding, so an H × W image has (H − k + 1) × (W − k + 1) SSIM values.
  One fused pass computes the five statistics μx, μy, E[x²], E[y²], E[xy]: they are stacked along the channels
  and filtered by a separable Gaussian, one grouped 1-D convolution per axis (the inputs that need a gradient in
  one stack, the others in a second, so the backward pass filters only what it must). Variances and the
  covariance are population ones (``E[x²] − μx²``).
- Each channel is scored separately and the channels are averaged: the per-image value is the mean over channels
  and valid positions. ``reduction="none"`` returns these per-image values, (N,); ``"mean"`` averages them over the
  batch and ``"sum"`` adds them up.
- Half-precision inputs are computed in float32 and the result is returned in the input's dtype; a NaN or an
  infinity in an input gives NaN.

Other libraries' conventions: pytorch-msssim (``ssim``, ``ms_ssim``, ``win_size=11``, ``win_sigma=1.5``), piq
(``ssim(downsample=False)``) and scikit-image (``structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False)``) compute the same SSIM as :func:`ssim`. piq's default ``downsample=True`` first
average-pools images larger than 256 px by ``round(min(H, W) / 256)``, and kornia's ``ssim`` pads the images
(reflection padding before the Gaussian), so both give other numbers on the same images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from .._core.checks import (
    check_floating,
    check_prediction,
    check_same_device,
    check_same_shape,
    fail,
    fmt_shape,
    require_finite,
)
from .._core.dtypes import at_least_float32, nan_if_nonfinite
from .._core.module import OptionsLoss
from .._core.options import Options, integer, number
from .._core.reduction import Reduction, reduce

__all__ = [
    "MS_SSIM_SCALES",
    "MS_SSIM_WEIGHTS",
    "MSSSIML1Loss",
    "MSSSIMLoss",
    "MSSSIMMixOptions",
    "SSIMLoss",
    "SSIMOptions",
    "TotalVariationLoss",
    "TotalVariationOptions",
    "gaussian_window",
    "ms_ssim",
    "ms_ssim_l1_loss",
    "ms_ssim_loss",
    "ssim",
    "ssim_loss",
    "total_variation_loss",
]

#: Wang, Simoncelli, Bovik 2003's weights of the five scales, finest first.
MS_SSIM_WEIGHTS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_SCALES = len(MS_SSIM_WEIGHTS)
TVNorm = Literal["anisotropic", "isotropic", "squared"]


@dataclass(frozen=True)
class SSIMOptions(Options):
    """The options of :func:`ssim`, :func:`ms_ssim` and their losses: ``data_range`` L > 0, an odd
    ``kernel_size`` ≥ 1, the Gaussian's ``sigma`` > 0, the constants ``k1``, ``k2`` > 0."""

    data_range: float = number(1.0, low=0.0, low_inclusive=False)
    kernel_size: int = integer(11, low=1)
    sigma: float = number(1.5, low=0.0, low_inclusive=False)
    k1: float = number(0.01, low=0.0, low_inclusive=False)
    k2: float = number(0.03, low=0.0, low_inclusive=False)
    reduction: Reduction = "mean"
    check_finite: bool = False

    def validate(self) -> None:
        if self.kernel_size % 2 == 0:
            fail("kernel_size", "an odd integer >= 1 (the window has a centre pixel)", repr(self.kernel_size))


@dataclass(frozen=True)
class MSSSIMMixOptions(SSIMOptions):
    """The options of :func:`ms_ssim_l1_loss`: those of :class:`SSIMOptions` and the mixing weight ``alpha`` in
    [0, 1]."""

    alpha: float = number(0.84, low=0.0, high=1.0)


@dataclass(frozen=True)
class TotalVariationOptions(Options):
    """The options of :func:`total_variation_loss`: the ``norm`` of the image gradient, the smoothing ``eps`` ≥ 0
    of the isotropic norm, the reduction."""

    norm: TVNorm = "anisotropic"
    eps: float = number(1e-8, low=0.0)
    reduction: Reduction = "mean"
    check_finite: bool = False


# ------------------------------------------------------------------------------------------- the kernel
def gaussian_window(kernel_size: int, sigma: float, *, dtype: torch.dtype = torch.float32,
                    device: torch.device | str | None = None) -> Tensor:
    """The 1-D Gaussian window ``g_i ∝ exp(−(i − k//2)² / (2σ²))``, ``i = 0 … k − 1``, normalised to sum 1
    (the window of pytorch-msssim and of Wang et al.'s reference code, whose 2-D window is ``g gᵀ``).

    Example:
        >>> [round(v, 4) for v in gaussian_window(3, 1.0).tolist()]
        [0.2741, 0.4519, 0.2741]
    """
    coords = torch.arange(kernel_size, dtype=torch.float64) - kernel_size // 2
    g = torch.exp(-coords.square() / (2.0 * sigma * sigma))
    return (g / g.sum()).to(dtype=dtype, device=device)


def _filter(stack: Tensor, window: Tensor) -> Tensor:
    """Valid separable Gaussian filtering of every channel of ``stack`` (N, C, H, W): one grouped 1-D convolution
    along H, then one along W."""
    c, k = stack.shape[1], window.numel()
    out = F.conv2d(stack, window.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)
    return F.conv2d(out, window.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)


def _statistics(x: Tensor, y: Tensor, window: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """μx, μy, E[x²], E[y²], E[xy] in one fused pass (two grouped convolutions per stack). When only one of the
    two images needs a gradient (a prediction against a fixed target), the statistics of the other one are
    filtered in a second stack, so the backward pass filters three maps instead of five."""
    grad_x = x.requires_grad and torch.is_grad_enabled()
    grad_y = y.requires_grad and torch.is_grad_enabled()
    if grad_x == grad_y:
        out = _filter(torch.cat([x, y, x * x, y * y, x * y], dim=1), window)
        mx, my, xx, yy, xy = out.chunk(5, dim=1)
        return mx, my, xx, yy, xy
    a, b = (x, y) if grad_x else (y, x)
    moving = _filter(torch.cat([a, a * a, x * y], dim=1), window)
    fixed = _filter(torch.cat([b, b * b], dim=1), window)
    ma, aa, xy = moving.chunk(3, dim=1)
    mb, bb = fixed.chunk(2, dim=1)
    return (ma, mb, aa, bb, xy) if grad_x else (mb, ma, bb, aa, xy)


def _ssim_cs(x: Tensor, y: Tensor, window: Tensor, c1: float, c2: float) -> tuple[Tensor, Tensor]:
    """Per image and channel (N, C): the mean SSIM and the mean contrast-structure term over the valid region."""
    mx, my, xx, yy, xy = _statistics(x, y, window)
    mxx, myy, mxy = mx * mx, my * my, mx * my
    cs_map = (2.0 * (xy - mxy) + c2) / ((xx - mxx) + (yy - myy) + c2)
    ssim_map = cs_map * (2.0 * mxy + c1) / (mxx + myy + c1)
    return ssim_map.mean(dim=(-2, -1)), cs_map.mean(dim=(-2, -1))


def _check_pair(input: Tensor, target: Tensor, check_finite: bool) -> None:
    check_prediction(input, check_finite, ndims=(4,), layout="(N, C, H, W)")
    check_floating(target, "target")
    check_same_device(target, "target", input, "input")
    check_same_shape(target, "target", input, "input")
    if check_finite:
        require_finite(target, "target")


def _check_window(input: Tensor, kernel_size: int) -> None:
    if min(input.shape[-2:]) < kernel_size:
        fail("input", f"height and width >= kernel_size = {kernel_size} (SSIM is computed over the valid region)",
             f"shape {fmt_shape(input.shape)}")


def _ms_ssim_min_side(kernel_size: int) -> int:
    return (kernel_size - 1) << (MS_SSIM_SCALES - 1)


def _check_scales(input: Tensor, kernel_size: int) -> None:
    need = _ms_ssim_min_side(kernel_size)
    if min(input.shape[-2:]) <= need:
        fail("input", f"height and width > (kernel_size - 1)·2^{MS_SSIM_SCALES - 1} = {need} for "
                      f"{MS_SSIM_SCALES} scales of MS-SSIM with kernel_size = {kernel_size} (use a smaller "
                      f"kernel_size, larger images, or ssim)", f"shape {fmt_shape(input.shape)}")


def _constants(options: SSIMOptions) -> tuple[float, float]:
    return (options.k1 * options.data_range) ** 2, (options.k2 * options.data_range) ** 2


def ssim_values(input: Tensor, target: Tensor, options: SSIMOptions) -> Tensor:
    """The shared kernel of :func:`ssim`: per-image SSIM, (N,), in float32 or wider, from checked options
    (inputs are checked here)."""
    _check_pair(input, target, options.check_finite)
    _check_window(input, options.kernel_size)
    x, y = at_least_float32(input), at_least_float32(target)
    window = gaussian_window(options.kernel_size, options.sigma, dtype=x.dtype, device=x.device)
    values, _ = _ssim_cs(x, y, window, *_constants(options))
    return values.mean(dim=1)


def ms_ssim_values(input: Tensor, target: Tensor, options: SSIMOptions) -> Tensor:
    """The shared kernel of :func:`ms_ssim`: per-image MS-SSIM, (N,), in float32 or wider."""
    _check_pair(input, target, options.check_finite)
    _check_scales(input, options.kernel_size)
    x, y = at_least_float32(input), at_least_float32(target)
    window = gaussian_window(options.kernel_size, options.sigma, dtype=x.dtype, device=x.device)
    c1, c2 = _constants(options)
    factors = []
    for scale in range(MS_SSIM_SCALES):
        ssim_c, cs_c = _ssim_cs(x, y, window, c1, c2)
        if scale < MS_SSIM_SCALES - 1:
            factors.append(torch.relu(cs_c))
            padding = [s % 2 for s in x.shape[-2:]]  # pytorch-msssim's pooling of odd sides (zero pad, counted)
            x = F.avg_pool2d(x, kernel_size=2, padding=padding)
            y = F.avg_pool2d(y, kernel_size=2, padding=padding)
        else:
            factors.append(torch.relu(ssim_c))
    stacked = torch.stack(factors)  # (scales, N, C)
    weights = torch.tensor(MS_SSIM_WEIGHTS, dtype=stacked.dtype, device=stacked.device).view(-1, 1, 1)
    return stacked.pow(weights).prod(dim=0).mean(dim=1)


def _reduced(values: Tensor, options: SSIMOptions, input: Tensor, target: Tensor) -> Tensor:
    out = reduce(values, options.reduction)
    return nan_if_nonfinite(out, input, target).to(input.dtype)


# ------------------------------------------------------------------------------------------- SSIM
def ssim(input: Tensor, target: Tensor, *, data_range: float = 1.0, kernel_size: int = 11, sigma: float = 1.5,
         k1: float = 0.01, k2: float = 0.03, reduction: Reduction = "mean", check_finite: bool = False) -> Tensor:
    """The structural similarity index (Wang et al. 2004), a similarity in [−1, 1] (1 for identical images).

    Per channel and valid position (module docstring: a Gaussian window, no padding, population statistics)::

        SSIM = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)),  C1 = (k1·L)², C2 = (k2·L)²

    The per-image value is its mean over the channels and the valid positions; ``"none"`` returns it, (N,);
    ``"mean"`` averages it over the batch, ``"sum"`` adds it up. Equal to pytorch-msssim's ``ssim``, piq's
    ``ssim(downsample=False)`` and scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)`` (kornia pads the images; piq downsamples large ones by default).

    Args:
        input, target: (N, C, H, W) floating images of one shape, H and W ≥ ``kernel_size``.
        data_range: L > 0, the range of the values (1 for [0, 1], 255 for 8-bit).
        kernel_size: the Gaussian window's odd size (11). sigma: its standard deviation (1.5).
        k1, k2: the stabilising constants' factors (0.01, 0.03).
        reduction: ``"none"``, ``"mean"`` or ``"sum"`` over the batch.
        check_finite: raise on NaN/inf inputs instead of returning NaN.

    Shape:
        input, target: (N, C, H, W); output (N,) for ``"none"``, else a scalar.

    Raises:
        TypeError: non-floating images, an option of the wrong type. ValueError: shapes that do not match, images
        smaller than the window, an even ``kernel_size``, an option out of its range, NaN when ``check_finite``.

    References:
        Wang, Bovik, Sheikh, Simoncelli, "Image Quality Assessment: From Error Visibility to Structural
        Similarity", IEEE TIP 2004.

    Example:
        >>> x = torch.linspace(0, 1, 2 * 3 * 16 * 16).reshape(2, 3, 16, 16)
        >>> float(ssim(x, x))
        1.0
        >>> ssim(x, x.flip(0), reduction="none").shape
        torch.Size([2])
    """
    options = SSIMOptions.pick(locals())
    return _reduced(ssim_values(input, target, options), options, input, target)


def ssim_loss(input: Tensor, target: Tensor, *, data_range: float = 1.0, kernel_size: int = 11, sigma: float = 1.5,
              k1: float = 0.01, k2: float = 0.03, reduction: Reduction = "mean", check_finite: bool = False
              ) -> Tensor:
    """``1 − SSIM`` per image (:func:`ssim`), in [0, 2], reduced over the batch; arguments as :func:`ssim`.

    Example:
        >>> x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))
        >>> float(ssim_loss(x, x))
        0.0
    """
    options = SSIMOptions.pick(locals())
    return _reduced(1.0 - ssim_values(input, target, options), options, input, target)


class SSIMLoss(OptionsLoss[SSIMOptions], function=(ssim_loss, ssim)):
    """``1 − SSIM`` per image as a module (Wang et al. 2004; :func:`ssim`: a valid-region Gaussian window, per
    channel, averaged).

    ``SSIMLoss(data_range=1.0, kernel_size=11, sigma=1.5, k1=0.01, k2=0.03, reduction="mean",
    check_finite=False)``, called as ``loss(input, target)`` on (N, C, H, W) images; ``"none"`` gives (N,).

    Example:
        >>> x = torch.zeros(2, 1, 11, 11)
        >>> SSIMLoss()(x, x)
        tensor(0.)
    """

    Options = SSIMOptions

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        options = self.current_options()
        return _reduced(1.0 - ssim_values(input, target, options), options, input, target)


# ------------------------------------------------------------------------------------------- MS-SSIM
def ms_ssim(input: Tensor, target: Tensor, *, data_range: float = 1.0, kernel_size: int = 11, sigma: float = 1.5,
            k1: float = 0.01, k2: float = 0.03, reduction: Reduction = "mean", check_finite: bool = False) -> Tensor:
    """Multi-scale SSIM (Wang, Simoncelli, Bovik 2003) over 5 scales, per channel, averaged over the channels.

    Scale 1 is the image; each next scale is the 2×2 average pooling of the previous one (an odd side is first
    zero-padded by one pixel on each side and the padding counted, as pytorch-msssim does). With ``cs_j`` the
    mean contrast-structure term ``(2σxy + C2)/(σx² + σy² + C2)`` of scale j over its valid region and ``SSIM_M``
    the mean SSIM of the last scale, per channel::

        MS-SSIM = Π_{j<M} relu(cs_j)^{w_j} · relu(SSIM_M)^{w_M},  w = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

    **Negative values are clamped to 0 before the power** (``relu``, as pytorch-msssim does): a negative
    contrast-structure mean at a coarse scale (anti-correlated images) would otherwise give a NaN fractional
    power; with the clamp such a pair scores 0. The per-image value is the mean over the channels; ``reduction``
    as :func:`ssim`. Equal to pytorch-msssim's ``ms_ssim``.

    Args:
        input, target: (N, C, H, W) floating images, H and W > (kernel_size − 1)·2⁴ (160 for the default window:
            the window must fit the fifth scale). Other arguments as :func:`ssim`.

    Raises:
        ValueError: images too small for 5 scales at this window, and the errors of :func:`ssim`.

    References:
        Wang, Simoncelli, Bovik, "Multiscale structural similarity for image quality assessment", Asilomar 2003.

    Example:
        >>> x = torch.rand(1, 1, 161, 161, generator=torch.Generator().manual_seed(0))
        >>> round(float(ms_ssim(x, x)), 6)
        1.0
    """
    options = SSIMOptions.pick(locals())
    return _reduced(ms_ssim_values(input, target, options), options, input, target)


def ms_ssim_loss(input: Tensor, target: Tensor, *, data_range: float = 1.0, kernel_size: int = 11,
                 sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03, reduction: Reduction = "mean",
                 check_finite: bool = False) -> Tensor:
    """``1 − MS-SSIM`` per image (:func:`ms_ssim`), reduced over the batch; arguments as :func:`ms_ssim`.

    Example:
        >>> x = torch.rand(1, 1, 33, 33, generator=torch.Generator().manual_seed(0))
        >>> round(float(ms_ssim_loss(x, x, kernel_size=3)), 6)
        0.0
    """
    options = SSIMOptions.pick(locals())
    return _reduced(1.0 - ms_ssim_values(input, target, options), options, input, target)


class MSSSIMLoss(OptionsLoss[SSIMOptions], function=(ms_ssim_loss, ms_ssim)):
    """``1 − MS-SSIM`` per image as a module (:func:`ms_ssim`: 5 scales, cs clamped at 0 with relu).

    ``MSSSIMLoss(data_range=1.0, kernel_size=11, sigma=1.5, k1=0.01, k2=0.03, reduction="mean",
    check_finite=False)``, called as ``loss(input, target)``; images larger than (kernel_size − 1)·16 a side.

    Example:
        >>> x = torch.rand(2, 3, 33, 33, generator=torch.Generator().manual_seed(0))
        >>> MSSSIMLoss(kernel_size=3, reduction="none")(x, x).abs().max() < 1e-6
        tensor(True)
    """

    Options = SSIMOptions

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        options = self.current_options()
        return _reduced(1.0 - ms_ssim_values(input, target, options), options, input, target)


# ------------------------------------------------------------------------------------------- Zhao's mix
def mix_values(input: Tensor, target: Tensor, options: MSSSIMMixOptions) -> Tensor:
    """The shared kernel of :func:`ms_ssim_l1_loss`: the per-image mix, (N,), in float32 or wider."""
    ms = ms_ssim_values(input, target, options)  # checks the inputs and the size
    x, y = at_least_float32(input), at_least_float32(target)
    scale = 1 << (MS_SSIM_SCALES - 1)
    window = gaussian_window(_ms_ssim_min_side(options.kernel_size) + 1, options.sigma * scale, dtype=x.dtype,
                             device=x.device)
    l1 = _filter((x - y).abs() / options.data_range, window).mean(dim=(1, 2, 3))
    return options.alpha * (1.0 - ms) + (1.0 - options.alpha) * l1


def ms_ssim_l1_loss(input: Tensor, target: Tensor, *, alpha: float = 0.84, data_range: float = 1.0,
                    kernel_size: int = 11, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03,
                    reduction: Reduction = "mean", check_finite: bool = False) -> Tensor:
    """Zhao et al.'s Mix: ``α·(1 − MS-SSIM) + (1 − α)·G_σM ⊛ |x − y| / L`` per image, α = 0.84.

    The first term is :func:`ms_ssim_loss`. The second is the per-pixel L1 map ``|x − y|`` divided by the data
    range L (so the two terms share a scale; for L = 1 it is Zhao's L1), filtered by the Gaussian of the coarsest
    scale, as in Zhao et al.'s code: σ_M = ``sigma``·2⁴ (24 px for σ = 1.5), a window of (kernel_size − 1)·2⁴ + 1
    taps (161; the footprint of the fifth scale's window in full-resolution pixels) **normalised to sum 1**,
    separable, applied over the valid region (no padding), then averaged over channels and valid positions. Each
    position's L1 is thus a Gaussian-weighted *average* of the errors around it (Zhao's per-patch-centre loss),
    and the per-image value is in the same units as the plain L1 mean. ``reduction`` as :func:`ssim`.

    The MS-SSIM term is Wang et al.'s dyadic pyramid (:func:`ms_ssim`, pytorch-msssim's). Zhao et al. and kornia's
    ``MS_SSIMLoss`` instead use five Gaussians (σ = 0.5 … 8) at full resolution; kornia also zero-pads and
    defaults to α = 0.025 with a factor 200, so its numbers differ from these.

    Args:
        alpha: α in [0, 1], the weight of the MS-SSIM term (0.84, Zhao et al.). Other arguments as :func:`ms_ssim`.

    References:
        Zhao, Gallo, Frosio, Kautz, "Loss Functions for Image Restoration with Neural Networks", IEEE TCI 2017,
        arXiv 1511.08861, Section III-C.

    Example:
        >>> x = torch.rand(1, 1, 33, 33, generator=torch.Generator().manual_seed(0))
        >>> round(float(ms_ssim_l1_loss(x, x, kernel_size=3)), 6)
        0.0
    """
    options = MSSSIMMixOptions.pick(locals())
    return _reduced(mix_values(input, target, options), options, input, target)


class MSSSIML1Loss(OptionsLoss[MSSSIMMixOptions], function=(ms_ssim_l1_loss, ms_ssim)):
    """Zhao et al.'s Mix ``α·(1 − MS-SSIM) + (1 − α)·G_σM ⊛ |x − y| / L`` as a module (:func:`ms_ssim_l1_loss`).

    ``MSSSIML1Loss(alpha=0.84, data_range=1.0, kernel_size=11, sigma=1.5, k1=0.01, k2=0.03, reduction="mean",
    check_finite=False)``, called as ``loss(input, target)``.

    Example:
        >>> x = torch.zeros(1, 1, 33, 33); y = torch.ones(1, 1, 33, 33)
        >>> round(float(MSSSIML1Loss(kernel_size=3, alpha=0.0)(x, y)), 6)
        1.0
    """

    Options = MSSSIMMixOptions

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        options = self.current_options()
        return _reduced(mix_values(input, target, options), options, input, target)


# ------------------------------------------------------------------------------------------- total variation
def tv_values(input: Tensor, options: TotalVariationOptions) -> Tensor:
    """The shared kernel of :func:`total_variation_loss`: the per-image total, (N,), in float32 or wider."""
    check_prediction(input, options.check_finite, ndims=(3, 4), layout="(N, C, H, W) or (N, H, W)")
    x = at_least_float32(input)
    x = x.unsqueeze(1) if x.ndim == 3 else x
    dv = x[..., 1:, :] - x[..., :-1, :]
    dh = x[..., :, 1:] - x[..., :, :-1]
    if options.norm == "anisotropic":
        return dv.abs().sum(dim=(1, 2, 3)) + dh.abs().sum(dim=(1, 2, 3))
    if options.norm == "squared":
        return dv.square().sum(dim=(1, 2, 3)) + dh.square().sum(dim=(1, 2, 3))
    # isotropic: forward differences on the H × W grid, zero past the last row/column (Chambolle 2004)
    sq = F.pad(dv.square(), (0, 0, 0, 1)) + F.pad(dh.square(), (0, 1, 0, 0))
    return torch.sqrt(sq + options.eps).sum(dim=(1, 2, 3))


def total_variation_loss(input: Tensor, *, norm: TVNorm = "anisotropic", eps: float = 1e-8,
                         reduction: Reduction = "mean", check_finite: bool = False) -> Tensor:
    """Total variation of images, a smoothness regulariser, with Δv = x[i+1, j] − x[i, j] and
    Δh = x[i, j+1] − x[i, j]:

    - ``"anisotropic"``: ``Σ |Δv| + Σ |Δh|`` over the (H − 1)·W vertical and H·(W − 1) horizontal differences
      (kornia's ``total_variation``, Rudin-Osher-Fatemi's discrete anisotropic TV);
    - ``"isotropic"``: ``Σ_{i,j} sqrt(Δv² + Δh² + ε)`` over the H × W grid, a difference past the last row or
      column being 0 (Chambolle 2004); ``ε`` ≥ 0 keeps the gradient finite where the image is flat (each pixel
      then contributes ``sqrt(ε)``, not 0);
    - ``"squared"``: ``Σ Δv² + Σ Δh²``, the β = 2 form of Mahendran & Vedaldi that Johnson et al.'s
      fast-neural-style code uses as its TV regulariser (their ``TotalVariation`` module; its weight multiplies
      the sum).

    Sums run over channels; ``"none"`` returns the per-image total, (N,). ``"sum"`` adds the totals up (equal to
    ``kornia.losses.total_variation(x, reduction="sum").sum()`` for ``"anisotropic"``). ``"mean"`` divides that
    sum by the number of elements N·C·H·W, so the value does not grow with the image size (kornia's
    ``reduction="mean"`` instead averages the vertical and the horizontal differences separately, over
    (H − 1)·W and H·(W − 1) per channel, and adds the two means).

    Args:
        input: (N, C, H, W) or (N, H, W) floating images.
        norm: ``"anisotropic"``, ``"isotropic"`` or ``"squared"``.
        eps: ε ≥ 0 of the isotropic norm (ignored by the others).
        reduction: ``"none"``, ``"mean"`` or ``"sum"`` (above).
        check_finite: raise on NaN/inf inputs instead of returning NaN.

    Raises:
        TypeError: a non-floating input, an option of the wrong type. ValueError: a wrong number of dimensions,
        an empty input, an unknown ``norm``, NaN when ``check_finite``.

    References:
        Rudin, Osher, Fatemi, Physica D 1992; Chambolle, J. Math. Imaging Vis. 2004; Johnson, Alahi, Fei-Fei,
        ECCV 2016, arXiv 1603.08155.

    Example:
        >>> x = torch.tensor([[[[0.0, 1.0], [1.0, 1.0]]]])
        >>> float(total_variation_loss(x, reduction="sum")), float(total_variation_loss(x))
        (2.0, 0.5)
    """
    options = TotalVariationOptions.pick(locals())
    return _tv_reduced(input, options)


def _tv_reduced(input: Tensor, options: TotalVariationOptions) -> Tensor:
    values = tv_values(input, options)
    out = reduce(values, options.reduction, denominator=float(input.numel()))
    return nan_if_nonfinite(out, input).to(input.dtype)


class TotalVariationLoss(OptionsLoss[TotalVariationOptions], function=total_variation_loss):
    """Total variation as a module (:func:`total_variation_loss`).

    ``TotalVariationLoss(norm="anisotropic", eps=1e-8, reduction="mean", check_finite=False)``, called as
    ``loss(input)``; ``"none"`` gives the per-image totals (N,), ``"mean"`` divides their sum by N·C·H·W.

    Example:
        >>> TotalVariationLoss(reduction="sum")(torch.tensor([[[[0.0, 1.0], [1.0, 1.0]]]]))
        tensor(2.)
    """

    Options = TotalVariationOptions

    def forward(self, input: Tensor) -> Tensor:
        return _tv_reduced(input, self.current_options())
