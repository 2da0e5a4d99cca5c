"""imagelosses: loss functions for training image models in PyTorch, faithful to their papers.

The layout, from the floor up (imports only run downwards):

- :mod:`._core`: checks, reduction, dtypes, the module shell;
- :mod:`.backbones`: the frozen VGG and its weights, the plumbing of feature losses;
- :mod:`.losses` (image losses, one file per family) and :mod:`.embedding` (metric learning);
- :mod:`.functional`: every loss function in one namespace.
"""

from .backbones.vgg import VGGFeatures
from .embedding.contrastive import ContrastiveLoss
from .embedding.mining import mine_triplets
from .embedding.sampler import PKSampler
from .embedding.triplet import OfflineTripletLoss, TripletLoss
from .losses.combined import CombinedFeatureLoss
from .losses.perceptual import PerceptualLoss
from .losses.regression import CharbonnierLoss, L1Loss, MSELoss
from .losses.segmentation import DiceLoss, FocalLoss, PixelCrossEntropyLoss
from .losses.style import ContentStyleLoss, StyleLoss, TextureLoss, gram_matrix
from .losses.weightmaps import unet_weight_map

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
