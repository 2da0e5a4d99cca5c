"""Mosinska et al.'s iterative refinement: the network re-applied K times to ``image ⊕ previous prediction``,
from an empty map, the step losses weighted ``k/Z`` (a training wrapper around any loss, e.g. the
topology-aware loss of :mod:`imagelosses.losses.topology`).

References:
    Mosinska, Márquez-Neila, Koziński, Fua, "Beyond the Pixel-Wise Loss for Topology-Aware Delineation",
    CVPR 2018, arXiv 1712.02190 (section 3.2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from .._core.checks import check_bool, check_floating, check_int, check_ndim, fail, fmt_shape
from .._core.dtypes import at_least_float32

__all__ = ["RefinementParts", "iterative_refinement", "refinement_loss", "refinement_weights"]


class RefinementParts(NamedTuple):
    """``total = Σ_k weights[k] · step_losses[k]``; ``logits[k]`` is the output of step k + 1."""

    total: Tensor
    step_losses: list[Tensor]
    weights: Tensor
    logits: list[Tensor]


def refinement_weights(steps: int, *, dtype: torch.dtype = torch.float32, device: torch.device | None = None
                       ) -> Tensor:
    """``(k / Z)_{k=1..K}`` with ``Z = K(K+1)/2``: later refinement steps weigh more; they sum to 1.

    Example:
        >>> [round(w, 4) for w in refinement_weights(3).tolist()]
        [0.1667, 0.3333, 0.5]
    """
    k = check_int(steps, "steps", low=1)
    return torch.arange(1, k + 1, dtype=dtype, device=device) / (k * (k + 1) / 2)


def iterative_refinement(model: Callable[[Tensor], Tensor], image: Tensor, steps: int, *,
                         detach_previous: bool = False) -> list[Tensor]:
    """The logits of K refinement steps: ``x_k = model(image ⊕ σ(x_{k−1}))`` with ``σ(x_0) = 0`` (an empty
    map), ``⊕`` the concatenation along channels. The model therefore takes ``C + 1`` input channels and
    returns ``(N, 1, H, W)`` logits. Gradients run through the whole chain unless ``detach_previous``.

    Raises:
        ValueError: ``steps < 1``; a model output that is not ``(N, 1, H, W)`` logits of the image's size.
        TypeError: non-floating image, non-integer ``steps``.
    """
    k = check_int(steps, "steps", low=1)
    check_floating(image, "image")
    check_ndim(image, "image", (4,), "(N, C, H, W)")
    check_bool(detach_previous, "detach_previous")
    previous = torch.zeros_like(image[:, :1])
    outputs: list[Tensor] = []
    for _ in range(k):
        logits = model(torch.cat([image, previous], dim=1))
        want = (image.shape[0], 1, *image.shape[2:])
        if not isinstance(logits, Tensor) or tuple(logits.shape) != want:
            got = f"shape {fmt_shape(logits.shape)}" if isinstance(logits, Tensor) else type(logits).__name__
            fail("model", f"logits of shape {fmt_shape(want)} from image ⊕ previous prediction", got)
        outputs.append(logits)
        previous = torch.sigmoid(logits.detach() if detach_previous else logits).to(image.dtype)
    return outputs


def refinement_loss(model: Callable[[Tensor], Tensor], image: Tensor, target: Tensor,
                    loss: Callable[[Tensor, Tensor], Tensor], *, steps: int = 3, detach_previous: bool = False,
                    return_parts: bool = False) -> Tensor | RefinementParts:
    """Mosinska et al.'s refinement objective ``L_ref = (1/Z) Σ_{k=1..K} k · L(x_k, y)``, ``Z = K(K+1)/2``.

    ``x_k`` are the logits of :func:`iterative_refinement`; ``loss`` is applied to each step's logits and
    the target (e.g. a :class:`~imagelosses.losses.topology.TopologyAwareLoss`) and must return a scalar.
    K = 3 in the paper.

    Raises:
        ValueError: ``steps < 1``, a step loss that is not a scalar; as :func:`iterative_refinement`.

    References:
        Mosinska et al., arXiv 1712.02190 (section 3.2).

    Example:
        >>> net = torch.nn.Conv2d(2, 1, 3, padding=1)
        >>> image, mask = torch.rand(1, 1, 8, 8), torch.zeros(1, 1, 8, 8)
        >>> bce = torch.nn.BCEWithLogitsLoss()
        >>> parts = refinement_loss(net, image, mask, bce, steps=3, return_parts=True)
        >>> len(parts.step_losses), round(float(parts.weights.sum()), 6)
        (3, 1.0)
    """
    logits = iterative_refinement(model, image, steps, detach_previous=detach_previous)
    weights = refinement_weights(len(logits), dtype=at_least_float32(image).dtype, device=image.device)
    values: list[Tensor] = []
    for x in logits:
        value = loss(x, target)
        if not isinstance(value, Tensor) or value.ndim != 0:
            got = f"shape {fmt_shape(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
            fail("loss", "a scalar loss per refinement step (reduction 'mean' or 'sum')", got)
        values.append(value)
    total = (torch.stack([v.to(weights.dtype) for v in values]) * weights).sum()
    return RefinementParts(total, values, weights, logits) if check_bool(return_parts, "return_parts") else total
