"""Evaluation measures used by the experiments (topology of thin structures, retrieval, GAN modes).
They score outputs; they are not losses and are never differentiated."""

from .topology import (
    betti_errors,
    betti_numbers,
    centerline,
    cldice_score,
    completeness_correctness_quality,
    topology_scores,
)

__all__ = [
    "betti_errors",
    "betti_numbers",
    "centerline",
    "cldice_score",
    "completeness_correctness_quality",
    "topology_scores",
]
