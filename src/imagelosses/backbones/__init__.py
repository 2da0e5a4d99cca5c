"""The frozen VGG backbone (named, truncated layers) and its weight sources."""

from .vgg import VGGFeatures, check_layers
from .weights import WeightsUnavailableError, cache_directory, layer_names, oxford_vgg16_state_dict

__all__ = [
    "VGGFeatures",
    "WeightsUnavailableError",
    "cache_directory",
    "check_layers",
    "layer_names",
    "oxford_vgg16_state_dict",
]
