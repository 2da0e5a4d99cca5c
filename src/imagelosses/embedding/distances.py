"""Distances between embeddings, in one place: euclidean, squared euclidean and cosine.

Every metric loss of :mod:`imagelosses.embedding` measures distances with these functions:

- ``"squared_euclidean"``: ``‖x − y‖²`` (FaceNet, arXiv 1503.03832).
- ``"euclidean"``: ``‖x − y‖`` (Hermans et al., arXiv 1703.07737). The derivative of ``sqrt`` is infinite
  at 0, so the pairwise matrix uses ``sqrt(max(d², eps))`` where ``d² > eps`` and exactly ``0`` elsewhere:
  identical points are at distance 0 with a zero gradient, and every gradient is at most
  ``1 / (2·sqrt(eps))``.
- ``"cosine"``: ``1 − cos(x, y)``, in ``[0, 2]``; a zero vector has cosine 0 to everything (distance 1).

Optional L2 normalisation (:func:`l2_normalize`) maps a zero vector to the zero vector with a zero
gradient instead of ``0/0``.

The pairwise matrix is computed from the Gram matrix of the *centred* batch (distances do not change when
every point moves by the same vector, and centring removes most of the cancellation of
``‖x‖² + ‖y‖² − 2x·y``); identical rows then come out at distance 0. Half-precision inputs are computed in
float32 with autocast disabled, so distances never overflow in fp16.

Precision floor of the pairwise matrix: with ``c_i = x_i − mean(x)``, the squared distance has an absolute
error of up to about ``16·ε·(‖c_i‖² + ‖c_j‖²)`` (``ε = 1.2e-7`` in float32, ``2.2e-16`` in float64). For
unit-norm float32 embeddings that is ~4e-6 on ``d²``: rows closer than ~2e-3 (euclidean) can come out at
distance 0 or with a relative error of order 1. A float64 Gram matrix would remove it but costs about 3×
the float32 one on CPU (B = 1024, D = 128: ~75 ms vs ~25 ms forward + backward), so it is not done; pass
float64 embeddings when near-duplicates must be told apart, or use :func:`row_distances` (computed from
``x − y``, no floor) for explicit pairs.

Mining decisions (which positive is hardest, which negative is semi-hard, which triplet is active) read
:func:`mining_distances`: the same matrix computed in float64 from the embeddings as given, without gradient.
A float32 batch and the same values in float64 therefore pick the same triplets, near-ties included (a
float32 matrix flips decisions whose true gap is below its floor, ~1e-7 for unit vectors); the loss then
differentiates the selected distances in the embeddings' own precision.

Valid range: the squares must be finite in the compute dtype. For float32 with ``normalize=False``, keep
``‖x_i − x_j‖² < 3.4e38``; the losses are tested finite for entries up to ``1e15`` (squared distances up
to ~1e31), and the squared-euclidean contrastive loss, which squares ``d²`` again, up to ``1e8``. Beyond
that the value may be ``inf`` or NaN. ``normalize=True`` (the triplet default) has no such limit.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from .._core.checks import (
    check_flags,
    check_floating,
    check_ndim,
    check_number,
    check_option,
    check_same_shape,
)
from .._core.dtypes import at_least_float32, wide_dtype

Distance = Literal["euclidean", "squared_euclidean", "cosine"]
DISTANCES: tuple[str, ...] = ("euclidean", "squared_euclidean", "cosine")
EPS = 1e-12

__all__ = ["DISTANCES", "Distance", "check_distance", "l2_normalize", "mining_distances", "neighbour_scores",
           "pairwise_distances", "prepare_embeddings", "row_distances"]


def check_distance(distance: str) -> str:
    """``distance`` must be one of :data:`DISTANCES`."""
    return str(check_option(distance, "distance", DISTANCES))



def _check_rows(x: Tensor, name: str) -> Tensor:
    return check_ndim(check_floating(x, name), name, (2,), "(N, D)")


def _check_distance_options(distance: str, normalize: bool, eps: float) -> None:
    check_distance(distance)
    check_flags(normalize=normalize)
    check_number(eps, "eps", low=0.0)


def l2_normalize(x: Tensor, *, eps: float = EPS) -> Tensor:
    """``x / ‖x‖`` along the last dimension; rows with ``‖x‖² <= eps²`` become zero (zero gradient).

    Unlike ``x / max(‖x‖, eps)`` (``torch.nn.functional.normalize``), whose gradient at a zero row is
    ``1/eps``, this gives a zero row a zero gradient: the direction of the zero vector is undefined. Each
    row is first divided by its largest magnitude, so rows of magnitude 1e20 (whose squares overflow
    float32) normalise correctly instead of collapsing to zero.
    """
    check_floating(x, "x")
    check_number(eps, "eps", low=0.0)
    if x.shape[-1] == 0:  # no coordinate: nothing to scale (amax of an empty dimension is an error)
        return x.clone()
    scale = x.abs().amax(-1, keepdim=True)
    y = x / torch.where(scale > 0, scale, torch.ones_like(scale))
    sq = y.square().sum(-1, keepdim=True)  # in [1, D] for a non-zero row
    ok = scale * sq.sqrt() > eps
    inv = torch.where(ok, sq.clamp_min(1.0).rsqrt(), torch.zeros_like(sq))
    return y * inv


def prepare_embeddings(x: Tensor, normalize: bool, *, eps: float = EPS) -> Tensor:
    """``x`` in float32 when half precision, L2-normalised when asked (autocast disabled)."""
    with torch.autocast(x.device.type, enabled=False):
        x = at_least_float32(x)
        return l2_normalize(x, eps=eps) if normalize else x


def _safe_sqrt(sq: Tensor, eps: float) -> Tensor:
    """``sqrt(sq)``, exactly 0 (zero gradient) where ``sq <= eps``; NaN stays NaN (NaN <= eps is false)."""
    return torch.where(sq <= eps, torch.zeros_like(sq), sq.clamp_min(eps).sqrt())


def pairwise_distances(
    x: Tensor, *, distance: Distance = "squared_euclidean", normalize: bool = False, eps: float = EPS
) -> Tensor:
    """The (B, B) matrix of distances between the rows of ``x``; the diagonal is exactly 0.

    Args:
        x: embeddings (B, D).
        distance: ``"euclidean"``, ``"squared_euclidean"`` or ``"cosine"``.
        normalize: L2-normalise the rows first (:func:`l2_normalize`).
        eps: squared distances at or below ``eps`` count as 0 for ``"euclidean"``.

    Shape:
        x: (B, D); output (B, B), in float32 when ``x`` is half precision, else ``x.dtype``.
    """
    _check_distance_options(distance, normalize, eps)
    _check_rows(x, "x")
    with torch.autocast(x.device.type, enabled=False):
        x = at_least_float32(x)
        if normalize or distance == "cosine":
            x = l2_normalize(x, eps=eps)
        n = x.shape[0]
        if distance == "cosine":
            out = 1.0 - x @ x.t()
        else:
            if n > 0:
                x = x - x.mean(0, keepdim=True)
            gram = x @ x.t()
            sq = gram.diagonal()  # from the same product as the cross terms, so identical rows give exactly 0
            out = (sq[:, None] + sq[None, :] - 2.0 * gram).clamp_min(0.0)
            if distance == "euclidean":
                out = _safe_sqrt(out, eps)
        eye = torch.eye(n, dtype=torch.bool, device=x.device)
        return out.masked_fill(eye, 0.0)


def mining_distances(x: Tensor, *, distance: Distance = "squared_euclidean", normalize: bool = False,
                     eps: float = EPS) -> Tensor:
    """:func:`pairwise_distances` of the raw embeddings ``x`` in float64 (float32 where the device has no
    float64), without gradient: the matrix every mining decision reads (see the module docstring)."""
    with torch.no_grad():
        return pairwise_distances(x.detach().to(wide_dtype(x.device)), distance=distance, normalize=normalize,
                                  eps=eps)


def neighbour_scores(x: Tensor, *, distance: Distance = "euclidean", normalize: bool = False) -> Tensor:
    """``(N, N)`` scores that order each row's neighbours as :func:`pairwise_distances` does (lower is
    nearer), for evaluation by nearest neighbours, not for losses: no gradient and none of its precision
    safeguards, one matrix product. Euclidean and squared euclidean: ``‖x_j‖² − 2·x_i·x_j`` (the row's own
    ``‖x_i‖²`` does not change its order); cosine: ``−cos(x_i, x_j)``. Near-duplicates (closer than the
    float32 floor of the module docstring) may swap places."""
    check_distance(distance)
    with torch.no_grad():
        x = prepare_embeddings(x, normalize or distance == "cosine")
        scores = x @ x.T
        if distance == "cosine":
            return scores.neg_()
        return scores.mul_(-2.0).add_(x.square().sum(dim=1)[None, :])


def row_distances(
    x: Tensor, y: Tensor, *, distance: Distance = "euclidean", normalize: bool = False, eps: float = EPS
) -> Tensor:
    """Distances between matching rows of ``x`` and ``y`` (pairs), computed from ``x − y`` directly.

    ``"euclidean"`` is ``‖x − y‖`` with the zero-safe square root described in the module docstring.

    Shape:
        x, y: (N, D); output (N,).
    """
    _check_distance_options(distance, normalize, eps)
    check_same_shape(_check_rows(y, "y"), "y", _check_rows(x, "x"), "x")
    with torch.autocast(x.device.type, enabled=False):
        x, y = at_least_float32(x), at_least_float32(y)
        if normalize or distance == "cosine":
            x, y = l2_normalize(x, eps=eps), l2_normalize(y, eps=eps)
        if distance == "cosine":
            return 1.0 - (x * y).sum(-1)
        sq = (x - y).square().sum(-1)
        return sq if distance == "squared_euclidean" else _safe_sqrt(sq, eps)
