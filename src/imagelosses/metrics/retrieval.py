"""Retrieval measures of embeddings: Recall@K, the score of deep metric learning on unseen classes.

Recall@K (Oh Song et al., "Deep Metric Learning via Lifted Structured Feature Embedding", CVPR 2016,
arXiv 1511.06452, Section 6; Jégou et al., TPAMI 2011): every sample in turn is the query and the others the
gallery; a query counts as recalled when at least one of its ``k`` nearest other samples has its label.
Recall@1 is the accuracy of the 1-nearest-neighbour classifier with leave-one-out (pytorch-metric-learning's
``precision_at_1``). A query whose label no other sample has can never be recalled; like
pytorch-metric-learning, such *lone* queries are left out of the mean (they stay in the gallery).

Neighbours are ranked as :func:`~imagelosses.embedding.distances.pairwise_distances` ranks them (by default
euclidean on L2-normalised rows, the triplet losses' default), from one float32 matrix product
(:func:`~imagelosses.embedding.distances.neighbour_scores`). Ties between equally far
gallery samples are broken by index (the lower index is nearer). Memory: the N × N distance matrix (4·N² bytes
in float32) and a block of 1,024 query rows at a time.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._core.checks import check_bool, check_int, fail, fmt_shape
from ..embedding.distances import Distance, check_distance, neighbour_scores
from ..embedding.mining import check_batch

__all__ = ["recall_at_k"]

_CHUNK = 1024  # query rows per block


def recall_at_k(embeddings: Tensor, labels: Tensor, k: int = 1, *, distance: Distance = "euclidean",
                normalize: bool = True) -> float:
    """Fraction of samples with a same-label sample among their ``k`` nearest other samples.

    Args:
        embeddings: ``(N, D)`` floating, ``N >= 2`` (checked as a batch of the metric losses:
            :func:`~imagelosses.embedding.mining.check_batch`).
        labels: ``(N,)`` integer class labels on the embeddings' device.
        k: how many nearest neighbours count, ``1 <= k <= N − 1``.
        distance: ``"euclidean"``, ``"squared_euclidean"`` (the same ranking) or ``"cosine"``.
        normalize: L2-normalise the rows first.

    Returns:
        Recall@K in [0, 1] as a Python float, over the queries whose label at least one other sample has;
        NaN when an embedding is not finite.

    Raises:
        TypeError: non-floating embeddings, non-integer labels, a non-integer ``k``, a non-bool ``normalize``.
        ValueError: wrong shapes, ``N < 2``, ``k`` out of range, an unknown distance, labels on another device,
            labels that no two samples share.

    Example:
        >>> import torch
        >>> x = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
        >>> recall_at_k(x, torch.tensor([0, 0, 1, 1]))
        1.0
    """
    check_batch(embeddings, labels)  # also refuses meta tensors and D = 0
    n = embeddings.shape[0]
    if n < 2:
        fail("embeddings", "at least 2 samples (each query needs another sample)",
             f"shape {fmt_shape(embeddings.shape)}")
    k = check_int(k, "k", low=1)
    if k > n - 1:
        fail("k", f"an integer in [1, {n - 1}] (N − 1 other samples)", repr(k))
    check_distance(distance)
    check_bool(normalize, "normalize")
    _, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    queries = counts[inverse] > 1
    if not bool(queries.any()):
        fail("labels", "a label that at least two samples share (a query needs a match in the gallery)",
             f"{n} distinct labels")
    with torch.no_grad():
        if not bool(torch.isfinite(embeddings).all()):
            return float("nan")
        d = neighbour_scores(embeddings, distance=distance, normalize=normalize)
        d.fill_diagonal_(float("inf"))
        hits = torch.zeros((), dtype=torch.long, device=embeddings.device)
        rows = torch.nonzero(queries).flatten()
        for chunk in torch.split(rows, _CHUNK):
            hits += _hits(d[chunk], labels[chunk], labels, k).sum()
        return int(hits) / rows.numel()


def _hits(d: Tensor, query_labels: Tensor, labels: Tensor, k: int) -> Tensor:
    """For each row of distances ``d`` (queries × gallery, self at +inf): is a same-label sample among the
    ``k`` nearest, ties going to the lower gallery index? ``argmin`` returns the first minimum; for ``k > 1``
    every sample nearer than the k-th distance counts, and of those at exactly that distance the first by
    index until ``k`` are taken (the order of a stable sort, at the cost of one top-k)."""
    if k == 1:
        return labels[d.argmin(dim=1)] == query_labels
    kth = d.topk(k, dim=1, largest=False).values[:, -1:]
    nearer, tied = d < kth, d == kth
    chosen = nearer | (tied & (tied.cumsum(dim=1) <= k - nearer.sum(dim=1, keepdim=True)))
    return (chosen & (labels[None, :] == query_labels[:, None])).any(dim=1)
