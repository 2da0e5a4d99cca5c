"""Metric learning: distances, triplet mining, triplet and contrastive losses, NT-Xent and SupCon, the P×K batch
sampler, and gathering a batch across ``torch.distributed`` ranks."""

from .contrastive import ContrastiveLoss, batch_contrastive_loss, contrastive_loss
from .distances import DISTANCES, l2_normalize, pairwise_distances, row_distances
from .distributed import gather_batch, is_distributed
from .infonce import NTXentLoss, SupConLoss, nt_xent_loss, supcon_loss
from .mining import MINING, mine_triplets
from .sampler import PKSampler
from .triplet import OfflineTripletLoss, TripletLoss, TripletStats, triplet_loss, triplet_margin_loss

__all__ = [
    "DISTANCES",
    "MINING",
    "ContrastiveLoss",
    "NTXentLoss",
    "OfflineTripletLoss",
    "PKSampler",
    "SupConLoss",
    "TripletLoss",
    "TripletStats",
    "batch_contrastive_loss",
    "contrastive_loss",
    "gather_batch",
    "is_distributed",
    "l2_normalize",
    "mine_triplets",
    "nt_xent_loss",
    "pairwise_distances",
    "row_distances",
    "supcon_loss",
    "triplet_loss",
    "triplet_margin_loss",
]
