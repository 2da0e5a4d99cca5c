"""The frozen VGG backbone (named, truncated layers), its weight sources and its named presets."""

from .presets import PRESETS, build_preset
from .vgg import VGGFeatures, check_layers
from .weights import WeightsUnavailableError, cache_directory, layer_names, oxford_vgg16_state_dict

__all__ = [
    "PRESETS",
    "VGGFeatures",
    "WeightsUnavailableError",
    "build_preset",
    "cache_directory",
    "check_layers",
    "layer_names",
    "oxford_vgg16_state_dict",
]
