"""Patch matching data for the ``triplet-mining`` experiment: many patch identities cut from real photographs.

An *identity* is a point of a photograph (converted to grey and downscaled, so that a patch covers a few
image structures). Its *views* are ``patch × patch`` grey patches sampled around that point under a random
nuisance, as in the patch-descriptor benchmarks HardNet trains on (Mishchuk et al. 2017, arXiv 1705.10872):

- geometric: a rotation in ``[−rotate, rotate]`` degrees, a scale in ``[1/scale, scale]`` and a shift of the
  centre in ``[−shift, shift]`` pixels, sampled bilinearly from the photograph (not from a crop, so the
  rotated corners hold real pixels);
- photometric: the contrast around the patch mean multiplied by a factor in ``[1/contrast, contrast]``, a
  brightness offset in ``[−brightness, brightness]``, then Gaussian noise of standard deviation ``noise``;
  values are clipped to [0, 1].

Identities sit on a grid of step ``stride`` (≥ ``patch``: two identities never share a pixel of their
undistorted patches) with a random jitter, and flat patches (standard deviation below ``min_std``: sky, a
blank wall) are left out because nothing could tell them apart. Which photographs give training identities
and which give test identities is the caller's choice (the experiment tests on photographs that no arm
trained on). Everything is bundled with scikit-image; nothing is downloaded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .._core.checks import check_option

__all__ = ["PATCH_PHOTOGRAPHS", "grey_photograph", "make_patches", "patch_centres", "render_views", "standardise"]

#: scikit-image's bundled photographs the patches may come from (colour ones are converted to grey).
PATCH_PHOTOGRAPHS: tuple[str, ...] = ("astronaut", "camera", "chelsea", "coffee", "rocket", "motorcycle",
                                      "immunohistochemistry", "coins", "clock", "moon")


def grey_photograph(name: str, downscale: int = 1) -> Tensor:
    """A bundled photograph as an ``(H, W)`` float tensor in [0, 1]: ITU-R BT.601 luma of the colour ones,
    area-averaged over ``downscale × downscale`` blocks."""
    check_option(name, "name", PATCH_PHOTOGRAPHS)
    from skimage import data

    motorcycle: Callable[[], tuple[np.ndarray, ...]] = data.stereo_motorcycle  # scikit-image is untyped
    array = np.asarray(motorcycle()[0] if name == "motorcycle" else getattr(data, name)())
    x = torch.from_numpy(np.ascontiguousarray(array)).float() / 255.0
    if x.ndim == 3:
        x = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    if downscale > 1:
        x = F.avg_pool2d(x[None, None], downscale)[0, 0]
    return x.contiguous()


def patch_centres(image: Tensor, *, patch: int, stride: int, min_std: float, margin: int,
                  gen: torch.Generator) -> Tensor:
    """``(n, 2)`` float (row, column) centres of the identities of one image: a grid of step ``stride``, each
    point jittered by up to ``(stride − patch) / 2`` pixels (so that undistorted patches never overlap) and kept
    ``margin`` pixels from the border, without the flat ones (patch standard deviation < ``min_std``)."""
    h, w = image.shape
    half = patch / 2
    jitter = max(0.0, (stride - patch) / 2)
    lo = margin + half + jitter
    rows = torch.arange(lo, h - lo + 1e-9, stride)
    cols = torch.arange(lo, w - lo + 1e-9, stride)
    grid = torch.cartesian_prod(rows, cols)
    if grid.numel() == 0:
        return grid.reshape(0, 2)
    grid = grid + (torch.rand(grid.shape, generator=gen) * 2 - 1) * jitter
    grid = grid.round()
    top = (grid[:, 0] - half).long()
    left = (grid[:, 1] - half).long()
    idx = torch.arange(patch)
    crops = image[(top[:, None] + idx)[:, :, None], (left[:, None] + idx)[:, None, :]]
    return grid[crops.flatten(1).std(1) >= min_std]


def render_views(image: Tensor, centres: Tensor, views: int, nuisance: Mapping[str, float], *, patch: int,
                 gen: torch.Generator) -> Tensor:
    """``(n · views, 1, patch, patch)`` views of the identities at ``centres`` (identity-major order: the views
    of identity 0 first), each under its own random nuisance (the keys of ``nuisance``: ``rotate`` in degrees,
    ``scale``, ``shift`` in pixels, ``contrast``, ``brightness``, ``noise``; see the module docstring)."""
    n = centres.shape[0] * views
    if n == 0:
        return image.new_zeros((0, 1, patch, patch))
    h, w = image.shape

    def uniform(bound: float) -> Tensor:
        return (torch.rand(n, generator=gen) * 2 - 1) * bound

    angle = uniform(math.radians(nuisance["rotate"]))
    scale = torch.exp(uniform(math.log(nuisance["scale"])))
    centre = centres.repeat_interleave(views, 0) + torch.stack([uniform(nuisance["shift"]),
                                                                uniform(nuisance["shift"])], 1)
    offsets = torch.arange(patch, dtype=torch.float32) - (patch - 1) / 2
    v, u = torch.meshgrid(offsets, offsets, indexing="ij")  # row, column offsets from the centre
    cos, sin = (torch.cos(angle) * scale)[:, None, None], (torch.sin(angle) * scale)[:, None, None]
    rows = centre[:, 0, None, None] + cos * v + sin * u
    cols = centre[:, 1, None, None] - sin * v + cos * u
    # grid_sample's normalised coordinates (align_corners=False): pixel i sits at (2i + 1) / size − 1.
    grid = torch.stack([(2 * cols + 1) / w - 1, (2 * rows + 1) / h - 1], -1)  # (n, patch, patch, 2) as (x, y)
    out = F.grid_sample(image[None, None], grid.reshape(1, n * patch, patch, 2), mode="bilinear",
                        padding_mode="border", align_corners=False).reshape(n, 1, patch, patch)
    mean = out.mean((2, 3), keepdim=True)
    contrast = torch.exp(uniform(math.log(nuisance["contrast"])))[:, None, None, None]
    out = (out - mean) * contrast + mean + uniform(nuisance["brightness"])[:, None, None, None]
    out = out + torch.randn(out.shape, generator=gen) * nuisance["noise"]
    return out.clamp(0.0, 1.0)


def make_patches(photographs: Sequence[str], views: int, config: Mapping[str, Any], gen: torch.Generator,
                 *, first_label: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Views ``(N, 1, patch, patch)``, identity labels ``(N,)`` (``views`` consecutive samples per identity,
    numbered from ``first_label``) and the index of each identity's photograph in ``photographs``.

    ``config`` holds ``patch``, ``stride``, ``min_std``, ``downscale``, ``max_ids_per_photo`` (0: all) and the
    nuisance bounds (``rotate``, ``scale``, ``shift``, ``contrast``, ``brightness``, ``noise``)."""
    patch, stride = int(config["patch"]), int(config["stride"])
    reach = math.ceil((patch / 2) * math.sqrt(2) * config["scale"] + config["shift"] - patch / 2) + 1
    nuisance = {key: float(config[key]) for key in ("rotate", "scale", "shift", "contrast", "brightness", "noise")}
    xs, sources = [], []
    for i, name in enumerate(photographs):
        image = grey_photograph(name, int(config["downscale"]))
        centres = patch_centres(image, patch=patch, stride=stride, min_std=float(config["min_std"]), margin=reach,
                                gen=gen)
        cap = int(config["max_ids_per_photo"])
        if cap and centres.shape[0] > cap:
            centres = centres[torch.randperm(centres.shape[0], generator=gen)[:cap]]
        xs.append(render_views(image, centres, views, nuisance, patch=patch, gen=gen))
        sources.append(torch.full((centres.shape[0],), i, dtype=torch.long))
    x = torch.cat(xs)
    source = torch.cat(sources)
    labels = first_label + torch.arange(source.numel()).repeat_interleave(views)
    return x, labels, source


def standardise(x: Tensor, eps: float = 1e-3) -> Tensor:
    """Each patch minus its mean, over its standard deviation (the input normalisation of HardNet): the
    network and the standardised-pixel baseline see patches whose brightness and contrast are removed."""
    flat = x.flatten(1)
    mean = flat.mean(1, keepdim=True)
    std = flat.std(1, keepdim=True)
    return ((flat - mean) / (std + eps)).reshape(x.shape)
