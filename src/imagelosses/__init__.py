"""imagelosses: loss functions for training image models in PyTorch, faithful to their papers.

The modules here hold configuration and call the pure functions of :mod:`imagelosses.functional`.
"""

from .features import VGGFeatures
from .functional.perceptual import gram_matrix
from .functional.weightmaps import unet_weight_map
from .losses.perceptual import (
    CombinedFeatureLoss,
    ContentStyleLoss,
    PerceptualLoss,
    StyleLoss,
    TextureLoss,
)
from .losses.pixel import CharbonnierLoss, DiceLoss, FocalLoss, L1Loss, MSELoss, PixelCrossEntropyLoss

__version__ = "0.1.0"

__all__ = [
    "CharbonnierLoss",
    "CombinedFeatureLoss",
    "ContentStyleLoss",
    "DiceLoss",
    "FocalLoss",
    "L1Loss",
    "MSELoss",
    "PerceptualLoss",
    "PixelCrossEntropyLoss",
    "StyleLoss",
    "TextureLoss",
    "VGGFeatures",
    "gram_matrix",
    "unet_weight_map",
]
