"""Evaluation measures used by the experiments: topology of thin structures (:mod:`.topology`), retrieval
(:mod:`.retrieval`), GAN mode coverage (:mod:`.modes`), image quality (:mod:`.image_quality`: PSNR) and
syntheses against their source (:mod:`.synthesis`: colour, fine detail, copying). They
score outputs; they are not losses and are never differentiated."""

from .image_quality import psnr
from .modes import ModeCoverage, mode_coverage
from .retrieval import recall_at_k
from .synthesis import channel_histogram_distance, copied_fraction, high_frequency_energy, mean_chroma
from .topology import *  # noqa: F403  (the package re-exports the names of topology.__all__)
from .topology import __all__ as _topology_all

__all__ = ["ModeCoverage", "channel_histogram_distance", "copied_fraction", "high_frequency_energy", "mean_chroma",
           "mode_coverage", "psnr", "recall_at_k", *_topology_all]
