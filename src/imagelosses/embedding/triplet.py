"""Triplet losses: offline (pre-formed triplets) and online (mined inside a labelled batch).

For a triplet with anchor-positive distance ``d_ap`` and anchor-negative distance ``d_an``:

- hinge (FaceNet, arXiv 1503.03832): ``l = max(0, d_ap − d_an + α)``;
- soft margin (Hermans et al., arXiv 1703.07737): ``l = ln(1 + exp(d_ap − d_an))``; no margin.

All embeddings equal gives ``l = α`` (hinge) and ``ln 2 = 0.693147`` (soft margin).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .._core.checks import check_floating, check_ndim, check_same_shape
from .._core.dtypes import nan_if_nonfinite, wide_dtype
from .._core.module import OptionsLoss
from .._core.options import Options, number
from .._core.reduction import Reduction, reduce, safe_divide
from .distances import (
    Distance,
    mining_distances,
    pairwise_distances,
    prepare_embeddings,
    row_distances,
)
from .distributed import gather_batch
from .mining import (
    Mining,
    SemihardFallback,
    all_triplets,
    check_batch,
    hard_selection,
    label_masks,
    positive_pair_chunks,
    semihard_selection,
)

AverageOver = Literal["valid", "nonzero"]

__all__ = ["AverageOver", "OfflineTripletLoss", "OfflineTripletOptions", "TripletLoss", "TripletOptions",
           "TripletStats", "triplet_loss", "triplet_margin_loss"]


@dataclass(frozen=True)
class OfflineTripletOptions(Options):
    """The options of :func:`triplet_margin_loss` and :class:`OfflineTripletLoss`."""

    margin: float = number(1.0, low=0.0, low_inclusive=False)
    distance: Distance = "euclidean"
    soft_margin: bool = False
    swap: bool = False
    eps: float = number(1e-6, low=0.0)
    normalize: bool = False
    reduction: Reduction = "mean"


@dataclass(frozen=True)
class TripletOptions(Options):
    """The options of :func:`triplet_loss` and :class:`TripletLoss` (online mining).

    ``average_over`` is what ``reduction="mean"`` divides by: ``"valid"`` (every selected triplet) or
    ``"nonzero"`` (the selected triplets with a non-zero loss, Hermans et al.'s batch-all)."""

    mining: Mining = "all"
    margin: float = number(0.2, low=0.0, low_inclusive=False)
    distance: Distance = "squared_euclidean"
    soft_margin: bool = False
    normalize: bool = True
    average_over: AverageOver = "valid"
    semihard_fallback: SemihardFallback = "easiest"
    gather: bool = False
    reduction: Reduction = "mean"
    return_stats: bool = False


class TripletStats(NamedTuple):
    """``return_stats=True`` output: the reduced loss, the number of triplets the strategy selected, how
    many of them have a non-zero loss, and the fraction active (0 when there is none)."""

    loss: Tensor
    num_triplets: Tensor
    num_active: Tensor
    fraction_active: Tensor


def _hinge(x: Tensor, margin: float, soft_margin: bool) -> Tensor:
    return F.softplus(x) if soft_margin else F.relu(x + margin)


# ------------------------------------------------------------------------------------------- offline
def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *, margin: float = 1.0,
                        distance: Distance = "euclidean", soft_margin: bool = False, swap: bool = False,
                        eps: float = 1e-6, normalize: bool = False, reduction: Reduction = "mean") -> Tensor:
    """Triplet loss on pre-formed triplets (offline mining), ``l_i = max(0, d(a_i, p_i) − d(a_i, n_i) + α)``.

    With the defaults it equals ``torch.nn.TripletMarginLoss(margin, p=2, eps, swap)``: ``"euclidean"`` is
    torch's ``‖x − y + eps‖₂`` (the eps keeps the gradient finite at 0). ``swap`` (Balntas et al. 2016)
    uses ``min(d(a, n), d(p, n))`` as the negative distance. ``soft_margin`` uses ``ln(1 + exp(d_ap − d_an))``
    and ignores ``margin``. ``"mean"`` divides by the number of triplets N.

    Args:
        anchor, positive, negative: (N, D) floating, one shape.
        margin: α > 0. distance: ``"euclidean"``, ``"squared_euclidean"`` or ``"cosine"``.
        soft_margin: ``ln(1 + exp(d_ap − d_an))`` instead of the hinge. swap: the distance swap of Balntas et al.
        eps: ≥ 0, added inside torch's euclidean distance. normalize: L2-normalise the rows first.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Shape:
        anchor, positive, negative: (N, D); output (N,) for ``"none"``, else a scalar.

    Raises:
        TypeError: non-floating inputs. ValueError: shapes that differ or are not 2-D, margin ≤ 0, eps < 0,
        unknown distance or reduction.
    """
    return _offline(anchor, positive, negative, OfflineTripletOptions.pick(locals()))


def _offline(anchor: Tensor, positive: Tensor, negative: Tensor, options: OfflineTripletOptions) -> Tensor:
    """The offline triplet loss from checked options (the inputs are checked here)."""
    check_floating(anchor, "anchor")
    check_ndim(anchor, "anchor", (2,), "(N, D)")
    for name, x in (("positive", positive), ("negative", negative)):
        check_floating(x, name)
        check_same_shape(x, name, anchor, "anchor")
    distance, normalize = options.distance, options.normalize

    def d(x: Tensor, y: Tensor) -> Tensor:
        if distance == "euclidean":  # in float32 for half inputs, like every distance of the package
            with torch.autocast(x.device.type, enabled=False):
                return F.pairwise_distance(prepare_embeddings(x, normalize), prepare_embeddings(y, normalize),
                                           p=2.0, eps=options.eps)
        return row_distances(x, y, distance=distance, normalize=normalize)

    d_ap, d_an = d(anchor, positive), d(anchor, negative)
    if options.swap:
        d_an = torch.minimum(d_an, d(positive, negative))
    values = _hinge(d_ap - d_an, options.margin, options.soft_margin)
    return nan_if_nonfinite(reduce(values, options.reduction), anchor, positive, negative)


# -------------------------------------------------------------------------------------- batch-all op
@torch.library.custom_op("imagelosses::batch_all_triplet", mutates_args=())
def _batch_all(dist: Tensor, pos: Tensor, neg: Tensor, margin: float, soft_margin: bool
               ) -> tuple[Tensor, Tensor, Tensor]:
    """Sum of the losses of every valid triplet, the number with a non-zero loss, and ``∂sum/∂dist``.

    Chunked over anchor-positive pairs: memory O(chunk · B) besides the (B, B) gradient.
    """
    b = dist.shape[0]
    grad = torch.zeros_like(dist)
    total = torch.zeros((), dtype=wide_dtype(dist.device), device=dist.device)
    active = torch.zeros((), dtype=torch.long, device=dist.device)
    not_neg = ~neg
    chunks = list(positive_pair_chunks(pos))
    rows = max((a.shape[0] for a, _ in chunks), default=0)
    # Buffers reused by every chunk: no per-chunk allocation of (chunk, B) tensors.
    x_buf, v_buf, w_buf = (dist.new_empty((rows, b)) for _ in range(3))
    m_buf, on_buf = (torch.empty((rows, b), dtype=torch.bool, device=dist.device) for _ in range(2))
    zero = dist.new_zeros(())
    for a, p in chunks:
        k = a.shape[0]
        x, v, w, m, on = x_buf[:k], v_buf[:k], w_buf[:k], m_buf[:k], on_buf[:k]
        torch.index_select(dist, 0, a, out=x)
        x.neg_().add_(dist[a, p][:, None])  # d_ap − d_an for every n
        if not soft_margin:
            x.add_(margin)
        torch.index_select(not_neg, 0, a, out=m)
        x.masked_fill_(m, float("-inf"))  # not a negative: zero loss, zero gradient
        if soft_margin:
            torch.logaddexp(x, zero, out=v)  # softplus
            torch.sigmoid(x, out=w)
        else:
            torch.clamp(x, min=0.0, out=v)
            torch.gt(x, 0.0, out=on)
            w.copy_(on)
        total += v.sum(dtype=total.dtype)
        active += torch.count_nonzero(v)
        grad.index_put_((a, p), w.sum(1), accumulate=True)
        grad.index_add_(0, a, w, alpha=-1.0)
    return total.to(dist.dtype), active, grad


@_batch_all.register_fake
def _(dist: Tensor, pos: Tensor, neg: Tensor, margin: float, soft_margin: bool) -> tuple[Tensor, Tensor, Tensor]:
    return dist.new_empty(()), dist.new_empty((), dtype=torch.long), torch.empty_like(dist)


def _batch_all_setup(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
    dist, pos, neg, margin, soft_margin = inputs
    ctx.margin, ctx.soft_margin = margin, soft_margin
    ctx.save_for_backward(output[2], dist, pos, neg)


def _batch_all_backward(ctx: Any, g_total: Tensor, g_active: Any, g_grad: Any) -> tuple[Any, ...]:
    grad, dist, pos, neg = ctx.saved_tensors
    if torch.is_grad_enabled() and dist.requires_grad:
        # create_graph=True (double backward): the saved ∂sum/∂dist is a constant, so rebuild it
        # differentiably from the enumerated triplets (memory O(T), only on this path).
        with torch.enable_grad():
            a, p, n = all_triplets(pos, neg)
            total = _hinge(dist[a, p] - dist[a, n], ctx.margin, ctx.soft_margin).sum()
            (grad,) = torch.autograd.grad(total, dist, create_graph=True, allow_unused=True,
                                          materialize_grads=True)
    return g_total * grad, None, None, None, None


_batch_all.register_autograd(_batch_all_backward, setup_context=_batch_all_setup)


# -------------------------------------------------------------------------------------------- online
def triplet_loss(embeddings: Tensor, labels: Tensor, *, mining: Mining = "all", margin: float = 0.2,
                 distance: Distance = "squared_euclidean", soft_margin: bool = False, normalize: bool = True,
                 average_over: AverageOver = "valid", semihard_fallback: SemihardFallback = "easiest",
                 gather: bool = False, reduction: Reduction = "mean", return_stats: bool = False
                 ) -> Tensor | TripletStats:
    """Triplet loss with online mining inside a labelled batch.

    Triplets are chosen by ``mining`` (``"all"``, ``"hard"``, ``"semihard"``; see
    :mod:`imagelosses.embedding.mining`, which also says what happens when an anchor-positive pair has no
    semi-hard negative), distances are ``distance`` between the (optionally L2-normalised) embeddings, and
    each selected triplet costs ``max(0, d_ap − d_an + α)`` or, with ``soft_margin``, ``ln(1 + exp(d_ap − d_an))``.

    Reductions: ``"none"`` returns one value per selected triplet, in the order of
    :func:`imagelosses.embedding.mine_triplets` (length data-dependent); ``"sum"`` adds them; ``"mean"`` divides
    the sum by the number of selected triplets (``average_over="valid"``: all valid triplets for batch-all, one
    per anchor for batch-hard, one per anchor-positive pair for semi-hard) or by the number with a non-zero
    loss (``average_over="nonzero"``, Hermans et al.'s batch-all). A batch without any valid triplet (B ≤ 1, no
    label repeated, all labels equal) gives 0 with a zero gradient. Batch-all never builds a B×B×B tensor:
    with ``"mean"``/``"sum"`` its memory is O(B² + chunk·B); with ``"none"`` it returns (and keeps for
    backward) one value per valid triplet, T = Σ_a #pos(a)·#neg(a), up to ~B³ — prefer a reduction for large
    batches. Batch-hard and semi-hard are O(B²) in memory.

    ``gather=True`` first gathers embeddings and labels over ``torch.distributed`` ranks
    (:mod:`imagelosses.embedding.distributed`): the loss is then the single-process loss of the global batch.

    Args:
        embeddings: (B, D) floating. labels: (B,) integer class labels.
        mining: ``"all"``, ``"hard"`` or ``"semihard"``.
        margin: α > 0 (ignored with ``soft_margin``).
        distance: ``"squared_euclidean"``, ``"euclidean"`` or ``"cosine"``.
        soft_margin: ``ln(1 + exp(d_ap − d_an))`` instead of the hinge.
        normalize: L2-normalise the embeddings first.
        average_over: what ``"mean"`` divides by: ``"valid"`` (selected triplets) or ``"nonzero"`` (those with a
            non-zero loss).
        semihard_fallback: ``"easiest"`` or ``"drop"``, for pairs without a negative farther than the positive.
        gather: compute the loss over the batch of every ``torch.distributed`` rank.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        return_stats: return a :class:`TripletStats` instead of the loss alone.

    Shape:
        embeddings: (B, D); labels: (B,) integer. Output: scalar, or (T,) for ``"none"``.

    Returns:
        The loss, or with ``return_stats`` a :class:`TripletStats`.

    Raises:
        TypeError: non-floating embeddings, non-integer labels. ValueError: embeddings not 2-D, labels not
        (B,), margin ≤ 0, an unknown option value (the message lists the valid ones).

    References:
        Schroff et al., FaceNet, arXiv 1503.03832; Hermans et al., arXiv 1703.07737.

    Example:
        >>> x = torch.tensor([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]); y = torch.tensor([0, 0, 1, 1])
        >>> triplet_loss(x, y, mining="hard", margin=0.5, reduction="none")  # squared distances 0 or 2
        tensor([0.5000, 0.5000, 0.5000, 2.5000])
    """
    return _online(embeddings, labels, TripletOptions.pick(locals()))


def _online(embeddings: Tensor, labels: Tensor, options: TripletOptions) -> Tensor | TripletStats:
    """The online triplet loss from checked options (the inputs are checked here)."""
    mining, margin, distance, normalize = options.mining, options.margin, options.distance, options.normalize
    soft_margin, reduction = options.soft_margin, options.reduction
    check_batch(embeddings, labels)
    if options.gather:
        embeddings, labels = gather_batch(embeddings, labels)
    pos, neg = label_masks(labels)
    valid: Tensor | None = None
    if mining in ("hard", "semihard"):
        x = prepare_embeddings(embeddings, normalize)
        # Mining reads the float64 matrix of the raw embeddings (stable near-ties: float32 and float64 batches
        # pick the same triplets); the loss differentiates only the selected distances.
        chosen = mining_distances(embeddings, distance=distance, normalize=normalize)
        if mining == "hard":
            # Differentiate only the 2B selected distances (O(B·D) backward).
            p_idx, n_idx, valid = hard_selection(chosen, pos, neg)
            x_ap = row_distances(x, x[p_idx], distance=distance) - row_distances(x, x[n_idx], distance=distance)
        else:
            # One differentiable (B, B) matrix whose selected entries the loss gathers: memory stays O(B²) (no
            # (B, K, D) gather of the anchor-positive pairs).
            dist = pairwise_distances(x, distance=distance)
            p_idx, n_idx, valid = semihard_selection(chosen, pos, neg, options.semihard_fallback)
            x_ap = dist.gather(1, p_idx) - dist.gather(1, n_idx)
        values = nan_if_nonfinite(torch.where(valid, _hinge(x_ap, margin, soft_margin), 0.0), embeddings)
    else:
        dist = pairwise_distances(embeddings, distance=distance, normalize=normalize)
        if reduction == "none":
            a, p, n = all_triplets(pos, neg)
            values = nan_if_nonfinite(_hinge(dist[a, p] - dist[a, n], margin, soft_margin), embeddings)
        else:
            total, num_active, _ = _batch_all(dist, pos, neg, float(margin), bool(soft_margin))
            total = nan_if_nonfinite(total, embeddings)
            num_valid = (pos.sum(1) * neg.sum(1)).sum()
            return _reduced(total, num_valid, num_active, options)
    if reduction == "none":
        values = values if valid is None else values[valid]
        return _stats(values, values.numel(), (values > 0).sum()) if options.return_stats else values
    return _reduced(values.sum(), valid.sum(), (values > 0).sum(), options)  # type: ignore[union-attr]


def _reduced(total: Tensor, num_valid: Tensor, num_active: Tensor, options: TripletOptions) -> Tensor | TripletStats:
    loss = total if options.reduction == "sum" else reduce(
        total.reshape(1), "mean", denominator=num_valid if options.average_over == "valid" else num_active)
    return _stats(loss, num_valid, num_active) if options.return_stats else loss


def _stats(loss: Tensor, num_valid: Tensor | int, num_active: Tensor) -> TripletStats:
    num_valid = torch.as_tensor(num_valid, device=num_active.device)
    fraction = safe_divide(num_active.to(wide_dtype(num_active.device)), num_valid)
    return TripletStats(loss, num_valid, num_active, fraction)


class TripletLoss(OptionsLoss[TripletOptions], function=triplet_loss):
    """Triplet loss with online mining inside a labelled batch, as a module.

    ``TripletLoss(mining="all"|"hard"|"semihard", margin=0.2, distance="squared_euclidean", soft_margin=False,
    normalize=True, average_over="valid", semihard_fallback="easiest", gather=False, reduction="mean",
    return_stats=False)``, called as ``loss(embeddings, labels)``; the math, the options, the shapes and the
    errors are those of :func:`triplet_loss`.

    Example:
        >>> x = torch.tensor([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]); y = torch.tensor([0, 0, 1, 1])
        >>> TripletLoss(mining="hard", margin=0.5)(x, y)
        tensor(1.)
    """

    Options = TripletOptions

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor | TripletStats:
        return _online(embeddings, labels, self.current_options())


class OfflineTripletLoss(OptionsLoss[OfflineTripletOptions], function=triplet_margin_loss):
    """Triplet loss on pre-formed triplets, as a module.

    ``OfflineTripletLoss(margin=1.0, distance="euclidean", soft_margin=False, swap=False, eps=1e-6, normalize=False,
    reduction="mean")``, called as ``loss(anchor, positive, negative)``; see :func:`triplet_margin_loss`.

    Example:
        >>> e = torch.full((5, 4), 0.3)
        >>> OfflineTripletLoss(margin=0.2)(e, e, e)
        tensor(0.2000)
    """

    Options = OfflineTripletOptions

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return _offline(anchor, positive, negative, self.current_options())
