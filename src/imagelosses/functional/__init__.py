"""The math of every loss, as pure functions; the modules in :mod:`imagelosses` call these."""

from .pixel import charbonnier_loss, class_frequency_weights, l1_loss, mse_loss, pixel_cross_entropy
from .segmentation import dice_loss, focal_loss
from .weightmaps import unet_weight_map

__all__ = [
    "charbonnier_loss",
    "class_frequency_weights",
    "dice_loss",
    "focal_loss",
    "l1_loss",
    "mse_loss",
    "pixel_cross_entropy",
    "unet_weight_map",
]
