"""Feature-space losses on VGG feature maps: perceptual (Johnson), style (Johnson), texture and
content/style (Gatys), and the Gram matrix they share.

Every function takes, for each image argument, either an image batch (then ``extractor=`` a
:class:`~imagelosses.features.VGGFeatures` computes its features) or a precomputed feature dict
``{layer: (N, C, H, W)}``, so one backbone pass can serve several losses. The target pass runs without
autograd unless the target itself requires grad. Feature maps in float16/bfloat16 (autocast) are
compared in float32: squared VGG activations overflow float16.

Unreduced values are per sample, shape ``(N,)``; ``"mean"`` divides their sum by N, ``"sum"`` adds them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from .._checks import check_floating, check_ndim, check_number, check_option, check_same_shape, fail, fmt_shape
from .._dtypes import at_least_float32
from .._reduction import check_reduction, reduce
from ..features.vgg import VGGFeatures

__all__ = [
    "GATYS_CONTENT_LAYERS",
    "GATYS_STYLE_LAYERS",
    "GRAM_NORMALIZATIONS",
    "JOHNSON_CONTENT_LAYERS",
    "JOHNSON_STYLE_LAYERS",
    "ContentStyleParts",
    "Features",
    "content_style_loss",
    "gram_matrix",
    "perceptual_loss",
    "style_loss",
    "texture_loss",
]

Features = Mapping[str, Tensor]
LayerWeights = Sequence[float] | Mapping[str, float] | None

JOHNSON_CONTENT_LAYERS: tuple[str, ...] = ("relu2_2",)
JOHNSON_STYLE_LAYERS: tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
GATYS_CONTENT_LAYERS: tuple[str, ...] = ("relu4_2",)
GATYS_STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
GRAM_NORMALIZATIONS: tuple[str, ...] = ("chw", "none")
CRITERIA: tuple[str, ...] = ("mse", "l1")


class ContentStyleParts(NamedTuple):
    """``total = content_weight · content + style_weight · style``; each of the reduced (or ``(N,)``) parts."""

    total: Tensor
    content: Tensor
    style: Tensor


def gram_matrix(features: Tensor, *, normalize: str = "chw") -> Tensor:
    """Batched Gram matrix of feature maps, always accumulated in float32 (or float64 for float64 input).

    With ψ the ``C × HW`` reshaped feature map of one sample, ``G = ψ ψᵀ`` (``normalize="none"``, Gatys's
    raw ``G^l = F Fᵀ``) or ``G = ψ ψᵀ / (C·H·W)`` (``"chw"``, Johnson's, default: independent of the
    resolution). Autocast is disabled inside and float16/bfloat16 features are upcast, because a half
    Gram sums ``HW`` products and overflows (float16 max 65504; NVIDIA/apex #402, #973).

    Shape:
        features ``(N, C, H, W)`` → ``(N, C, C)``.

    Raises:
        TypeError: non-floating features. ValueError: not 4-D, unknown ``normalize``.

    References:
        Gatys et al., arXiv 1505.07376; Johnson et al., arXiv 1603.08155.
    """
    check_floating(features, "features")
    check_ndim(features, "features", (4,), "(N, C, H, W)")
    check_option(normalize, "normalize", GRAM_NORMALIZATIONS)
    n, c, h, w = features.shape
    with torch.autocast(device_type=features.device.type, enabled=False):
        f = at_least_float32(features)
        if f.is_contiguous(memory_format=torch.channels_last) and not f.is_contiguous():
            psi_t = f.permute(0, 2, 3, 1).reshape(n, h * w, c)  # a view: VGGFeatures returns channels-last maps
            gram = torch.bmm(psi_t.transpose(1, 2), psi_t)
        else:
            psi = f.reshape(n, c, h * w)
            gram = torch.bmm(psi, psi.transpose(1, 2))
        if normalize == "chw":
            gram = gram / (c * h * w)
    return gram


def _weights(layers: tuple[str, ...], layer_weights: LayerWeights, default: float, name: str) -> list[float]:
    if layer_weights is None:
        return [default] * len(layers)
    if isinstance(layer_weights, Mapping):
        extra = sorted(set(layer_weights) - set(layers))
        if extra:
            fail(name, f"weights for layers among {layers}", f"weights for {extra}")
        return [check_number(layer_weights.get(layer, default), f"{name}[{layer!r}]", low=0.0) for layer in layers]
    if isinstance(layer_weights, (str, bytes)) or not isinstance(layer_weights, Sequence):
        fail(name, "a sequence of floats, a dict layer -> float, or None", type(layer_weights).__name__,
             exc=TypeError)
    if len(layer_weights) != len(layers):
        fail(name, f"{len(layers)} weights, one per layer of {layers}", f"{len(layer_weights)}")
    return [check_number(v, f"{name}[{i}]", low=0.0) for i, v in enumerate(layer_weights)]


def _layers(layers: str | Sequence[str], name: str) -> tuple[str, ...]:
    if isinstance(layers, str):
        layers = (layers,)
    if not isinstance(layers, Sequence) or not all(isinstance(v, str) for v in layers):
        fail(name, "a sequence of layer names such as ('relu2_2',)", type(layers).__name__, exc=TypeError)
    if not layers:
        fail(name, "at least one layer name", "an empty sequence")
    return tuple(dict.fromkeys(layers))


def _features(x: Tensor | Features, layers: tuple[str, ...], extractor: torch.nn.Module | None, name: str,
              *, target: bool = False) -> dict[str, Tensor]:
    """Feature maps of ``x`` at ``layers``: a dict is looked up, an image batch goes through ``extractor``.
    A target image batch runs without autograd unless it requires grad."""
    if isinstance(x, Mapping):
        missing = [layer for layer in layers if layer not in x]
        if missing:
            fail(name, f"features for layers {layers}", f"a dict without {missing}")
        out = {layer: x[layer] for layer in layers}
        for layer, f in out.items():
            check_floating(f, f"{name}[{layer!r}]")
            check_ndim(f, f"{name}[{layer!r}]", (4,), "(N, C, H, W)")
        return out
    check_floating(x, name)
    if extractor is None:
        fail("extractor", f"a VGGFeatures to compute the features of the image batch {name}",
             "None (pass extractor=, or a feature dict)")
    kwargs = {"name": name} if isinstance(extractor, VGGFeatures) else {}
    if not target:
        return dict(extractor(x, layers=layers, **kwargs))
    with torch.set_grad_enabled(torch.is_grad_enabled() and x.requires_grad):
        return dict(extractor(x, layers=layers, **kwargs))


def _target_grams(target: Tensor | Features | None, target_grams: Features | None, layers: tuple[str, ...],
                  extractor: torch.nn.Module | None, name: str, grams_name: str) -> dict[str, Tensor]:
    if target_grams is not None:
        if target is not None:
            fail(name, f"either {name} or {grams_name}", "both")
        missing = [layer for layer in layers if layer not in target_grams]
        if missing:
            fail(grams_name, f"Gram matrices for layers {layers}", f"a dict without {missing}")
        return {layer: target_grams[layer] for layer in layers}
    if target is None:
        fail(name, f"an image batch, a feature dict, or {grams_name}", "None")
    feats = _features(target, layers, extractor, name, target=True)
    return {layer: gram_matrix(f) for layer, f in feats.items()}


def _check_pair(a: Tensor, b: Tensor, layer: str, name: str) -> None:
    if a.shape != b.shape:
        fail(f"{name}[{layer!r}]", f"shape matching input {fmt_shape(a.shape)}", fmt_shape(b.shape))


def _gram_distance(input_feats: dict[str, Tensor], grams: dict[str, Tensor], weights: list[float],
                   name: str) -> Tensor:
    """Σ_l w_l ‖G_l(input) − A_l‖²_F per sample, with Johnson-normalised Grams; A_l of batch 1 broadcasts."""
    total: Tensor | None = None
    for (layer, feats), w in zip(input_feats.items(), weights, strict=True):
        g = gram_matrix(feats)
        a = grams[layer]
        if a.ndim != 3 or a.shape[1:] != g.shape[1:] or a.shape[0] not in (1, g.shape[0]):
            fail(f"{name}[{layer!r}]", f"Gram matrices of shape (1 or {g.shape[0]}, {g.shape[1]}, {g.shape[2]})",
                 f"shape {fmt_shape(a.shape)}")
        term = (g - at_least_float32(a)).square().sum(dim=(1, 2)) * w
        total = term if total is None else total + term
    return total  # type: ignore[return-value]


def perceptual_loss(input: Tensor | Features, target: Tensor | Features, *, extractor: torch.nn.Module | None = None,
                    layers: str | Sequence[str] = JOHNSON_CONTENT_LAYERS, layer_weights: LayerWeights = None,
                    criterion: str = "mse", reduction: str = "mean") -> Tensor:
    """Johnson et al.'s feature reconstruction loss.

    Per sample: ``Σ_j w_j / (C_j H_j W_j) · ‖φ_j(ŷ) − φ_j(y)‖²₂`` (``criterion="mse"``) or with the
    ℓ1 norm ``‖·‖₁`` (``"l1"``), i.e. the mean squared (absolute) feature difference of each layer,
    weighted (``w_j = 1`` by default) and summed over layers. ``"mean"`` averages over the batch.

    Args:
        input: prediction images ``(N, 3|1, H, W)`` in [0, 1], or their feature dict.
        target: target images or feature dict (same shapes).
        extractor: the :class:`~imagelosses.features.VGGFeatures` for image arguments.
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
        >>> from imagelosses.features import VGGFeatures
        >>> vgg = VGGFeatures("vgg16", ("relu2_2",), weights=None)
        >>> float(perceptual_loss(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8), extractor=vgg))
        0.0
    """
    layers = _layers(layers, "layers")
    weights = _weights(layers, layer_weights, 1.0, "layer_weights")
    check_option(criterion, "criterion", CRITERIA)
    check_reduction(reduction)
    if isinstance(input, Tensor) and isinstance(target, Tensor):
        check_same_shape(target, "target", input, "input")
    fi = _features(input, layers, extractor, "input")
    ft = _features(target, layers, extractor, "target", target=True)
    total: Tensor | None = None
    for (layer, a), w in zip(fi.items(), weights, strict=True):
        b = ft[layer]
        _check_pair(a, b, layer, "target")
        diff = at_least_float32(a) - at_least_float32(b)
        per = (diff.square() if criterion == "mse" else diff.abs()).flatten(1).mean(dim=1) * w
        total = per if total is None else total + per
    return reduce(total, reduction)  # type: ignore[arg-type]


def style_loss(input: Tensor | Features, target: Tensor | Features | None = None, *,
               target_grams: Features | None = None, extractor: torch.nn.Module | None = None,
               layers: str | Sequence[str] = JOHNSON_STYLE_LAYERS, layer_weights: LayerWeights = None,
               reduction: str = "mean") -> Tensor:
    """Johnson et al.'s style reconstruction loss.

    Per sample: ``Σ_j w_j ‖G_j(ŷ) − G_j(y)‖²_F`` with ``G_j = ψψᵀ / (C_j H_j W_j)`` (:func:`gram_matrix`,
    float32), ``w_j = 1``, on VGG16 relu1_2, relu2_2, relu3_3, relu4_3 by default. The style target may
    be one image (batch 1, broadcast over the batch) of any size, its features, or its precomputed
    Grams (``target_grams``, e.g. cached by :class:`~imagelosses.StyleLoss`). ``"mean"`` averages over N.

    Shape:
        input ``(N, 3|1, H, W)``; target ``(1 or N, 3|1, H', W')``; ``"none"`` → ``(N,)``.

    Raises:
        ValueError: unknown option, both or neither of target/target_grams, Gram shapes that do not fit.

    References:
        Johnson, Alahi, Fei-Fei, arXiv 1603.08155; Gatys, Ecker, Bethge, arXiv 1505.07376.
    """
    layers = _layers(layers, "layers")
    weights = _weights(layers, layer_weights, 1.0, "layer_weights")
    check_reduction(reduction)
    grams = _target_grams(target, target_grams, layers, extractor, "target", "target_grams")
    fi = _features(input, layers, extractor, "input")
    return reduce(_gram_distance(fi, grams, weights, "target_grams" if target is None else "target"), reduction)


def texture_loss(input: Tensor | Features, target: Tensor | Features | None = None, *,
                 target_grams: Features | None = None, extractor: torch.nn.Module | None = None,
                 layers: str | Sequence[str] = GATYS_STYLE_LAYERS, layer_weights: LayerWeights = None,
                 reduction: str = "mean") -> Tensor:
    """Gatys et al.'s texture (style) loss ``L_style = Σ_l w_l E_l``.

    ``E_l = 1/(4 N_l² M_l²) · Σ_ij (G^l_ij − A^l_ij)²`` with raw Grams ``G^l = F Fᵀ`` of the synthesis and
    ``A^l`` of the texture/style image, ``N_l`` filters and ``M_l = H_l W_l`` positions; ``w_l = 1/L``
    (1/5 on relu1_1 … relu5_1 by default). It is computed through the identity
    ``E_l = ¼ ‖G_J(x) − G_J(y)‖²_F`` (``G_J`` Johnson's Gram, :func:`gram_matrix` with ``"chw"``), which
    stays in range where raw Grams squared would not, and normalises each Gram by its own ``M`` when
    the two images differ in size. ``target_grams`` are Johnson-normalised Grams (as cached by
    :class:`~imagelosses.TextureLoss`). ``"mean"`` averages over the batch.

    The default layers and weights (relu1_1 … relu5_1, ``w_l = 1/5``) are those of the style-transfer
    paper (CVPR 2016). The texture paper (arXiv 1505.07376) defined ``E_l`` the same way but matched
    conv1_1, pool1, pool2, pool3 and pool4 of its (average-pooling) VGG19; pass
    ``layers=("conv1_1", "pool1", "pool2", "pool3", "pool4")`` for that choice (here ``w_l = 1/5`` unless
    ``layer_weights`` says otherwise). Its Caffe network ran its ReLUs in place, so the map it called
    conv1_1 held the rectified output: ``"relu1_1"`` in place of ``"conv1_1"`` is the faithful reading.

    References:
        Gatys, Ecker, Bethge, "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016
        (and its precursor "A Neural Algorithm of Artistic Style", arXiv 1508.06576): the default layers
        and ``w_l = 1/5``;
        Gatys, Ecker, Bethge, "Texture Synthesis Using Convolutional Neural Networks", NeurIPS 2015,
        arXiv 1505.07376: ``E_l``, the Gram matrices, and the conv1_1/pool1–pool4 layers.
    """
    layers = _layers(layers, "layers")
    weights = [w / 4 for w in _weights(layers, layer_weights, 1.0 / len(layers), "layer_weights")]
    check_reduction(reduction)
    grams = _target_grams(target, target_grams, layers, extractor, "target", "target_grams")
    fi = _features(input, layers, extractor, "input")
    return reduce(_gram_distance(fi, grams, weights, "target_grams" if target is None else "target"), reduction)


def content_style_loss(input: Tensor | Features, content: Tensor | Features, style: Tensor | Features | None = None,
                       *, style_grams: Features | None = None, extractor: torch.nn.Module | None = None,
                       content_layers: str | Sequence[str] = GATYS_CONTENT_LAYERS,
                       style_layers: str | Sequence[str] = GATYS_STYLE_LAYERS,
                       style_layer_weights: LayerWeights = None, content_weight: float = 1.0,
                       style_weight: float = 1e3, reduction: str = "mean",
                       return_parts: bool = False) -> Tensor | ContentStyleParts:
    """Gatys et al.'s style-transfer objective ``L = α L_content + β L_style``.

    Per sample: ``L_content = ½ Σ (F^l − P^l)²`` summed over every element of each content layer
    (relu4_2, "conv4_2" in the paper, by default) between the synthesis ``F`` and the content image
    ``P``; ``L_style`` is :func:`texture_loss` against the style image (relu1_1 … relu5_1, ``w_l = 1/5``).
    ``α = content_weight = 1``, ``β = style_weight = 1e3`` (α/β = 1e-3; the paper also shows 8e-4, 5e-3,
    5e-4). ``"mean"`` averages over the batch. With ``return_parts=True`` returns
    :class:`ContentStyleParts` ``(total, content, style)`` (content and style unweighted).

    One backbone pass on ``input`` serves both terms when it is an image batch.

    References:
        Gatys, Ecker, Bethge, "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016
        (precursor: "A Neural Algorithm of Artistic Style", arXiv 1508.06576).
    """
    content_layers = _layers(content_layers, "content_layers")
    style_layers = _layers(style_layers, "style_layers")
    alpha = check_number(content_weight, "content_weight", low=0.0)
    beta = check_number(style_weight, "style_weight", low=0.0)
    check_reduction(reduction)
    all_layers = tuple(dict.fromkeys(content_layers + style_layers))
    if isinstance(input, Tensor) and isinstance(content, Tensor):
        check_same_shape(content, "content", input, "input")
    fi = _features(input, all_layers, extractor, "input")
    fc = _features(content, content_layers, extractor, "content", target=True)
    content_value: Tensor | None = None
    for layer in content_layers:
        _check_pair(fi[layer], fc[layer], layer, "content")
        term = 0.5 * (at_least_float32(fi[layer]) - at_least_float32(fc[layer])).square().flatten(1).sum(dim=1)
        content_value = term if content_value is None else content_value + term
    weights = [w / 4 for w in _weights(style_layers, style_layer_weights, 1.0 / len(style_layers),
                                       "style_layer_weights")]
    grams = _target_grams(style, style_grams, style_layers, extractor, "style", "style_grams")
    style_value = _gram_distance({k: fi[k] for k in style_layers}, grams, weights,
                                 "style_grams" if style is None else "style")
    total = alpha * content_value + beta * style_value  # type: ignore[operator]
    if return_parts:
        return ContentStyleParts(reduce(total, reduction), reduce(content_value, reduction),  # type: ignore[arg-type]
                                 reduce(style_value, reduction))
    return reduce(total, reduction)
