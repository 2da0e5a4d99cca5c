"""The math of every loss, as pure functions; the modules in :mod:`imagelosses` call these."""

from ..metric.contrastive import batch_contrastive_loss, contrastive_loss
from ..metric.triplet import triplet_loss, triplet_margin_loss
from .perceptual import content_style_loss, gram_matrix, perceptual_loss, style_loss, texture_loss
from .pixel import charbonnier_loss, class_frequency_weights, l1_loss, mse_loss, pixel_cross_entropy
from .segmentation import dice_loss, focal_loss
from .weightmaps import unet_weight_map

__all__ = [
    "batch_contrastive_loss",
    "charbonnier_loss",
    "class_frequency_weights",
    "content_style_loss",
    "contrastive_loss",
    "dice_loss",
    "focal_loss",
    "gram_matrix",
    "l1_loss",
    "mse_loss",
    "perceptual_loss",
    "pixel_cross_entropy",
    "style_loss",
    "texture_loss",
    "triplet_loss",
    "triplet_margin_loss",
    "unet_weight_map",
]
