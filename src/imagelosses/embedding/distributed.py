"""Gather embeddings and labels across ``torch.distributed`` ranks, with gradient to each rank's own rows.

With ``gather=True`` a metric loss runs on the *global* batch: every rank gathers all ranks' embeddings and
labels (in rank order), mines and computes the loss over the concatenation, and so every rank computes the
same value, equal to the single-process loss on the concatenated batch. The gathered tensor is
differentiable: the backward pass sends back to each rank only the gradient of its own slice. Because each
rank already computes the whole loss, that slice is complete: **rank r's gradient with respect to its own
embeddings equals the gradient of the single-process global loss with respect to those rows** (no
all-reduce is needed, and no world-size factor appears).

Scaling under DDP: DDP *averages* parameter gradients over the W ranks. Rank r's parameter gradient is the
contribution of its own rows, ``∂L/∂x_r · ∂x_r/∂θ``; their average is ``(1/W)·∂L/∂θ``, i.e. single-process
training on the global batch with the learning rate divided by W. Multiply the loss (or the learning rate)
by W to recover the single-process step exactly. pytorch-metric-learning instead gives other ranks'
embeddings no gradient and scales the loss by W (its issues #302, #380, #712).

Ranks may hold different batch sizes (including 0): the sizes are gathered first and every rank pads to the
largest. Without an initialised process group, or with world size 1, gathering returns its inputs unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from .._core.checks import check_floating, check_ndim, check_tensor, fail, fmt_shape

__all__ = ["gather_batch", "is_distributed"]


def is_distributed() -> bool:
    """True when a process group with more than one rank is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _all_gather_padded(x: Tensor) -> tuple[Tensor, list[int]]:
    """All ranks' ``x`` (dim 0 may differ) concatenated in rank order, and the size of each part."""
    world = dist.get_world_size()
    n = torch.tensor([x.shape[0]], dtype=torch.long, device=x.device)
    sizes = [torch.zeros_like(n) for _ in range(world)]
    dist.all_gather(sizes, n)
    counts = [int(s) for s in sizes]
    longest = max(counts)
    padded = x.new_zeros((longest, *x.shape[1:]))
    padded[: x.shape[0]] = x
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([p[:c] for p, c in zip(parts, counts, strict=True)]), counts


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        out, counts = _all_gather_padded(x.detach())
        rank = dist.get_rank()
        ctx.start, ctx.stop = sum(counts[:rank]), sum(counts[: rank + 1])
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        # Every rank computed the whole loss, so its own slice already holds the full gradient.
        return grad[ctx.start:ctx.stop].contiguous()


def gather_batch(embeddings: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Concatenate all ranks' ``embeddings`` (differentiable for this rank's rows) and ``labels``.

    Returns the inputs unchanged when :func:`is_distributed` is false. Otherwise the labels are cast to
    ``torch.long`` on the embeddings' device before gathering (ranks may hold different integer dtypes; the
    collective needs one), so the gathered labels are ``torch.long``. Every rank must call it (a collective),
    even with an empty batch.

    Shape:
        embeddings: (B_r, D) on rank r; labels: (B_r,); output (Σ B_r, D) and (Σ B_r,), in rank order.

    Raises:
        RuntimeError: from ``torch.distributed`` when ranks disagree on D or the embeddings' dtype.

    References:
        Issues #302, #380, #712 of pytorch-metric-learning (gradient of gathered embeddings).

    Example:
        >>> x, y = torch.randn(4, 3), torch.tensor([0, 0, 1, 1])
        >>> gx, gy = gather_batch(x, y)  # no process group: the inputs themselves
        >>> gx is x and gy is y
        True
    """
    check_ndim(check_floating(embeddings, "embeddings"), "embeddings", (2,), "(B, D)")
    if check_tensor(labels, "labels").shape[:1] != embeddings.shape[:1]:  # class labels or pair targets
        fail("labels", f"a tensor of B = {embeddings.shape[0]} entries, one per embedding",
             f"shape {fmt_shape(labels.shape)}")
    if not is_distributed():
        return embeddings, labels
    gathered_labels, _ = _all_gather_padded(labels.detach().to(device=embeddings.device, dtype=torch.long))
    return _GatherWithGrad.apply(embeddings), gathered_labels
