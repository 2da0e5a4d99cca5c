"""Evaluation measures used by the experiments (topology of thin structures, retrieval, GAN modes).
They score outputs; they are not losses and are never differentiated."""

from .topology import *  # noqa: F403  (the package re-exports the names of topology.__all__)
from .topology import __all__ as __all__
