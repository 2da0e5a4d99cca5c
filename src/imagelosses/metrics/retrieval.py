"""Retrieval measures of embeddings: Recall@K, the score of deep metric learning on unseen classes.

Recall@K (Oh Song et al., "Deep Metric Learning via Lifted Structured Feature Embedding", CVPR 2016,
arXiv 1511.06452, Section 6; Jégou et al., TPAMI 2011): every sample in turn is the query and the others the
gallery; a query counts as recalled when at least one of its ``k`` nearest other samples has its label.
Recall@1 is the accuracy of the 1-nearest-neighbour classifier with leave-one-out (pytorch-metric-learning's
``precision_at_1``).

Distances are :func:`~imagelosses.embedding.distances.pairwise_distances` (by default euclidean on
L2-normalised rows, the triplet losses' default), computed in at least float32. Ties between equally far
gallery samples are broken by index (the lower index is nearer). Memory: the N × N distance matrix and its
sorted indices (about 12·N² bytes).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._core.checks import check_bool, check_floating, check_int, check_integer, check_ndim, fail, fmt_shape
from .._core.dtypes import wide_dtype
from ..embedding.distances import Distance, check_distance, pairwise_distances

__all__ = ["recall_at_k"]


def recall_at_k(embeddings: Tensor, labels: Tensor, k: int = 1, *, distance: Distance = "euclidean",
                normalize: bool = True) -> float:
    """Fraction of samples with a same-label sample among their ``k`` nearest other samples.

    Args:
        embeddings: ``(N, D)`` floating, ``N >= 2``.
        labels: ``(N,)`` integer class labels on the embeddings' device.
        k: how many nearest neighbours count, ``1 <= k <= N − 1``.
        distance: ``"euclidean"``, ``"squared_euclidean"`` (the same ranking) or ``"cosine"``.
        normalize: L2-normalise the rows first.

    Returns:
        Recall@K in [0, 1] as a Python float; NaN when an embedding is not finite.

    Raises:
        TypeError: non-floating embeddings, non-integer labels, a non-integer ``k``, a non-bool ``normalize``.
        ValueError: wrong shapes, ``N < 2``, ``k`` out of range, an unknown distance, labels on another device.

    Example:
        >>> import torch
        >>> x = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
        >>> recall_at_k(x, torch.tensor([0, 0, 1, 1]))
        1.0
    """
    check_floating(embeddings, "embeddings")
    check_ndim(embeddings, "embeddings", (2,), "(N, D)")
    check_integer(labels, "labels")
    n = embeddings.shape[0]
    if labels.shape != (n,):
        fail("labels", f"shape ({n},), one label per embedding", fmt_shape(labels.shape))
    if labels.device != embeddings.device:
        fail("labels", f"a tensor on the embeddings' device {embeddings.device}", f"device {labels.device}")
    if embeddings.shape[1] == 0 or (embeddings.is_meta and n):
        fail("embeddings", "a tensor with data and at least one dimension D >= 1",
             f"shape {fmt_shape(embeddings.shape)} on {embeddings.device}")
    if n < 2:
        fail("embeddings", "at least 2 samples (each query needs another sample)",
             f"shape {fmt_shape(embeddings.shape)}")
    k = check_int(k, "k", low=1)
    if k > n - 1:
        fail("k", f"an integer in [1, {n - 1}] (N − 1 other samples)", repr(k))
    check_distance(distance)
    check_bool(normalize, "normalize")
    with torch.no_grad():
        if not bool(torch.isfinite(embeddings).all()):
            return float("nan")
        d = pairwise_distances(embeddings, distance=distance, normalize=normalize)
        d.fill_diagonal_(float("inf"))
        # a stable sort keeps the lower index first among equal distances
        nearest = torch.sort(d, dim=1, stable=True).indices[:, :k]
        hit = (labels[nearest] == labels[:, None]).any(dim=1)
        return float(hit.to(wide_dtype(hit.device)).mean())
