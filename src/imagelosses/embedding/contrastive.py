"""Contrastive loss (Hadsell, Chopra, LeCun, CVPR 2006), for explicit pairs and for a labelled batch.

For a pair at distance ``D`` with ``y = 1`` when similar and ``y = 0`` when dissimilar:

    ``l = ½·y·D² + ½·(1 − y)·max(0, m − D)²``

Similar pairs are pulled together, dissimilar ones pushed apart until they are ``m`` away. ``D`` is the
euclidean distance by default (zero-safe: identical points give ``D = 0`` with a finite gradient); that is
Hadsell et al.'s loss. With ``distance="squared_euclidean"`` or ``"cosine"`` the same formula is applied to
that ``D`` (so ``D² = ‖x − y‖⁴`` for squared euclidean): a variant, **not** Hadsell's form, and the margin is
then in those units.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .._core.checks import check_floating, check_ndim, check_same_shape, check_tensor, eager, fail, fmt_shape
from .._core.dtypes import nan_if_nonfinite
from .._core.module import OptionsLoss
from .._core.options import Options, number
from .._core.reduction import Reduction, reduce
from .distances import Distance, pairwise_distances, row_distances
from .distributed import gather_batch
from .mining import check_batch

__all__ = ["ContrastiveLoss", "ContrastiveOptions", "batch_contrastive_loss", "contrastive_loss"]


@dataclass(frozen=True)
class ContrastiveOptions(Options):
    """The options of :func:`contrastive_loss`, :func:`batch_contrastive_loss` and :class:`ContrastiveLoss`."""

    margin: float = number(1.0, low=0.0, low_inclusive=False)
    distance: Distance = "euclidean"
    normalize: bool = False
    gather: bool = False
    reduction: Reduction = "mean"


def _pair_loss(d: Tensor, similar: Tensor, margin: float) -> Tensor:
    # ½·y·D² + ½·(1 − y)·max(0, m − D)²; for squared_euclidean D² is taken from D itself.
    return 0.5 * torch.where(similar, d.square(), F.relu(margin - d).square())


def contrastive_loss(x1: Tensor, x2: Tensor, target: Tensor, *, margin: float = 1.0, distance: Distance = "euclidean",
                     normalize: bool = False, gather: bool = False, reduction: Reduction = "mean") -> Tensor:
    """Contrastive loss of explicit pairs ``(x1[i], x2[i])``; ``target[i]`` is 1 (similar) or 0.

    ``"mean"`` divides by the number of pairs N; an empty batch gives 0. ``gather=True`` concatenates the
    pairs of every ``torch.distributed`` rank first (see :mod:`imagelosses.embedding.distributed`).

    Args:
        x1, x2: (N, D) floating, one shape. target: (N,) bool or integer in {0, 1}.
        margin: m > 0, how far dissimilar pairs are pushed.
        distance: ``"euclidean"`` (Hadsell's), ``"squared_euclidean"`` or ``"cosine"`` (variants).
        normalize: L2-normalise the rows first.
        gather: concatenate the pairs of every ``torch.distributed`` rank first.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Shape:
        x1, x2: (N, D); target: (N,) bool or integer in {0, 1}; output (N,) for ``"none"``.

    Raises:
        TypeError: non-floating x1/x2, floating target. ValueError: shapes, margin ≤ 0, unknown options.

    References:
        Hadsell, Chopra, LeCun, "Dimensionality Reduction by Learning an Invariant Mapping", CVPR 2006.
    """
    return _pairs(x1, x2, target, ContrastiveOptions.pick(locals()))


def _pairs(x1: Tensor, x2: Tensor, target: Tensor, options: ContrastiveOptions) -> Tensor:
    """The pair form from checked options (the inputs are checked here)."""
    check_floating(x1, "x1")
    check_ndim(x1, "x1", (2,), "(N, D)")
    check_floating(x2, "x2")
    check_same_shape(x2, "x2", x1, "x1")
    check_tensor(target, "target")
    if target.is_floating_point() or target.is_complex():
        fail("target", "a bool or integer tensor (1 = similar, 0 = dissimilar)", f"dtype {target.dtype}",
             exc=TypeError)
    if target.shape != x1.shape[:1]:
        fail("target", f"shape (N,) with N = {x1.shape[0]} as in x1 {fmt_shape(x1.shape)}",
             f"shape {fmt_shape(target.shape)}")
    if target.device != x1.device:
        fail("target", f"a tensor on {x1.device} (the device of x1)", f"a tensor on {target.device}")
    if eager() and target.numel() and target.dtype != torch.bool:
        lo, hi = (int(v) for v in torch.aminmax(target))
        if lo < 0 or hi > 1:
            hint = " (torch's CosineEmbeddingLoss ±1 convention: pass (target + 1) // 2)" if lo == -1 else ""
            fail("target", f"pair labels in {{0, 1}} (1 = similar, 0 = dissimilar){hint}", f"values in [{lo}, {hi}]")
    if options.gather:
        both, target = gather_batch(torch.cat([x1, x2], 1), target)
        x1, x2 = both[:, : x1.shape[1]], both[:, x1.shape[1]:]
    d = row_distances(x1, x2, distance=options.distance, normalize=options.normalize)
    return nan_if_nonfinite(reduce(_pair_loss(d, target != 0, options.margin), options.reduction), x1, x2)


def batch_contrastive_loss(embeddings: Tensor, labels: Tensor, *, margin: float = 1.0, distance: Distance = "euclidean",
                           normalize: bool = False, gather: bool = False, reduction: Reduction = "mean") -> Tensor:
    """Contrastive loss over every pair ``i < j`` of a labelled batch (``y = [labels[i] == labels[j]]``).

    ``"none"`` returns the B(B−1)/2 pair values in row-major order of the upper triangle; ``"mean"``
    divides by B(B−1)/2 (0 when B ≤ 1). ``gather=True`` runs over the global batch of all ranks.

    Args:
        embeddings: (B, D) floating. labels: (B,) integer class labels.
        margin, distance, normalize, gather, reduction: as :func:`contrastive_loss`.

    Shape:
        embeddings: (B, D); labels: (B,) integer, on the embeddings' device. Output: scalar, or
        (B(B−1)/2,) for ``"none"``.

    Raises:
        TypeError: non-floating embeddings, non-integer labels. ValueError: embeddings not 2-D, labels not
        (B,) or on another device, margin ≤ 0, unknown distance or reduction.

    References:
        Hadsell, Chopra, LeCun, "Dimensionality Reduction by Learning an Invariant Mapping", CVPR 2006.

    Example:
        >>> x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.5]]); y = torch.tensor([0, 0, 1])
        >>> batch_contrastive_loss(x, y, margin=1.0, reduction="none")  # pairs (0,1) (0,2) (1,2)
        tensor([12.5000,  0.1250,  0.0000])
    """
    return _batch(embeddings, labels, ContrastiveOptions.pick(locals()))


def _batch(embeddings: Tensor, labels: Tensor, options: ContrastiveOptions) -> Tensor:
    """The batch form from checked options (the inputs are checked here)."""
    check_batch(embeddings, labels)
    if options.gather:
        embeddings, labels = gather_batch(embeddings, labels)
    d = pairwise_distances(embeddings, distance=options.distance, normalize=options.normalize)
    values = nan_if_nonfinite(_pair_loss(d, labels[:, None] == labels[None, :], options.margin), embeddings)
    b = embeddings.shape[0]
    if options.reduction == "none":
        i, j = torch.triu_indices(b, b, offset=1, device=d.device)
        return values[i, j]
    upper = torch.ones(b, b, dtype=torch.bool, device=d.device).triu(1)
    return reduce(torch.where(upper, values, 0.0), options.reduction, denominator=b * (b - 1) // 2)


class ContrastiveLoss(OptionsLoss[ContrastiveOptions], function=batch_contrastive_loss):
    """Contrastive loss (Hadsell 2006) as a module.

    ``ContrastiveLoss(margin=1.0, distance="euclidean", normalize=False, gather=False, reduction="mean")``.
    ``loss(embeddings, labels)`` runs :func:`batch_contrastive_loss` over all pairs ``i < j`` of a labelled
    batch; ``loss(x1, x2, target)`` runs :func:`contrastive_loss` on explicit pairs. Same options for both.

    Example:
        >>> x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.5]]); y = torch.tensor([0, 0, 1])
        >>> ContrastiveLoss(reduction="sum")(x, y)
        tensor(12.6250)
    """

    Options = ContrastiveOptions

    def forward(self, a: Tensor, b: Tensor, target: Tensor | None = None) -> Tensor:
        if target is None:
            return _batch(a, b, self.current_options())
        return _pairs(a, b, target, self.current_options())
