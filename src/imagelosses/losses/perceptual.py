"""Johnson et al.'s perceptual (feature reconstruction) loss on VGG feature maps.

Inputs are image batches ``(N, 3|1, H, W)`` in [0, 1] (with an extractor) or feature dicts; see
:mod:`imagelosses.backbones.feature_loss`. Feature maps in float16/bfloat16 (autocast) are compared in
float32. Unreduced values are per sample, shape ``(N,)``; ``"mean"`` divides their sum by N.
Calling convention of the module: ``loss(input, target)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor

from .._core.checks import check_option
from .._core.dtypes import at_least_float32
from .._core.reduction import Reduction, check_reduction, reduce
from ..backbones.feature_loss import (
    UNSET,
    FeatureLoss,
    Features,
    LayerWeights,
    check_layer_weights,
    extract_paired_features,
)
from ..backbones.vgg import VGGFeatures, check_layers

__all__ = ["CRITERIA", "JOHNSON_CONTENT_LAYERS", "Criterion", "PerceptualLoss", "perceptual_loss"]

JOHNSON_CONTENT_LAYERS: tuple[str, ...] = ("relu2_2",)
Criterion = Literal["mse", "l1"]
CRITERIA: tuple[str, ...] = ("mse", "l1")


def perceptual_loss(input: Tensor | Features, target: Tensor | Features, *, extractor: torch.nn.Module | None = None,
                    layers: str | Sequence[str] = JOHNSON_CONTENT_LAYERS, layer_weights: LayerWeights = None,
                    criterion: Criterion = "mse", reduction: Reduction = "mean") -> Tensor:
    """Johnson et al.'s feature reconstruction loss.

    Per sample: ``Σ_j w_j / (C_j H_j W_j) · ‖φ_j(ŷ) − φ_j(y)‖²₂`` (``criterion="mse"``) or with the
    ℓ1 norm ``‖·‖₁`` (``"l1"``), i.e. the mean squared (absolute) feature difference of each layer,
    weighted (``w_j = 1`` by default) and summed over layers. ``"mean"`` averages over the batch.

    Args:
        input: prediction images ``(N, 3|1, H, W)`` in [0, 1], or their feature dict.
        target: target images or feature dict (same shapes).
        extractor: the :class:`~imagelosses.backbones.vgg.VGGFeatures` for image arguments.
        layers: default VGG16 ``relu2_2`` (Johnson's super-resolution setting).
        layer_weights: one non-negative weight per layer (sequence or dict), default 1.
        criterion: ``"mse"`` or ``"l1"``.
        reduction: ``"none"`` → ``(N,)``, ``"mean"``, ``"sum"``.

    Raises:
        ValueError: unknown option, mismatched feature shapes, missing layers.
        TypeError: non-floating tensors, wrong option types.

    References:
        Johnson, Alahi, Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and Super-Resolution",
        arXiv 1603.08155.

    Example:
        >>> import torch
        >>> from imagelosses.backbones import VGGFeatures
        >>> vgg = VGGFeatures("vgg16", ("relu2_2",), weights=None)
        >>> float(perceptual_loss(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8), extractor=vgg))
        0.0
    """
    layers = check_layers(layers, None, "layers")
    return perceptual_core(input, target, extractor, layers=layers,
                       layer_weights=check_layer_weights(layers, layer_weights, 1.0),
                       criterion=check_option(criterion, "criterion", CRITERIA), reduction=check_reduction(reduction))


def perceptual_core(input: Tensor | Features, target: Tensor | Features, extractor: torch.nn.Module | None, *,
                    layers: tuple[str, ...], layer_weights: tuple[float, ...], criterion: str, reduction: str
                    ) -> Tensor:
    """The perceptual distance from checked options (the images or feature dicts are checked here): the kernel
    of :func:`perceptual_loss`, shared with the topology loss, which is a perceptual MSE on masks."""
    fi, ft = extract_paired_features(input, target, layers, layers, extractor, "target")
    total: Tensor | None = None
    for (layer, a), w in zip(fi.items(), layer_weights, strict=True):
        diff = at_least_float32(a) - at_least_float32(ft[layer])
        per = (diff.square() if criterion == "mse" else diff.abs()).mean(dim=tuple(range(1, diff.ndim))) * w
        total = per if total is None else total + per
    return reduce(total, reduction)  # type: ignore[arg-type]


class PerceptualLoss(FeatureLoss):
    """Johnson et al.'s feature reconstruction loss; see :func:`imagelosses.losses.style_loss`.

    ``forward(input, target)``: images ``(N, 3|1, H, W)`` in [0, 1] or feature dicts. Defaults: VGG16
    relu2_2, mse, ``"mean"`` over the batch; builds a VGG16 with ``weights="imagenet"`` unless
    ``extractor=`` is given (see the module docstring).

    Example:
        >>> import torch
        >>> from imagelosses.backbones import VGGFeatures
        >>> loss = PerceptualLoss(extractor=VGGFeatures("vgg16", ("relu2_2",), weights=None))
        >>> loss(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)).shape
        torch.Size([])
    """

    layers: tuple[str, ...]
    layer_weights: tuple[float, ...]
    criterion: str
    reduction: str
    options = ("layers", "layer_weights", "criterion", "reduction")

    def __init__(self, *, layers: str | Sequence[str] = JOHNSON_CONTENT_LAYERS, layer_weights: LayerWeights = None,
                 criterion: Criterion = "mse", reduction: Reduction = "mean", extractor: VGGFeatures | None = None,
                 arch: str = UNSET, weights: Any = UNSET, pooling: str = UNSET) -> None:
        super().__init__()
        layers = check_layers(layers, None, "layers")
        self.set_options(layers=layers,
                         layer_weights=check_layer_weights(layers, layer_weights, 1.0),
                         criterion=check_option(criterion, "criterion", CRITERIA), reduction=check_reduction(reduction))
        self.setup_extractor(layers, extractor, arch, weights, pooling, "vgg16")

    def forward(self, input: Tensor | Features, target: Tensor | Features) -> Tensor:
        return perceptual_core(input, target, self.extractor, **self.option_values())
