"""A weighted sum of feature losses on ONE backbone pass per image."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from torch import Tensor, nn

from .._core.checks import check_number, check_same_shape, fail, fmt_shape
from ..backbones.feature_loss import FeatureLoss, extract_features, layer_sum
from ..backbones.vgg import VGGFeatures
from .style import ContentStyleLoss, ContentStyleParts

__all__ = ["CombinedFeatureLoss", "CombinedParts"]


class CombinedParts(NamedTuple):
    """``total = Σ weight_k · parts[k]`` over the term names ``k``; ``parts`` holds each term's unweighted
    value, and for a :class:`ContentStyleLoss` term ``k`` also ``parts[k + ".content"]`` and
    ``parts[k + ".style"]`` (its :class:`~imagelosses.losses.style.ContentStyleParts`, unweighted by
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
    the extractor would repeat it); a style-only combination accepts a style image of any size. The target
    image is checked to lie in [0, 1] (tolerance 0.1) when a term that reads it checks its range (their option
    ``check_range``, True by default; only the target, never ``input``: see
    :func:`~imagelosses.functional.perceptual_loss`).

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
            none is used, a target whose shape differs from the input's where a term compares them, a target
            outside [0, 1] where a term checks its range.
        TypeError: a term that is not a feature loss.

    Example:
        >>> import torch
        >>> from imagelosses.backbones import VGGFeatures
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
        losses: dict[str, FeatureLoss[Any]] = {}
        self.term_weights: dict[str, float] = {}
        for name, item in terms.items():
            if not isinstance(name, str) or not name or "." in name:
                fail("terms", "names that are non-empty strings without '.'", repr(name))
            if not isinstance(item, tuple) or len(item) != 2 or not isinstance(item[1], FeatureLoss):
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

    def _term(self, name: str) -> FeatureLoss[Any]:
        term = self.terms[name]
        if not isinstance(term, FeatureLoss):  # the constructor admits only feature losses
            fail(f"terms[{name!r}]", "a feature loss", type(term).__name__, exc=TypeError)
        return term

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
        paired = [name for name in need_target if self._term(name).paired_target]
        if paired and isinstance(input, Tensor) and isinstance(target, Tensor):
            check_same_shape(target, "target", input, "input")
        feats_in = self.extractor(input, layers=self.layers)
        feats_t: dict[str, Tensor] | None = None
        if need_target and target is not None:
            target_layers = tuple(dict.fromkeys(
                layer for name in need_target for layer in self._term(name).target_layers))
            check = any(self._term(name).checks_target_range for name in need_target)
            feats_t = extract_features(target, target_layers, self.extractor, "target", target=True, check_range=check)
        parts: dict[str, Tensor] = {}
        weighted: list[Tensor] = []
        for name, loss in self.terms.items():
            if isinstance(loss, ContentStyleLoss):
                split = loss(feats_in, feats_t, return_parts=True)
                if not isinstance(split, ContentStyleParts):  # return_parts=True always gives the parts
                    fail(f"terms[{name!r}]", "a ContentStyleLoss returning its parts", type(split).__name__,
                         exc=TypeError)
                value = parts[name] = split.total
                parts[f"{name}.content"], parts[f"{name}.style"] = split.content, split.style
            else:
                value = parts[name] = loss(feats_in, feats_t if loss.needs_target else None)
            weighted.append(self.term_weights[name] * value)
        total = layer_sum(weighted)
        return CombinedParts(total, parts) if return_parts else total

    def extra_repr(self) -> str:
        return f"weights={self.term_weights!r}, layers={self.layers!r}"
