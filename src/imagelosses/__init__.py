"""imagelosses: loss functions for training image models in PyTorch, faithful to their papers.

The layout, from the floor up (imports only run downwards):

- :mod:`._core`: checks, reduction, dtypes, the module shell;
- :mod:`.backbones`: the frozen VGG and its weights, the plumbing of feature losses;
- :mod:`.losses` (image losses, one file per family) and :mod:`.embedding` (metric learning);
- :mod:`.metrics`: evaluation measures (topology of thin structures) used by the experiments;
- :mod:`.experiments` and :mod:`.cli`: the ``imagelosses`` command, imported lazily;
- :mod:`.functional`: every loss function in one namespace.
"""

from .backbones.vgg import VGGFeatures
from .embedding.contrastive import ContrastiveLoss
from .embedding.infonce import NTXentLoss, SupConLoss
from .embedding.mining import mine_triplets
from .embedding.sampler import PKSampler
from .embedding.triplet import OfflineTripletLoss, TripletLoss
from .losses.adversarial import LSGAN_CODINGS, GANLoss
from .losses.cldice import SoftClDiceLoss, soft_skeleton
from .losses.combined import CombinedFeatureLoss
from .losses.cycle import CycleConsistencyLoss, IdentityLoss, ImagePool
from .losses.gan_training import clip_weights_, wgan_critic_iterations
from .losses.overlap import DiceCELoss, GeneralizedDiceLoss, LovaszSoftmaxLoss, TverskyLoss
from .losses.penalties import GradientPenalty
from .losses.perceptual import PerceptualLoss
from .losses.refinement import iterative_refinement, refinement_loss, refinement_weights
from .losses.regression import CharbonnierLoss, L1Loss, MSELoss
from .losses.restoration import MSSSIML1Loss, MSSSIMLoss, SSIMLoss, TotalVariationLoss
from .losses.segmentation import DiceLoss, FocalLoss, PixelCrossEntropyLoss
from .losses.style import ContentStyleLoss, StyleLoss, TextureLoss, gram_matrix
from .losses.topology import TopologyAwareLoss, TopologyLoss
from .losses.weightmaps import unet_weight_map

__version__ = "0.1.0"

__all__ = [
    "LSGAN_CODINGS",
    "CharbonnierLoss",
    "CombinedFeatureLoss",
    "ContentStyleLoss",
    "ContrastiveLoss",
    "CycleConsistencyLoss",
    "DiceCELoss",
    "DiceLoss",
    "FocalLoss",
    "GANLoss",
    "GeneralizedDiceLoss",
    "GradientPenalty",
    "IdentityLoss",
    "ImagePool",
    "L1Loss",
    "LovaszSoftmaxLoss",
    "MSELoss",
    "MSSSIML1Loss",
    "MSSSIMLoss",
    "NTXentLoss",
    "OfflineTripletLoss",
    "PKSampler",
    "PerceptualLoss",
    "PixelCrossEntropyLoss",
    "SSIMLoss",
    "SoftClDiceLoss",
    "StyleLoss",
    "SupConLoss",
    "TextureLoss",
    "TopologyAwareLoss",
    "TopologyLoss",
    "TotalVariationLoss",
    "TripletLoss",
    "TverskyLoss",
    "VGGFeatures",
    "clip_weights_",
    "gram_matrix",
    "iterative_refinement",
    "mine_triplets",
    "refinement_loss",
    "refinement_weights",
    "soft_skeleton",
    "unet_weight_map",
    "wgan_critic_iterations",
]
