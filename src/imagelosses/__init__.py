"""imagelosses: loss functions for training image models in PyTorch, faithful to their papers.

The modules here hold configuration and call the pure functions of :mod:`imagelosses.functional`.
"""

from .functional.weightmaps import unet_weight_map
from .losses.pixel import CharbonnierLoss, DiceLoss, FocalLoss, L1Loss, MSELoss, PixelCrossEntropyLoss

__version__ = "0.1.0"

__all__ = [
    "CharbonnierLoss",
    "DiceLoss",
    "FocalLoss",
    "L1Loss",
    "MSELoss",
    "PixelCrossEntropyLoss",
    "unet_weight_map",
]
