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
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, NamedTuple, TypeVar

import torch
from torch import Tensor

from .._core.checks import check_bool, check_floating, check_ndim, check_option, fail, fmt_shape
from .._core.dtypes import at_least_float32
from .._core.options import Options, number
from .._core.reduction import Reduction, reduce
from ..backbones.feature_loss import (
    FeatureLoss,
    Features,
    LayerWeights,
    check_layer_options,
    extract_features,
    extract_paired_features,
    layer_sum,
    layer_weights_field,
)
from ..backbones.presets import Extractor, resolve_extractor

__all__ = [
    "GATYS_CONTENT_LAYERS",
    "GATYS_STYLE_LAYERS",
    "GRAM_NORMALIZATIONS",
    "JOHNSON_STYLE_LAYERS",
    "ContentStyleLoss",
    "ContentStyleOptions",
    "ContentStyleParts",
    "GramNormalization",
    "StyleLoss",
    "StyleOptions",
    "TextureLoss",
    "TextureOptions",
    "content_style_core",
    "content_style_loss",
    "gram_loss",
    "gram_matrix",
    "style_loss",
    "texture_loss",
]

JOHNSON_STYLE_LAYERS: tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
GATYS_CONTENT_LAYERS: tuple[str, ...] = ("relu4_2",)
GATYS_STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
GramNormalization = Literal["chw", "none"]
GRAM_NORMALIZATIONS: tuple[str, ...] = ("chw", "none")


@dataclass(frozen=True)
class StyleOptions(Options):
    """The options of :func:`style_loss` and :class:`StyleLoss`: the layers (a tuple once checked), one weight
    per layer (1 by default), the reduction and the style image's range check."""

    layers: tuple[str, ...] = JOHNSON_STYLE_LAYERS
    layer_weights: tuple[float, ...] = layer_weights_field()
    reduction: Reduction = "mean"
    check_range: bool = True
    #: The weight of each layer when ``layer_weights`` is None (None: ``1/L``).
    default_weight: ClassVar[float | None] = 1.0
    #: The factor on every layer weight: 1 for Johnson's style loss, ¼ for Gatys's ``E_l``.
    gram_scale: ClassVar[float] = 1.0

    def validate(self) -> None:
        check_layer_options(self, "layers", "layer_weights", self.default_weight)


@dataclass(frozen=True)
class TextureOptions(StyleOptions):
    """The options of :func:`texture_loss` and :class:`TextureLoss`: as :class:`StyleOptions`, with Gatys's
    layers relu1_1 … relu5_1 and ``w_l = 1/L`` by default (each weight times ¼ inside: ``E_l``)."""

    layers: tuple[str, ...] = GATYS_STYLE_LAYERS
    default_weight: ClassVar[float | None] = None
    gram_scale: ClassVar[float] = 0.25


@dataclass(frozen=True)
class ContentStyleOptions(Options):
    """The options of :func:`content_style_loss` and :class:`ContentStyleLoss`."""

    content_layers: tuple[str, ...] = GATYS_CONTENT_LAYERS
    style_layers: tuple[str, ...] = GATYS_STYLE_LAYERS
    style_layer_weights: tuple[float, ...] = layer_weights_field()
    content_weight: float = number(1.0, low=0.0)
    style_weight: float = number(1e3, low=0.0)
    reduction: Reduction = "mean"
    check_range: bool = True

    def validate(self) -> None:
        check_layer_options(self, "content_layers", None, None)
        check_layer_options(self, "style_layers", "style_layer_weights", None)


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
                  extractor: torch.nn.Module | None, name: str, grams_name: str,
                  check_range: bool) -> dict[str, Tensor]:
    if target_grams is not None:
        if target is not None:
            fail(name, f"either {name} or {grams_name}", "both")
        missing = [layer for layer in layers if layer not in target_grams]
        if missing:
            fail(grams_name, f"Gram matrices for layers {layers}", f"a dict without {missing}")
        return {layer: target_grams[layer] for layer in layers}
    if target is None:
        fail(name, f"an image batch, a feature dict, or {grams_name}", "None")
    feats = extract_features(target, layers, extractor, name, target=True, check_range=check_range)
    return {layer: gram_matrix(f) for layer, f in feats.items()}


def _gram_distance(input_feats: dict[str, Tensor], grams: dict[str, Tensor], weights: list[float],
                   name: str) -> Tensor:
    """Σ_l w_l ‖G_l(input) − A_l‖²_F per sample, with Johnson-normalised Grams; A_l of batch 1 broadcasts."""
    terms = []
    for (layer, feats), w in zip(input_feats.items(), weights, strict=True):
        g = gram_matrix(feats)
        a = grams[layer]
        if a.ndim != 3 or a.shape[1:] != g.shape[1:] or a.shape[0] not in (1, g.shape[0]):
            fail(f"{name}[{layer!r}]", f"Gram matrices of shape (1 or {g.shape[0]}, {g.shape[1]}, {g.shape[2]})",
                 f"shape {fmt_shape(a.shape)}")
        terms.append((g - at_least_float32(a)).square().sum(dim=(1, 2)) * w)
    return layer_sum(terms)


def style_loss(input: Tensor | Features, target: Tensor | Features | None = None, *,
               target_grams: Features | None = None, extractor: Extractor = None,
               layers: str | Sequence[str] = JOHNSON_STYLE_LAYERS, layer_weights: LayerWeights = None,
               reduction: Reduction = "mean", check_range: bool = True) -> Tensor:
    """Johnson et al.'s style reconstruction loss.

    Per sample: ``Σ_j w_j ‖G_j(ŷ) − G_j(y)‖²_F`` with ``G_j = ψψᵀ / (C_j H_j W_j)`` (:func:`gram_matrix`,
    float32), ``w_j = 1``, on VGG16 relu1_2, relu2_2, relu3_3, relu4_3 by default. The style target may
    be one image (batch 1, broadcast over the batch) of any size, its features, or its precomputed
    Grams (``target_grams``, e.g. cached by :class:`~imagelosses.StyleLoss`). ``"mean"`` averages over N.

    Args:
        input: images ``(N, 3|1, H, W)`` in [0, 1], or their feature dict.
        target: the style image(s), or their feature dict; None when ``target_grams`` is given.
        target_grams: precomputed Johnson-normalised Grams ``{layer: (1 or N, C_j, C_j)}`` instead of ``target``.
        extractor: the backbone for image arguments: a :class:`~imagelosses.backbones.vgg.VGGFeatures`, or a
            preset name (``"vgg16-oxford"``, ``"vgg16-imagenet"``, ...; a new backbone is built on every call:
            pass a ``VGGFeatures`` in a training loop); None: the inputs must be feature dicts.
        layers: default VGG16 relu1_2, relu2_2, relu3_3, relu4_3 (Johnson's).
        layer_weights: one non-negative weight per layer (sequence or dict), default 1.
        reduction: ``"none"`` → ``(N,)``, ``"mean"``, ``"sum"``.
        check_range: refuse a target (style) image with values more than 0.1 outside [0, 1], the range the
            backbone's preprocessing expects (0..255 or [-1, 1] data would give a loss orders of magnitude off,
            silently). Only the target is checked, the data, never ``input``: a prediction or a synthesis
            legitimately overshoots [0, 1] while it is optimised. Eager only (one ``aminmax`` pass; skipped
            under ``torch.compile``); NaN passes (the loss is then NaN); feature dicts and ``target_grams`` are not
            checked.

    Shape:
        input ``(N, 3|1, H, W)``; target ``(1 or N, 3|1, H', W')``; ``"none"`` → ``(N,)``.

    Raises:
        ValueError: unknown option, both or neither of target/target_grams, Gram shapes that do not fit, a
            target image outside [0, 1] when ``check_range``.
        TypeError: non-floating tensors, wrong option types, an extractor that is not a VGGFeatures or a name.

    References:
        Johnson, Alahi, Fei-Fei, arXiv 1603.08155; Gatys, Ecker, Bethge, arXiv 1505.07376.

    Example:
        >>> x, style = torch.rand(2, 3, 8, 8), torch.rand(1, 3, 16, 16)  # one style image of any size
        >>> style_loss(x, style, extractor="vgg16-random", layers=("relu1_2",), reduction="none").shape
        torch.Size([2])
    """
    options = StyleOptions.pick(locals())
    return gram_loss(input, target, target_grams, resolve_extractor(extractor, options.layers), options)


def gram_loss(input: Tensor | Features, target: Tensor | Features | None, target_grams: Features | None,
              extractor: torch.nn.Module | None, options: StyleOptions) -> Tensor:
    """``Σ_l w_l ‖G_l(input) − A_l‖²_F`` per sample, reduced, from checked options: the style loss, and the
    texture loss (``TextureOptions``: each ``w_l`` times ¼)."""
    grams = _target_grams(target, target_grams, options.layers, extractor, "target", "target_grams",
                          options.check_range)
    fi = extract_features(input, options.layers, extractor, "input")
    weights = [w * options.gram_scale for w in options.layer_weights]
    distance = _gram_distance(fi, grams, weights, "target_grams" if target is None else "target")
    return reduce(distance, options.reduction)


def texture_loss(input: Tensor | Features, target: Tensor | Features | None = None, *,
                 target_grams: Features | None = None, extractor: Extractor = None,
                 layers: str | Sequence[str] = GATYS_STYLE_LAYERS, layer_weights: LayerWeights = None,
                 reduction: Reduction = "mean", check_range: bool = True) -> Tensor:
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

    Args:
        input: the synthesis ``(N, 3|1, H, W)`` in [0, 1], or its feature dict.
        target: the texture (style) image(s), of any size, or their feature dict; None when ``target_grams`` is
            given.
        target_grams: precomputed Johnson-normalised Grams ``{layer: (1 or N, C_l, C_l)}`` instead of ``target``.
        extractor: a :class:`~imagelosses.backbones.vgg.VGGFeatures` or a preset name (built on every call);
            None: the inputs must be feature dicts.
        layers: default relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.
        layer_weights: ``w_l`` ≥ 0, one per layer (sequence or dict); default ``1/L``.
        reduction: ``"none"`` → ``(N,)``, ``"mean"``, ``"sum"``.
        check_range: refuse a target (texture) image more than 0.1 outside [0, 1], as :func:`style_loss` does
            (the target only, never ``input``).

    Shape:
        input ``(N, 3|1, H, W)``; target ``(1 or N, 3|1, H', W')``; ``"none"`` → ``(N,)``.

    Raises:
        ValueError and TypeError: as :func:`style_loss`.

    References:
        Gatys, Ecker, Bethge, "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016
        (and its precursor "A Neural Algorithm of Artistic Style", arXiv 1508.06576): the default layers
        and ``w_l = 1/5``;
        Gatys, Ecker, Bethge, "Texture Synthesis Using Convolutional Neural Networks", NeurIPS 2015,
        arXiv 1505.07376: ``E_l``, the Gram matrices, and the conv1_1/pool1–pool4 layers.

    Example:
        >>> texture = torch.rand(1, 3, 16, 16)
        >>> float(texture_loss(texture, texture, extractor="vgg16-random", layers=("relu1_1", "relu2_1")))
        0.0
    """
    options = TextureOptions.pick(locals())
    return gram_loss(input, target, target_grams, resolve_extractor(extractor, options.layers), options)


def content_style_loss(input: Tensor | Features, content: Tensor | Features, style: Tensor | Features | None = None,
                       *, style_grams: Features | None = None, extractor: Extractor = None,
                       content_layers: str | Sequence[str] = GATYS_CONTENT_LAYERS,
                       style_layers: str | Sequence[str] = GATYS_STYLE_LAYERS,
                       style_layer_weights: LayerWeights = None, content_weight: float = 1.0,
                       style_weight: float = 1e3, reduction: Reduction = "mean",
                       return_parts: bool = False, check_range: bool = True) -> Tensor | ContentStyleParts:
    """Gatys et al.'s style-transfer objective ``L = α L_content + β L_style``.

    Per sample: ``L_content = ½ Σ (F^l − P^l)²`` summed over every element of each content layer
    (relu4_2, "conv4_2" in the paper, by default) between the synthesis ``F`` and the content image
    ``P``; ``L_style`` is :func:`texture_loss` against the style image (relu1_1 … relu5_1, ``w_l = 1/5``).
    ``α = content_weight = 1``, ``β = style_weight = 1e3`` (α/β = 1e-3; the paper also shows 8e-4, 5e-3,
    5e-4). ``"mean"`` averages over the batch. With ``return_parts=True`` returns
    :class:`ContentStyleParts` ``(total, content, style)`` (content and style unweighted).

    One backbone pass on ``input`` serves both terms when it is an image batch.

    Args:
        input: the synthesis ``(N, 3|1, H, W)`` in [0, 1], or its feature dict.
        content: the content image(s) of ``input``'s shape, or their feature dict.
        style: the style image(s) ``(1 or N, 3|1, H', W')`` of any size, or their feature dict; None when
            ``style_grams`` is given.
        style_grams: precomputed Johnson-normalised Grams ``{layer: (1 or N, C_l, C_l)}`` instead of ``style``.
        extractor: a :class:`~imagelosses.backbones.vgg.VGGFeatures` or a preset name (built on every call);
            None: the inputs must be feature dicts.
        content_layers: default relu4_2. style_layers: default relu1_1 … relu5_1.
        style_layer_weights: ``w_l`` ≥ 0, one per style layer (sequence or dict); default ``1/L``.
        content_weight: α ≥ 0. style_weight: β ≥ 0.
        reduction: ``"none"`` → ``(N,)``, ``"mean"``, ``"sum"``.
        return_parts: return :class:`ContentStyleParts` ``(total, content, style)``.
        check_range: refuse a content or style image with values more than 0.1 outside [0, 1], the range the
            backbone's preprocessing expects (0..255 or [-1, 1] data would give a loss orders of magnitude off,
            silently). Only the content and style images are checked, the data, never ``input``: a synthesis
            legitimately overshoots [0, 1] while it is optimised. Eager only (one ``aminmax`` pass; skipped
            under ``torch.compile``); NaN passes (the loss is then NaN); feature dicts and ``style_grams`` are not
            checked.

    Shape:
        input, content ``(N, 3|1, H, W)``; style ``(1 or N, 3|1, H', W')``; ``"none"`` → ``(N,)``.

    Raises:
        ValueError: unknown option, a content image of another shape than ``input``, both or neither of
            style/style_grams, Gram shapes that do not fit, a content or style image outside [0, 1] when
            ``check_range``.
        TypeError: non-floating tensors, wrong option types, an extractor that is not a VGGFeatures or a name.

    References:
        Gatys, Ecker, Bethge, "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016
        (precursor: "A Neural Algorithm of Artistic Style", arXiv 1508.06576).

    Example:
        >>> x, content, style = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), torch.rand(1, 3, 16, 16)
        >>> parts = content_style_loss(x, content, style, extractor="vgg16-random", content_layers="relu2_1",
        ...                            style_layers=("relu1_1", "relu2_1"), return_parts=True)
        >>> bool(parts.total == parts.content + 1e3 * parts.style)
        True
    """
    options = ContentStyleOptions.pick(locals())
    check_bool(return_parts, "return_parts")
    vgg = resolve_extractor(extractor, tuple(dict.fromkeys(options.content_layers + options.style_layers)))
    return content_style_core(input, content, style, style_grams, vgg, options, return_parts=return_parts)


def content_style_core(input: Tensor | Features, content: Tensor | Features, style: Tensor | Features | None,
                       style_grams: Features | None, extractor: torch.nn.Module | None,
                       options: ContentStyleOptions, *, return_parts: bool = False) -> Tensor | ContentStyleParts:
    """Gatys's ``α L_content + β L_style`` from checked options (the kernel of :func:`content_style_loss`)."""
    content_layers, style_layers = options.content_layers, options.style_layers
    all_layers = tuple(dict.fromkeys(content_layers + style_layers))
    fi, fc = extract_paired_features(input, content, all_layers, content_layers, extractor, "content",
                                     check_range=options.check_range)
    content_value = layer_sum([
        0.5 * (at_least_float32(fi[layer]) - at_least_float32(fc[layer])).square().flatten(1).sum(dim=1)
        for layer in content_layers])
    grams = _target_grams(style, style_grams, style_layers, extractor, "style", "style_grams", options.check_range)
    style_value = _gram_distance({k: fi[k] for k in style_layers}, grams,
                                 [w / 4 for w in options.style_layer_weights],
                                 "style_grams" if style is None else "style")
    total = options.content_weight * content_value + options.style_weight * style_value
    if return_parts:
        return ContentStyleParts(reduce(total, options.reduction), reduce(content_value, options.reduction),
                                 reduce(style_value, options.reduction))
    return reduce(total, options.reduction)


GramOptionsT = TypeVar("GramOptionsT", bound=StyleOptions)


class _CachedGramLoss(FeatureLoss[GramOptionsT], Generic[GramOptionsT]):
    """The shared shell of :class:`StyleLoss` and :class:`TextureLoss`: a Gram loss whose target may be a
    fixed image cached once (stateful: :meth:`set_target` keeps its Grams as non-persistent buffers)."""

    paired_target = False

    def __init__(self, *, extractor: Extractor = None, **options: Any) -> None:
        super().__init__(extractor=extractor, **options)
        self._cached: tuple[str, ...] = ()

    def set_target(self, target: Tensor | Features) -> _CachedGramLoss[GramOptionsT]:
        """Compute and cache the Gram matrices of a fixed style image (or its feature dict); returns self."""
        return self._cache(target, "target")

    @torch.no_grad()
    def _cache(self, target: Tensor | Features, name: str) -> _CachedGramLoss[GramOptionsT]:
        """:meth:`set_target`, naming the image ``name`` in error messages."""
        feats = extract_features(target, self.required_layers, self.extractor, name, target=True,
                                 check_range=self.options.check_range)
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
        return gram_loss(input, target, grams, self.extractor, self.current_options())


class StyleLoss(_CachedGramLoss[StyleOptions], function=style_loss):
    """Johnson et al.'s style loss ``Σ_j ‖G_j(ŷ) − G_j(y)‖²_F``; see :func:`style_loss`.

    ``StyleLoss(*, extractor=None, layers=JOHNSON_STYLE_LAYERS, layer_weights=None, reduction="mean")``, called
    as ``loss(input, target=None)``. A fixed style image is set once with :meth:`set_target`: its Grams
    are computed under ``no_grad`` and kept as (non-persistent) buffers, and ``forward(input)`` then
    reuses them; a ``target`` given to ``forward`` takes precedence. Defaults: VGG16 relu1_2, relu2_2,
    relu3_3, relu4_3, weight 1 each, ``"mean"`` over the batch; ``extractor``: a shared ``VGGFeatures``, a
    preset name, or None for ``"vgg16-imagenet"`` (offline: ``"vgg16-oxford"``).

    Example:
        >>> loss = StyleLoss(extractor="vgg16-random", layers=("relu1_2",)).set_target(torch.rand(1, 3, 8, 8))
        >>> loss(torch.rand(2, 3, 8, 8)).shape
        torch.Size([])
    """

    Options = StyleOptions
    default_extractor = "vgg16-imagenet"


class TextureLoss(_CachedGramLoss[TextureOptions], function=texture_loss):
    """Gatys et al.'s texture/style loss ``Σ_l w_l E_l``; see :func:`texture_loss`.

    Like :class:`StyleLoss` (``set_target`` caches the texture's Grams), with ``E_l = 1/(4N²M²)Σ(G − A)²``
    and ``w_l = 1/L``. Defaults: relu1_1 … relu5_1 of VGG19, ``w_l = 1/5``, the choice of the CVPR 2016
    style-transfer paper; ``extractor=None`` builds ``"vgg19-imagenet"`` (torchvision's download — offline,
    pass ``extractor="vgg16-oxford"``). Gatys's average pooling: pass ``extractor=VGGFeatures("vgg19", layers,
    pooling="avg")``. The texture paper matched conv1_1 and pool1–pool4 instead: ``layers=("conv1_1",
    "pool1", "pool2", "pool3", "pool4")`` (see :func:`texture_loss` on why ``"relu1_1"`` reads its conv1_1
    more faithfully).

    References:
        Gatys, Ecker, Bethge, "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016
        (precursor: arXiv 1508.06576); "Texture Synthesis Using Convolutional Neural Networks", arXiv 1505.07376.

    Example:
        >>> loss = TextureLoss(extractor="vgg16-random", layers=("relu1_1", "relu2_1"), reduction="none")
        >>> loss.set_target(torch.rand(1, 3, 16, 16))(torch.rand(2, 3, 16, 16)).shape
        torch.Size([2])
    """

    Options = TextureOptions
    default_extractor = "vgg19-imagenet"


class ContentStyleLoss(FeatureLoss[ContentStyleOptions], function=content_style_loss):
    """Gatys et al.'s ``α L_content + β L_style``; see :func:`content_style_loss`.

    ``ContentStyleLoss(*, extractor=None, content_layers=("relu4_2",), style_layers=GATYS_STYLE_LAYERS,
    style_layer_weights=None, content_weight=1.0, style_weight=1e3, reduction="mean")``, called as
    ``loss(input, content, style=None, *, return_parts=False)``; :meth:`set_style` caches the Grams of
    a fixed style image. Defaults: content relu4_2, style relu1_1 … relu5_1 (w_l = 1/5), α = 1, β = 1e3;
    ``extractor=None`` builds ``"vgg19-imagenet"``. ``return_parts=True`` returns
    :class:`~imagelosses.losses.style.ContentStyleParts`.

    Example:
        >>> loss = ContentStyleLoss(extractor="vgg16-random", content_layers="relu2_1",
        ...                         style_layers=("relu1_1", "relu2_1"))
        >>> loss.set_style(torch.rand(1, 3, 16, 16)).has_style
        True
        >>> loss(torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8), return_parts=True).content.shape
        torch.Size([])
    """

    Options = ContentStyleOptions
    default_extractor = "vgg19-imagenet"

    def __init__(self, *, extractor: Extractor = None, **options: Any) -> None:
        super().__init__(extractor=extractor, **options)
        self._style = TextureLoss(layers=self.style_layers, extractor=self.extractor)  # holds the cached Grams

    @property
    def required_layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.options.content_layers + self.options.style_layers))

    @property
    def target_layers(self) -> tuple[str, ...]:
        return self.options.content_layers

    @property
    def has_style(self) -> bool:
        """Whether a style image's Grams are cached (:meth:`set_style`), so ``forward`` needs no ``style``."""
        return not self._style.needs_target

    def set_style(self, style: Tensor | Features) -> ContentStyleLoss:
        """Compute and cache the Gram matrices of a fixed style image (checked as ``check_range`` says); returns
        self."""
        self._style.check_range = self.options.check_range
        self._style._cache(style, "style")
        return self

    def forward(self, input: Tensor | Features, content: Tensor | Features, style: Tensor | Features | None = None,
                *, return_parts: bool = False) -> Tensor | ContentStyleParts:
        grams = self._style.target_grams if style is None else None
        if style is None and grams is None:
            fail("style", "a style image or feature dict (or call set_style first)", "None")
        return content_style_core(input, content, style, grams, self.extractor, self.current_options(),
                                  return_parts=return_parts)
