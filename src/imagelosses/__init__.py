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
from .metric import ContrastiveLoss, OfflineTripletLoss, PKSampler, TripletLoss, mine_triplets

__version__ = "0.1.0"

__all__ = [
    "CharbonnierLoss",
    "CombinedFeatureLoss",
    "ContentStyleLoss",
    "ContrastiveLoss",
    "DiceLoss",
    "FocalLoss",
    "L1Loss",
    "MSELoss",
    "OfflineTripletLoss",
    "PKSampler",
    "PerceptualLoss",
    "PixelCrossEntropyLoss",
    "StyleLoss",
    "TextureLoss",
    "TripletLoss",
    "VGGFeatures",
    "gram_matrix",
    "mine_triplets",
    "unet_weight_map",
]
