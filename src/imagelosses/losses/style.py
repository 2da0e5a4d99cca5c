"""Gram-matrix losses of neural style transfer on VGG feature maps: Johnson et al.'s style loss, Gatys et
al.'s texture loss and content/style objective, and the Gram matrix they share.

Inputs are image batches ``(N, 3|1, H, W)`` in [0, 1] (with an extractor) or feature dicts; see
:mod:`imagelosses.backbones.feature_loss`. Every Gram is accumulated in float32 (squared VGG activations
overflow float16). Unreduced values are per sample, shape ``(N,)``; ``"mean"`` divides their sum by N.
Calling conventions: ``StyleLoss``/``TextureLoss``: ``loss(input, target=None)`` (a fixed style cached
with ``set_target``); ``ContentStyleLoss``: ``loss(input, content, style=None, *, return_parts=False)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal, NamedTuple

import torch
from torch import Tensor

from .._core.checks import check_bool, check_floating, check_ndim, check_number, check_option, fail, fmt_shape
from .._core.dtypes import at_least_float32
from .._core.reduction import Reduction, check_reduction, reduce
from ..backbones.feature_loss import (
    UNSET,
    FeatureLoss,
    Features,
    LayerWeights,
    check_layer_weights,
    extract_features,
    extract_paired_features,
)
from ..backbones.vgg import VGGFeatures, check_layers

__all__ = [
    "GATYS_CONTENT_LAYERS",
    "GATYS_STYLE_LAYERS",
    "GRAM_NORMALIZATIONS",
    "JOHNSON_STYLE_LAYERS",
    "ContentStyleLoss",
    "ContentStyleParts",
    "GramNormalization",
    "StyleLoss",
    "TextureLoss",
    "content_style_loss",
    "gram_matrix",
    "style_loss",
    "texture_loss",
]

JOHNSON_STYLE_LAYERS: tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
GATYS_CONTENT_LAYERS: tuple[str, ...] = ("relu4_2",)
GATYS_STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
GramNormalization = Literal["chw", "none"]
GRAM_NORMALIZATIONS: tuple[str, ...] = ("chw", "none")


class ContentStyleParts(NamedTuple):
    """``total = content_weight · content + style_weight · style``; each of the reduced (or ``(N,)``) parts."""

    total: Tensor
    content: Tensor
    style: Tensor


def gram_matrix(features: Tensor, *, normalize: GramNormalization = "chw") -> Tensor:
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

    Example:
        >>> g = gram_matrix(torch.ones(1, 2, 3, 3))  # each entry 9 products of 1, divided by C·H·W = 18
        >>> tuple(g.shape), float(g[0, 0, 1])
        ((1, 2, 2), 0.5)
    """
    check_floating(features, "features")
    check_ndim(features, "features", (4,), "(N, C, H, W)")
    check_option(normalize, "normalize", GRAM_NORMALIZATIONS)
    n, c, h, w = features.shape
    if c * h * w == 0:  # a Gram of no positions (or no channels) is 0/0 under Johnson's normalisation
        fail("features", "non-empty feature maps (C, H, W > 0)", f"shape {fmt_shape(features.shape)}")
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
    feats = extract_features(target, layers, extractor, name, target=True)
    return {layer: gram_matrix(f) for layer, f in feats.items()}


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


def style_loss(input: Tensor | Features, target: Tensor | Features | None = None, *,
               target_grams: Features | None = None, extractor: torch.nn.Module | None = None,
               layers: str | Sequence[str] = JOHNSON_STYLE_LAYERS, layer_weights: LayerWeights = None,
               reduction: Reduction = "mean") -> Tensor:
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
    layers = check_layers(layers, None, "layers")
    weights = check_layer_weights(layers, layer_weights, 1.0)
    return _gram_loss(input, target, target_grams, extractor, layers=layers, layer_weights=weights,
                      reduction=check_reduction(reduction))


def _gram_loss(input: Tensor | Features, target: Tensor | Features | None, target_grams: Features | None,
               extractor: torch.nn.Module | None, *, layers: tuple[str, ...], layer_weights: Sequence[float],
               reduction: str) -> Tensor:
    """``Σ_l w_l ‖G_l(input) − A_l‖²_F`` per sample, reduced: the style loss, and the texture loss with ``w_l/4``."""
    grams = _target_grams(target, target_grams, layers, extractor, "target", "target_grams")
    fi = extract_features(input, layers, extractor, "input")
    distance = _gram_distance(fi, grams, list(layer_weights), "target_grams" if target is None else "target")
    return reduce(distance, reduction)


def texture_loss(input: Tensor | Features, target: Tensor | Features | None = None, *,
                 target_grams: Features | None = None, extractor: torch.nn.Module | None = None,
                 layers: str | Sequence[str] = GATYS_STYLE_LAYERS, layer_weights: LayerWeights = None,
                 reduction: Reduction = "mean") -> Tensor:
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
    layers = check_layers(layers, None, "layers")
    weights = [w / 4 for w in check_layer_weights(layers, layer_weights, 1.0 / len(layers))]
    return _gram_loss(input, target, target_grams, extractor, layers=layers, layer_weights=weights,
                      reduction=check_reduction(reduction))


def content_style_loss(input: Tensor | Features, content: Tensor | Features, style: Tensor | Features | None = None,
                       *, style_grams: Features | None = None, extractor: torch.nn.Module | None = None,
                       content_layers: str | Sequence[str] = GATYS_CONTENT_LAYERS,
                       style_layers: str | Sequence[str] = GATYS_STYLE_LAYERS,
                       style_layer_weights: LayerWeights = None, content_weight: float = 1.0,
                       style_weight: float = 1e3, reduction: Reduction = "mean",
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
    content_layers = check_layers(content_layers, None, "content_layers")
    style_layers = check_layers(style_layers, None, "style_layers")
    check_bool(return_parts, "return_parts")
    return _content_style(input, content, style, style_grams, extractor, **_check_content_style_options(
        content_layers, style_layers, style_layer_weights, content_weight, style_weight, reduction),
        return_parts=return_parts)


def _check_content_style_options(content_layers: tuple[str, ...], style_layers: tuple[str, ...],
                                 style_layer_weights: LayerWeights, content_weight: float, style_weight: float,
                                 reduction: str) -> dict[str, Any]:
    return {"content_layers": content_layers, "style_layers": style_layers,
            "style_layer_weights": check_layer_weights(style_layers, style_layer_weights, 1.0 / len(style_layers),
                                                       "style_layer_weights"),
            "content_weight": check_number(content_weight, "content_weight", low=0.0),
            "style_weight": check_number(style_weight, "style_weight", low=0.0),
            "reduction": check_reduction(reduction)}


def _content_style(input: Tensor | Features, content: Tensor | Features, style: Tensor | Features | None,
                   style_grams: Features | None, extractor: torch.nn.Module | None, *,
                   content_layers: tuple[str, ...], style_layers: tuple[str, ...],
                   style_layer_weights: tuple[float, ...], content_weight: float, style_weight: float,
                   reduction: str, return_parts: bool) -> Tensor | ContentStyleParts:
    all_layers = tuple(dict.fromkeys(content_layers + style_layers))
    fi, fc = extract_paired_features(input, content, all_layers, content_layers, extractor, "content")
    content_value: Tensor | None = None
    for layer in content_layers:
        term = 0.5 * (at_least_float32(fi[layer]) - at_least_float32(fc[layer])).square().flatten(1).sum(dim=1)
        content_value = term if content_value is None else content_value + term
    grams = _target_grams(style, style_grams, style_layers, extractor, "style", "style_grams")
    style_value = _gram_distance({k: fi[k] for k in style_layers}, grams, [w / 4 for w in style_layer_weights],
                                 "style_grams" if style is None else "style")
    total = content_weight * content_value + style_weight * style_value  # type: ignore[operator]
    if return_parts:
        return ContentStyleParts(reduce(total, reduction), reduce(content_value, reduction),  # type: ignore[arg-type]
                                 reduce(style_value, reduction))
    return reduce(total, reduction)


class _CachedGramLoss(FeatureLoss):
    """The shared shell of :class:`StyleLoss` and :class:`TextureLoss`: a Gram loss whose target may be a
    fixed image cached once (stateful: :meth:`set_target` keeps its Grams as non-persistent buffers)."""

    layers: tuple[str, ...]
    layer_weights: tuple[float, ...]
    reduction: str
    options = ("layers", "layer_weights", "reduction")
    paired_target = False
    #: The factor on each layer weight: 1 for Johnson's style loss, ¼ for Gatys's ``E_l``.
    gram_scale: float = 1.0

    #: Defaults of the subclass: its layers, its layer weight (None: 1/L) and the VGG it builds.
    default_layers: ClassVar[tuple[str, ...]]
    default_weight: ClassVar[float | None]
    default_arch: ClassVar[str]

    def __init__(self, *, layers: str | Sequence[str] | None = None, layer_weights: LayerWeights = None,
                 reduction: Reduction = "mean", extractor: VGGFeatures | None = None, arch: str = UNSET,
                 weights: Any = UNSET, pooling: str = UNSET) -> None:
        super().__init__()
        checked = check_layers(self.default_layers if layers is None else layers, None, "layers")
        default = 1.0 / len(checked) if self.default_weight is None else self.default_weight
        self.set_options(layers=checked, reduction=check_reduction(reduction),
                         layer_weights=check_layer_weights(checked, layer_weights, default))
        self.setup_extractor(checked, extractor, arch, weights, pooling, self.default_arch)
        self._cached: tuple[str, ...] = ()

    @torch.no_grad()
    def set_target(self, target: Tensor | Features) -> _CachedGramLoss:
        """Compute and cache the Gram matrices of a fixed style image (or its feature dict); returns self."""
        feats = extract_features(target, self.required_layers, self.extractor, "target", target=True)
        for layer, f in feats.items():
            self.register_buffer(f"target_gram_{layer}", gram_matrix(f.detach()), persistent=False)
        self._cached = self.required_layers
        return self

    def clear_target(self) -> None:
        """Forget the cached style Grams."""
        for layer in self._cached:
            delattr(self, f"target_gram_{layer}")
        self._cached = ()

    @property
    def target_grams(self) -> dict[str, Tensor] | None:
        """The cached Grams ``{layer: (1 or N, C, C)}``, or None."""
        return {layer: getattr(self, f"target_gram_{layer}") for layer in self._cached} if self._cached else None

    @property
    def needs_target(self) -> bool:
        return not self._cached

    def forward(self, input: Tensor | Features, target: Tensor | Features | None = None) -> Tensor:
        grams = self.target_grams if target is None else None
        if target is None and grams is None:
            fail("target", "a style image or feature dict (or call set_target first)", "None")
        return _gram_loss(input, target, grams, self.extractor, layers=self.layers,
                          layer_weights=[w * self.gram_scale for w in self.layer_weights], reduction=self.reduction)


class StyleLoss(_CachedGramLoss):
    """Johnson et al.'s style loss ``Σ_j ‖G_j(ŷ) − G_j(y)‖²_F``; see :func:`style_loss`.

    ``forward(input, target=None)``. A fixed style image is set once with :meth:`set_target`: its Grams
    are computed under ``no_grad`` and kept as (non-persistent) buffers, and ``forward(input)`` then
    reuses them; a ``target`` given to ``forward`` takes precedence. Defaults: VGG16 relu1_2, relu2_2,
    relu3_3, relu4_3, weight 1 each, ``"mean"`` over the batch; ``weights="imagenet"`` unless
    ``extractor=`` is given.
    """

    default_layers = JOHNSON_STYLE_LAYERS
    default_weight = 1.0
    default_arch = "vgg16"


class TextureLoss(_CachedGramLoss):
    """Gatys et al.'s texture/style loss ``Σ_l w_l E_l``; see :func:`texture_loss`.

    Like :class:`StyleLoss` (``set_target`` caches the texture's Grams), with ``E_l = 1/(4N²M²)Σ(G − A)²``
    and ``w_l = 1/L``. Defaults: relu1_1 … relu5_1 of VGG19, ``w_l = 1/5``, the choice of the CVPR 2016
    style-transfer paper (its ImageNet weights need torchvision's download — offline, pass
    ``extractor=VGGFeatures("vgg16", ..., weights="oxford")``). The texture paper matched conv1_1 and
    pool1–pool4 instead: ``layers=("conv1_1", "pool1", "pool2", "pool3", "pool4")`` (see
    :func:`texture_loss` on why ``"relu1_1"`` reads its conv1_1 more faithfully).

    References:
        Gatys, Ecker, Bethge, "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016
        (precursor: arXiv 1508.06576); "Texture Synthesis Using Convolutional Neural Networks", arXiv 1505.07376.
    """

    gram_scale = 0.25
    default_layers = GATYS_STYLE_LAYERS
    default_weight = None  # 1/L
    default_arch = "vgg19"


class ContentStyleLoss(FeatureLoss):
    """Gatys et al.'s ``α L_content + β L_style``; see :func:`content_style_loss`.

    ``forward(input, content, style=None, *, return_parts=False)``; :meth:`set_style` caches the Grams of
    a fixed style image. Defaults: content relu4_2, style relu1_1 … relu5_1 (w_l = 1/5), α = 1, β = 1e3,
    VGG19 with ``weights="imagenet"`` unless ``extractor=`` is given. ``return_parts=True`` returns
    :class:`~imagelosses.losses.style.ContentStyleParts`.
    """

    content_layers: tuple[str, ...]
    style_layers: tuple[str, ...]
    style_layer_weights: tuple[float, ...]
    content_weight: float
    style_weight: float
    reduction: str
    options = ("content_layers", "style_layers", "style_layer_weights", "content_weight", "style_weight", "reduction")

    def __init__(self, *, content_layers: str | Sequence[str] = GATYS_CONTENT_LAYERS,
                 style_layers: str | Sequence[str] = GATYS_STYLE_LAYERS, style_layer_weights: LayerWeights = None,
                 content_weight: float = 1.0, style_weight: float = 1e3, reduction: Reduction = "mean",
                 extractor: VGGFeatures | None = None, arch: str = UNSET, weights: Any = UNSET,
                 pooling: str = UNSET) -> None:
        super().__init__()
        content = check_layers(content_layers, None, "content_layers")
        style = check_layers(style_layers, None, "style_layers")
        self.set_options(**_check_content_style_options(content, style, style_layer_weights, content_weight,
                                                        style_weight, reduction))
        self.setup_extractor(tuple(dict.fromkeys(content + style)), extractor, arch, weights, pooling, "vgg19")
        self._style = TextureLoss(layers=style, extractor=self.extractor)  # holds the cached style Grams

    @property
    def target_layers(self) -> tuple[str, ...]:
        return self.content_layers

    @property
    def has_style(self) -> bool:
        """Whether a style image's Grams are cached (:meth:`set_style`), so ``forward`` needs no ``style``."""
        return not self._style.needs_target

    def set_style(self, style: Tensor | Features) -> ContentStyleLoss:
        """Compute and cache the Gram matrices of a fixed style image; returns self."""
        self._style.set_target(style)
        return self

    def forward(self, input: Tensor | Features, content: Tensor | Features, style: Tensor | Features | None = None,
                *, return_parts: bool = False) -> Tensor | ContentStyleParts:
        grams = self._style.target_grams if style is None else None
        if style is None and grams is None:
            fail("style", "a style image or feature dict (or call set_style first)", "None")
        return _content_style(input, content, style, grams, self.extractor, return_parts=return_parts,
                              **self.option_values())
