"""Evaluation measures used by the experiments (topology of thin structures, retrieval, GAN modes).
They score outputs; they are not losses and are never differentiated."""
