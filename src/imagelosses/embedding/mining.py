"""Online triplet mining inside a labelled batch, and :func:`mine_triplets` for offline mining.

A *valid* triplet ``(a, p, n)`` has ``label[a] == label[p]``, ``a != p`` and ``label[n] != label[a]``.
The three strategies select, from the (B, B) distance matrix ``D``:

- ``"all"`` (batch-all, Hermans et al. 2017): every valid triplet. Enumerated chunk by chunk over the
  anchor-positive pairs, so memory is O(chunk · B), never a B×B×B tensor.
- ``"hard"`` (batch-hard, Hermans et al. 2017): per anchor with at least one positive and one negative,
  the farthest positive and the closest negative. O(B²).
- ``"semihard"`` (FaceNet, Schroff et al. 2015): per anchor-positive pair ``(a, p)`` whose anchor has a
  negative, the negative ``n`` with the smallest ``D[a, n]`` among those with ``D[a, n] > D[a, p]``. It is the
  hardest semi-hard negative when one exists (``D[a, p] < D[a, n] < D[a, p] + margin``); when none lies in
  that band it is beyond the margin and the triplet's loss is 0. **When no negative is farther than the
  positive** (every negative is hard) the pair falls back, with ``semihard_fallback="easiest"`` (default,
  as TensorFlow Addons' ``triplet_semihard_loss``), to the easiest negative (the largest ``D[a, n]``), or is
  dropped with ``"drop"``. O(B² log B) time (a sort and a binary search per row), O(B²) memory.

References:
    Schroff, Kalenichenko, Philbin, "FaceNet", CVPR 2015, arXiv 1503.03832.
    Hermans, Beyer, Leibe, "In Defense of the Triplet Loss for Person Re-Identification", arXiv 1703.07737.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import torch
from torch import Tensor

from .._core.checks import (
    check_flags,
    check_floating,
    check_integer,
    check_ndim,
    check_number,
    check_option,
    fail,
    fmt_shape,
    require_finite,
)
from .distances import Distance, check_distance, mining_distances

Mining = Literal["all", "hard", "semihard"]
MINING: tuple[str, ...] = ("all", "hard", "semihard")
SemihardFallback = Literal["easiest", "drop"]
FALLBACKS: tuple[str, ...] = ("easiest", "drop")
CHUNK_ELEMENTS = 1 << 22  # (anchor-positive pairs) × B entries per batch-all chunk: 16 MiB in float32

__all__ = ["FALLBACKS", "MINING", "Mining", "SemihardFallback", "check_batch", "label_masks", "mine_triplets"]


def check_batch(embeddings: Tensor, labels: Tensor) -> None:
    """``embeddings`` (B, D) floating, ``labels`` (B,) integer on the embeddings' device."""
    check_floating(embeddings, "embeddings")
    check_ndim(embeddings, "embeddings", (2,), "(B, D)")
    if embeddings.shape[1] == 0:  # an empty batch (B = 0) is fine; embeddings without coordinates are a bug
        fail("embeddings", "at least one coordinate per embedding (D > 0)", f"shape {fmt_shape(embeddings.shape)}")
    check_integer(labels, "labels")
    if labels.device != embeddings.device:
        fail("labels", f"a tensor on {embeddings.device} (the embeddings' device)", f"a tensor on {labels.device}")
    if labels.ndim != 1 or labels.shape[0] != embeddings.shape[0]:
        fail("labels", f"shape (B,) with B = {embeddings.shape[0]} as in embeddings {fmt_shape(embeddings.shape)}",
             f"shape {fmt_shape(labels.shape)}")


def check_mining_options(mining: str, margin: float, semihard_fallback: str) -> None:
    check_option(mining, "mining", MINING)
    check_number(margin, "margin", low=0.0, low_inclusive=False)
    check_option(semihard_fallback, "semihard_fallback", FALLBACKS)


def label_masks(labels: Tensor) -> tuple[Tensor, Tensor]:
    """``(positive, negative)`` (B, B) boolean masks: same label and not the diagonal; different label."""
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(labels.shape[0], dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def hard_selection(dist: Tensor, pos: Tensor, neg: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per anchor: index of the farthest positive, of the closest negative, and whether both exist."""
    d = dist.detach()
    if d.shape[1] == 0:  # argmax over an empty row is an error; an empty batch selects nothing
        empty = torch.zeros(d.shape[0], dtype=torch.long, device=d.device)
        return empty, empty, empty.bool()
    p_idx = torch.where(pos, d, float("-inf")).argmax(1)
    n_idx = torch.where(neg, d, float("inf")).argmin(1)
    return p_idx, n_idx, pos.any(1) & neg.any(1)


def positive_table(pos: Tensor) -> tuple[Tensor, Tensor]:
    """Each anchor's positives, compacted: a (B, K) table of column indices in increasing order and a mask of
    the filled entries, K = the largest number of positives of an anchor (B under ``torch.compile``)."""
    b = pos.shape[0]
    num_pos = pos.sum(1)
    kmax = b if torch.compiler.is_compiling() or b == 0 else int(num_pos.max())
    rank = torch.where(pos, pos.cumsum(1) - 1, kmax)  # column kmax is a dump for non-positives
    cols = torch.arange(b, device=pos.device).expand(b, b)
    table = torch.zeros(b, kmax + 1, dtype=torch.long, device=pos.device).scatter_(1, rank, cols)[:, :kmax]
    return table, torch.arange(kmax, device=pos.device)[None, :] < num_pos[:, None]


def semihard_selection(dist: Tensor, pos: Tensor, neg: Tensor, fallback: str) -> tuple[Tensor, Tensor, Tensor]:
    """Per anchor-positive pair, compacted as in :func:`positive_table`: the positive (B, K), the chosen
    negative (B, K) and whether the pair is kept (B, K)."""
    d = dist.detach()
    p_idx, filled = positive_table(pos)
    sorted_d, order = torch.where(neg, d, float("inf")).sort(dim=1)
    num_neg = neg.sum(1, keepdim=True)
    first_farther = torch.searchsorted(sorted_d, d.gather(1, p_idx), right=True)
    has_farther = first_farther < num_neg
    pick = torch.where(has_farther, first_farther, num_neg - 1).clamp(0, max(d.shape[0] - 1, 0))
    n_idx = order.gather(1, pick)
    keep = filled & (num_neg > 0)
    if fallback == "drop":
        keep = keep & has_farther
    return p_idx, n_idx, keep


def positive_pair_chunks(pos: Tensor) -> Iterator[tuple[Tensor, Tensor]]:
    """The anchor-positive pairs ``(a, p)`` in row-major order, in chunks of ``CHUNK_ELEMENTS // B``."""
    a_idx, p_idx = pos.nonzero(as_tuple=True)
    chunk = max(1, CHUNK_ELEMENTS // max(pos.shape[0], 1))
    for s in range(0, a_idx.shape[0], chunk):
        yield a_idx[s:s + chunk], p_idx[s:s + chunk]


def all_triplets(pos: Tensor, neg: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Every valid triplet, sorted by (anchor, positive, negative); memory O(chunk · B) while enumerating."""
    parts = []
    for a, p in positive_pair_chunks(pos):
        row, n = neg[a].nonzero(as_tuple=True)
        parts.append((a[row], p[row], n))
    if not parts:
        empty = torch.zeros(0, dtype=torch.long, device=pos.device)
        return empty, empty, empty
    return tuple(torch.cat(t) for t in zip(*parts, strict=True))  # type: ignore[return-value]


@torch.no_grad()
def mine_triplets(embeddings: Tensor, labels: Tensor, *, mining: Mining = "hard", margin: float = 0.2,
                  distance: Distance = "squared_euclidean", normalize: bool = True,
                  semihard_fallback: SemihardFallback = "easiest", active_only: bool = False
                  ) -> tuple[Tensor, Tensor, Tensor]:
    """Index triplets ``(anchor, positive, negative)`` chosen by a mining strategy.

    These are exactly the triplets that :class:`imagelosses.embedding.TripletLoss` with the same options uses,
    in the order of its ``reduction="none"`` output: sorted by anchor, then positive, then negative. Use
    them for offline mining (``triplet_margin_loss(x[a], x[p], x[n])``) or to inspect a batch.

    Args:
        embeddings: (B, D). labels: (B,) integer class labels.
        mining: ``"all"``, ``"hard"`` or ``"semihard"`` (see the module docstring), keyword-only as in
            :func:`~imagelosses.embedding.triplet.triplet_loss`.
        margin: the triplet margin α > 0; used by ``active_only``.
        distance: ``"squared_euclidean"``, ``"euclidean"`` or ``"cosine"``.
        normalize: L2-normalise the embeddings first.
        semihard_fallback: ``"easiest"`` or ``"drop"``, for pairs without a negative farther than the positive.
        active_only: keep only triplets with ``D[a, p] − D[a, n] + margin > 0`` (non-zero hinge loss). This is
            the hinge criterion whatever loss follows: with ``soft_margin=True`` every triplet has a
            non-zero loss, so ``TripletStats.num_active`` counts all of them while ``active_only`` still
            keeps only the margin violators.

    Returns:
        Three LongTensors of equal length T on ``embeddings.device``. ``"all"`` returns up to B³ triplets
        (3·8 bytes each): for large batches prefer ``active_only`` or another strategy.

    Raises:
        TypeError: non-floating embeddings or non-integer labels. ValueError: wrong shapes, margin ≤ 0, an
        unknown mining, distance or fallback, NaN or infinite embeddings (no index can say "NaN").
    """
    check_batch(embeddings, labels)
    check_mining_options(mining, margin, semihard_fallback)
    check_distance(distance)
    check_flags(normalize=normalize, active_only=active_only)
    require_finite(embeddings, "embeddings")  # indices from NaN distances would be arbitrary, not NaN
    dist = mining_distances(embeddings, distance=distance, normalize=normalize)
    pos, neg = label_masks(labels)
    if mining == "all":
        a, p, n = all_triplets(pos, neg)
    elif mining == "hard":
        p_idx, n_idx, valid = hard_selection(dist, pos, neg)
        a = valid.nonzero(as_tuple=True)[0]
        p, n = p_idx[a], n_idx[a]
    else:
        p_idx, n_idx, keep = semihard_selection(dist, pos, neg, semihard_fallback)
        a, j = keep.nonzero(as_tuple=True)
        p, n = p_idx[a, j], n_idx[a, j]
    if active_only:
        active = dist[a, p] - dist[a, n] + margin > 0
        a, p, n = a[active], p[active], n[active]
    return a, p, n
