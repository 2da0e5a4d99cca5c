"""Johnson et al.'s perceptual (feature reconstruction) loss on VGG feature maps.

Inputs are image batches ``(N, 3|1, H, W)`` in [0, 1] (with an extractor) or feature dicts; see
:mod:`imagelosses.backbones.feature_loss`. Feature maps in float16/bfloat16 (autocast) are compared in
float32. Unreduced values are per sample, shape ``(N,)``; ``"mean"`` divides their sum by N.
Calling convention of the module: ``loss(input, target)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from .._core.dtypes import at_least_float32
from .._core.options import Options
from .._core.reduction import Reduction, reduce
from ..backbones.feature_loss import (
    FeatureLoss,
    Features,
    LayerWeights,
    check_layer_options,
    extract_paired_features,
    layer_sum,
    layer_weights_field,
)
from ..backbones.presets import Extractor, resolve_extractor

__all__ = ["CRITERIA", "JOHNSON_CONTENT_LAYERS", "Criterion", "PerceptualLoss", "PerceptualOptions",
           "perceptual_core", "perceptual_loss"]

JOHNSON_CONTENT_LAYERS: tuple[str, ...] = ("relu2_2",)
Criterion = Literal["mse", "l1"]
CRITERIA: tuple[str, ...] = ("mse", "l1")


@dataclass(frozen=True)
class PerceptualOptions(Options):
    """The options of :func:`perceptual_loss` and :class:`PerceptualLoss`: the layers (a tuple once checked),
    one weight per layer (1 by default), the criterion, the reduction and the target's range check."""

    layers: tuple[str, ...] = JOHNSON_CONTENT_LAYERS
    layer_weights: tuple[float, ...] = layer_weights_field()
    criterion: Criterion = "mse"
    reduction: Reduction = "mean"
    check_range: bool = True

    def validate(self) -> None:
        check_layer_options(self, "layers", "layer_weights", 1.0)


def perceptual_loss(input: Tensor | Features, target: Tensor | Features, *, extractor: Extractor = None,
                    layers: str | Sequence[str] = JOHNSON_CONTENT_LAYERS, layer_weights: LayerWeights = None,
                    criterion: Criterion = "mse", reduction: Reduction = "mean", check_range: bool = True) -> Tensor:
    """Johnson et al.'s feature reconstruction loss.

    Per sample: ``Σ_j w_j / (C_j H_j W_j) · ‖φ_j(ŷ) − φ_j(y)‖²₂`` (``criterion="mse"``) or with the
    ℓ1 norm ``‖·‖₁`` (``"l1"``), i.e. the mean squared (absolute) feature difference of each layer,
    weighted (``w_j = 1`` by default) and summed over layers. ``"mean"`` averages over the batch.

    Args:
        input: prediction images ``(N, 3|1, H, W)`` in [0, 1], or their feature dict.
        target: target images or feature dict (same shapes).
        extractor: the backbone for image arguments: a :class:`~imagelosses.backbones.vgg.VGGFeatures`, or a
            preset name (``"vgg16-oxford"``, ``"vgg16-imagenet"``, ...; a new backbone is built on every call:
            pass a ``VGGFeatures`` in a training loop); None: the inputs must be feature dicts.
        layers: default VGG16 ``relu2_2`` (Johnson's super-resolution setting).
        layer_weights: one non-negative weight per layer (sequence or dict), default 1.
        criterion: ``"mse"`` or ``"l1"``.
        reduction: ``"none"`` → ``(N,)``, ``"mean"``, ``"sum"``.
        check_range: refuse a target image with values more than 0.1 outside [0, 1], the range the backbone's
            preprocessing expects (a 0..255 or [-1, 1] dataset would otherwise give a loss orders of magnitude
            too large, silently). Only the **target** is checked, the data, where a wrong range convention
            shows: the prediction of a network in early training legitimately overshoots [0, 1], and refusing
            it would break training. One ``aminmax`` pass, in eager mode only (skipped under
            ``torch.compile``); a NaN target passes (the loss is then NaN); feature dicts are not checked.
            False: no check.

    Shape:
        input, target ``(N, 3|1, H, W)`` (H, W at least the stride of the deepest layer), or feature dicts
        ``{layer: (N, C_j, H_j, W_j)}``; ``"none"`` → ``(N,)``.

    Raises:
        ValueError: unknown option or preset, mismatched shapes, missing layers, a target image outside [0, 1]
            when ``check_range`` (the message says how to convert it).
        TypeError: non-floating tensors, wrong option types, an extractor that is not a VGGFeatures or a name.

    References:
        Johnson, Alahi, Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and Super-Resolution",
        arXiv 1603.08155.

    Example:
        >>> import torch
        >>> float(perceptual_loss(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8), extractor="vgg16-random"))
        0.0
    """
    options = PerceptualOptions.pick(locals())
    return _perceptual(input, target, resolve_extractor(extractor, options.layers), options)


def perceptual_core(input: Tensor | Features, target: Tensor | Features, extractor: torch.nn.Module | None, *,
                    layers: tuple[str, ...], layer_weights: Sequence[float], criterion: Criterion,
                    reduction: Reduction, check_range: bool) -> Tensor:
    """The perceptual distance from checked options (the images or feature dicts are checked here): the kernel
    of :func:`perceptual_loss`, shared with the topology loss, which is a perceptual MSE on masks."""
    fi, ft = extract_paired_features(input, target, layers, layers, extractor, "target", check_range=check_range)
    per_layer = []
    for (layer, a), w in zip(fi.items(), layer_weights, strict=True):
        diff = at_least_float32(a) - at_least_float32(ft[layer])
        values = diff.square() if criterion == "mse" else diff.abs()
        per_layer.append(values.mean(dim=tuple(range(1, diff.ndim))) * w)
    return reduce(layer_sum(per_layer), reduction)


def _perceptual(input: Tensor | Features, target: Tensor | Features, extractor: torch.nn.Module | None,
                options: PerceptualOptions) -> Tensor:
    return perceptual_core(input, target, extractor, layers=options.layers, layer_weights=options.layer_weights,
                           criterion=options.criterion, reduction=options.reduction, check_range=options.check_range)


class PerceptualLoss(FeatureLoss[PerceptualOptions], function=perceptual_loss):
    """Johnson et al.'s feature reconstruction loss; see :func:`perceptual_loss`.

    ``PerceptualLoss(*, extractor=None, layers=("relu2_2",), layer_weights=None, criterion="mse",
    reduction="mean")``, called as ``loss(input, target)`` on images ``(N, 3|1, H, W)`` in [0, 1] or feature
    dicts. ``extractor``: a shared :class:`~imagelosses.backbones.vgg.VGGFeatures`, a preset name, or None for
    ``"vgg16-imagenet"`` (torchvision's download; offline, pass ``"vgg16-oxford"``).

    Example:
        >>> import torch
        >>> loss = PerceptualLoss(extractor="vgg16-random")
        >>> loss(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)).shape
        torch.Size([])
    """

    Options = PerceptualOptions
    default_extractor = "vgg16-imagenet"

    def forward(self, input: Tensor | Features, target: Tensor | Features) -> Tensor:
        return _perceptual(input, target, self.extractor, self.current_options())
