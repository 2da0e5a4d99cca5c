"""``nn.Module`` losses: configuration in ``__init__``, data in ``forward``; the math is in
:mod:`imagelosses.functional`."""

from .perceptual import CombinedFeatureLoss, ContentStyleLoss, PerceptualLoss, StyleLoss, TextureLoss
from .pixel import CharbonnierLoss, DiceLoss, FocalLoss, L1Loss, MSELoss, PixelCrossEntropyLoss

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
]
