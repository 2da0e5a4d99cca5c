"""Every loss as a pure function (the ``torch.nn.functional`` habit); the modules in :mod:`imagelosses` hold
their options and call the same math. Each function lives in its family's file under :mod:`imagelosses.losses`
or :mod:`imagelosses.embedding`."""

from .embedding.contrastive import batch_contrastive_loss, contrastive_loss
from .embedding.infonce import nt_xent_loss, supcon_loss
from .embedding.triplet import triplet_loss, triplet_margin_loss
from .losses.adversarial import discriminator_loss, generator_loss
from .losses.cldice import soft_cldice_loss, soft_skeleton
from .losses.cycle import cycle_consistency_loss, identity_loss
from .losses.overlap import dice_ce_loss, generalized_dice_loss, lovasz_softmax_loss, tversky_loss
from .losses.penalties import gradient_penalty
from .losses.perceptual import perceptual_loss
from .losses.regression import charbonnier_loss, l1_loss, mse_loss
from .losses.restoration import ms_ssim, ms_ssim_l1_loss, ms_ssim_loss, ssim, ssim_loss, total_variation_loss
from .losses.segmentation import class_frequency_weights, dice_loss, focal_loss, pixel_cross_entropy
from .losses.style import content_style_loss, gram_matrix, style_loss, texture_loss
from .losses.topology import topology_aware_loss, topology_loss
from .losses.weightmaps import unet_weight_map

__all__ = [
    "batch_contrastive_loss",
    "charbonnier_loss",
    "class_frequency_weights",
    "content_style_loss",
    "contrastive_loss",
    "cycle_consistency_loss",
    "dice_ce_loss",
    "dice_loss",
    "discriminator_loss",
    "focal_loss",
    "generalized_dice_loss",
    "generator_loss",
    "gradient_penalty",
    "gram_matrix",
    "identity_loss",
    "l1_loss",
    "lovasz_softmax_loss",
    "ms_ssim",
    "ms_ssim_l1_loss",
    "ms_ssim_loss",
    "mse_loss",
    "nt_xent_loss",
    "perceptual_loss",
    "pixel_cross_entropy",
    "soft_cldice_loss",
    "soft_skeleton",
    "ssim",
    "ssim_loss",
    "style_loss",
    "supcon_loss",
    "texture_loss",
    "topology_aware_loss",
    "topology_loss",
    "total_variation_loss",
    "triplet_loss",
    "triplet_margin_loss",
    "tversky_loss",
    "unet_weight_map",
]
