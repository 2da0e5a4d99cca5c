"""Gatys et al.'s normalised VGG: every filter rescaled so that its mean activation is 1.

Gatys, Ecker & Bethge (NeurIPS 2015, CVPR 2016): "We normalized the network by scaling the weights such that
the mean activation of each convolutional filter over images and positions is equal to one. Such re-scaling
can be done for the VGG network without changing its output, because it contains only rectifying linear
activation functions and no normalization or pooling over feature maps." Their layer weights ``w_l = 1/L`` and
their α/β ratios were tuned on that network. Without it the layers' Gram terms lie orders of magnitude apart
(on the Oxford weights the relu3_1 term of a noise image is ~1e5 times its relu1_1 term), so the first
layers, the only ones that see single pixels and their colours, count for almost nothing.

The method, exactly (:func:`activation_scales`, :func:`fold_scales`):

1. The images: scikit-image's bundled colour photographs :data:`PHOTOGRAPHS`, each the central square resized
   to 224 × 224 (bicubic, antialiased), in [0, 1], through the extractor's own preprocessing and pooling.
2. ``m_k`` = the mean of ReLU channel ``k`` of every convolution over the images and all positions, computed
   on the network as given. A filter that never fires (``m_k = 0``) keeps scale 1.
3. Folded into the weights: convolution ``l``'s weights and bias of output channel ``k`` are divided by
   ``m_k``, and the next convolution's weights of input channel ``k`` multiplied by ``m_k``. ReLU and both
   poolings are positively homogeneous, so every feature map of the result (``conv``, ``relu`` and ``pool``
   taps alike) is the original one divided by ``m_k``, channel by channel: the same network up to a
   per-channel scale, whose ReLU channels average exactly 1 on these images.

The scales are computed once per set of weights, pooling and depth and cached beside the converted weights
(``<cache>/vgg_scales_<arch>_<pooling>_<digest>.pt``, written atomically; ``<digest>`` identifies the
weights the extractor holds), so later extractors read them instead of running the photographs again.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._core.checks import check_int, check_option
from .._core.io import atomic_output
from .weights import CACHE_ENV, WeightsUnavailableError, cache_directory, state_digest


class Network(Protocol):
    """What the measurement needs of a :class:`~imagelosses.backbones.VGGFeatures` (named here, not
    imported: the extractor imports this module)."""

    arch: str
    pooling: str
    mean: Tensor

    @property
    def available_layers(self) -> tuple[str, ...]: ...

    def __call__(self, input: Tensor, layers: Sequence[str] | None = ..., *, name: str = ...
                 ) -> dict[str, Tensor]: ...

__all__ = [
    "PHOTOGRAPHS",
    "SCALE_IMAGE_SIZE",
    "Network",
    "activation_scales",
    "bundled_image",
    "cached_activation_scales",
    "central_square",
    "fold_scales",
    "photograph",
]

#: scikit-image's bundled colour photographs (``skimage.data.<name>()``; "motorcycle" is the left image of
#: ``stereo_motorcycle``; a stained-tissue micrograph last).
PHOTOGRAPHS: tuple[str, ...] = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle", "immunohistochemistry")
#: The side of the square photographs the activation scales are measured on.
SCALE_IMAGE_SIZE = 224


def bundled_image(name: str) -> Tensor:
    """A scikit-image bundled image (``skimage.data.<name>()``) as a ``(1, C, H, W)`` float tensor in [0, 1]
    (C = 1 for grey images, 3 for colour; an alpha channel is dropped).

    Raises:
        WeightsUnavailableError: scikit-image is not installed.
    """
    try:
        from skimage import data
    except ImportError as err:
        raise WeightsUnavailableError("the bundled photographs: expected scikit-image to be installed "
                                      "(pip install scikit-image), got no module named skimage") from err
    load: Callable[[], Any] = data.stereo_motorcycle if name == "motorcycle" else getattr(data, name)
    image = np.asarray(load()[0] if name == "motorcycle" else load())  # the left image of the stereo pair
    x = torch.from_numpy(np.ascontiguousarray(image)).float() / 255.0
    x = x[None] if x.ndim == 2 else x.permute(2, 0, 1)
    return x[:3].unsqueeze(0)


def central_square(x: Tensor, size: int) -> Tensor:
    """The central square of ``(N, C, H, W)`` resized to ``size × size`` (bicubic, antialiased, clamped to
    [0, 1])."""
    h, w = x.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    x = x[..., top:top + s, left:left + s]
    if s == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def photograph(name: str, size: int | None = None) -> Tensor:
    """A bundled colour photograph (one of :data:`PHOTOGRAPHS`) as ``(1, 3, H, W)`` in [0, 1]: the full
    image when ``size`` is None, else its central square resized (bicubic, antialiased) to ``size × size``."""
    check_option(name, "name", PHOTOGRAPHS)
    x = bundled_image(name)
    return x if size is None else central_square(x, check_int(size, "size", low=8))


def _relu_names(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(n for n in names if n.startswith("relu"))


def activation_scales(extractor: Network, images: list[Tensor]) -> dict[str, Tensor]:
    """``m_k`` for every ReLU of ``extractor`` (a :class:`~imagelosses.backbones.VGGFeatures`): the mean of
    each channel over ``images`` and all positions (each image weighs the same), as float32 on the CPU."""
    relus = _relu_names(extractor.available_layers)
    sums: dict[str, Tensor] = {}
    with torch.no_grad():
        for image in images:
            feats = extractor(image.to(extractor.mean.device), relus, name="photograph")
            for layer in relus:
                mean = feats[layer].double().mean(dim=(0, 2, 3)).cpu()
                sums[layer] = sums[layer] + mean if layer in sums else mean
    return {layer: (total / len(images)).float() for layer, total in sums.items()}


def fold_scales(features: nn.Sequential, names: tuple[str, ...], scales: dict[str, Tensor]) -> None:
    """Divide each convolution's output channel ``k`` by ``m_k`` (weights and bias) and multiply the next
    convolution's input channel ``k`` by ``m_k``, in place; ``names[i]`` names ``features[i]`` and
    ``scales`` holds ``m`` per ReLU (the one after each convolution). Channels with ``m_k <= 0`` keep 1."""
    previous: Tensor | None = None
    for index, module in enumerate(features):
        if not isinstance(module, nn.Conv2d):
            continue
        relu = "relu" + names[index][4:]
        m = scales[relu].to(module.weight)
        m = torch.where(m > 0, m, torch.ones_like(m))
        with torch.no_grad():
            if previous is not None:
                module.weight.mul_(previous.view(1, -1, 1, 1))
            module.weight.div_(m.view(-1, 1, 1, 1))
            if module.bias is not None:
                module.bias.div_(m)
        previous = m


def cached_activation_scales(extractor: Network, state: dict[str, Tensor] | None) -> dict[str, Tensor]:
    """The scales of ``extractor`` (weights as loaded, before folding), read from the cache when there,
    else measured on the photographs and cached. ``state`` is the state dict the extractor holds (None for
    random weights: measured every time, never cached)."""
    if state is None:
        return activation_scales(extractor, _scale_images())
    digest = state_digest(state)[:16]
    target = cache_directory() / f"vgg_scales_{extractor.arch}_{extractor.pooling}_{digest}.pt"
    relus = _relu_names(extractor.available_layers)
    if target.is_file():
        try:
            cached = torch.load(target, map_location="cpu", weights_only=True)
            if all(layer in cached for layer in relus):
                return {layer: cached[layer] for layer in relus}
        except Exception:  # unreadable (another tool's file, a half-written one from elsewhere): measure again
            pass
    scales = activation_scales(extractor, _scale_images())
    _save(scales, target)
    return scales


def _scale_images() -> list[Tensor]:
    return [photograph(name, SCALE_IMAGE_SIZE) for name in PHOTOGRAPHS]


def _save(scales: dict[str, Tensor], target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(target) as tmp, open(tmp, "wb") as f:
            torch.save(scales, f)
    except OSError as err:  # a read-only cache: the scales are still right, only not cached
        warnings.warn(f"imagelosses: could not cache the VGG activation scales in {target.parent} ({err}); "
                      f"set {CACHE_ENV} to a writable directory", RuntimeWarning, stacklevel=3)
