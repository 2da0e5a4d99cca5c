"""Soft clDice (Shit et al. 2021): a differentiable skeleton and the centreline Dice built on it, combined
with soft Dice as in the paper.

- :func:`soft_skeleton`: the soft skeleton of a probability map by iterated min/max pooling, 2-D
  ``(N, C, H, W)`` and 3-D ``(N, C, D, H, W)``.
- :func:`soft_cldice_loss` / :class:`SoftClDiceLoss`: ``(1 − α)·(soft Dice loss) + α·(soft clDice loss)``.

Which input: ``soft_cldice_loss`` takes **logits** by default (``from_logits=True``, as the other
segmentation losses of the library); with ``from_logits=False`` it takes probabilities in [0, 1], and
``check_range=True`` refuses anything else (logits passed by mistake). ``soft_skeleton`` takes
probabilities. Targets are (soft) masks in [0, 1], checked in eager mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .._core.checks import (
    check_bool,
    check_floating,
    check_int,
    check_ndim,
    check_prediction,
    check_same_shape,
    check_tensor,
    eager,
    fail,
    require_finite,
)
from .._core.dtypes import at_least_float32, nan_if_nonfinite
from .._core.module import OptionsLoss
from .._core.options import Options, integer, number
from .._core.reduction import Reduction, reduce, safe_divide
from .segmentation import check_binary_values

__all__ = ["ClDiceOptions", "ClDiceParts", "SoftClDiceLoss", "cldice_core", "soft_cldice_loss", "soft_skeleton"]


def _erode(x: Tensor) -> Tensor:
    """Soft erosion: the minimum over the centre and its 2·d axis neighbours (a cross), per axis."""
    d = x.ndim - 2
    out: Tensor | None = None
    for axis in range(d):
        kernel = [1] * d
        kernel[axis] = 3
        padding = [0] * d
        padding[axis] = 1
        pool = F.max_pool2d if d == 2 else F.max_pool3d
        m = -pool(-x, kernel, 1, padding)
        out = m if out is None else torch.minimum(out, m)
    return out  # type: ignore[return-value]


def _dilate(x: Tensor) -> Tensor:
    """Soft dilation: the maximum over the full 3×3 (3×3×3) neighbourhood."""
    return F.max_pool2d(x, 3, 1, 1) if x.ndim == 4 else F.max_pool3d(x, 3, 1, 1)


def _skeleton(x: Tensor, iterations: int) -> Tensor:
    """Shit et al.'s Algorithm 1; each erosion is computed once and serves both the opening of the current
    map and the next map (the reference code computes it twice)."""
    eroded = _erode(x)
    skel = F.relu(x - _dilate(eroded))
    for _ in range(iterations):
        x = eroded
        eroded = _erode(x)
        delta = F.relu(x - _dilate(eroded))
        skel = skel + F.relu(delta - skel * delta)
    return skel


def _check_spatial(x: Tensor, name: str) -> None:
    check_floating(x, name)
    check_ndim(x, name, (4, 5), "(N, C, H, W) or (N, C, D, H, W)")


def soft_skeleton(input: Tensor, *, iterations: int = 3) -> Tensor:
    """Soft skeleton of probability maps by iterated soft erosion (min pooling over a cross) and soft
    opening (erosion, then max pooling over the full neighbourhood).

    With ``E`` the soft erosion and ``O(I) = D(E(I))`` the soft opening:
    ``S = relu(I − O(I))``, then ``k`` times: ``I ← E(I)``, ``δ = relu(I − O(I))``,
    ``S ← S + relu(δ − S·δ)``. On a binary map this is the morphological skeleton of the eroded sets;
    ``k`` should reach the largest half-width of the structures (a line of width ``w`` needs
    ``k ≥ (w − 1)/2``), beyond which the skeleton of a thick line is its centre line. Computed in at least
    float32.

    Shape:
        ``(N, C, H, W)`` or ``(N, C, D, H, W)`` → the same.

    Raises:
        TypeError: a non-floating input. ValueError: another number of dimensions, ``iterations < 0``.

    References:
        Shit et al., "clDice — a Novel Topology-Preserving Loss Function for Tubular Structure
        Segmentation", CVPR 2021, arXiv 2003.07311 (Algorithm 1).

    Example:
        >>> bar = torch.zeros(1, 1, 9, 9); bar[..., 3:6, :] = 1  # a bar 3 px thick
        >>> soft_skeleton(bar, iterations=2)[0, 0, :, 4].tolist()
        [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    """
    _check_spatial(input, "input")
    k = check_int(iterations, "iterations", low=0)
    if input.numel() == 0:  # the skeleton of an empty map is empty (pooling refuses empty spatial dimensions)
        return input.clone()
    return _skeleton(at_least_float32(input), k).to(input.dtype)


# ------------------------------------------------------------------------------------------------ clDice
class ClDiceParts(NamedTuple):
    """``total = (1 − alpha)·dice + alpha·cldice``, each reduced as asked."""

    total: Tensor
    dice: Tensor
    cldice: Tensor


@dataclass(frozen=True)
class ClDiceOptions(Options):
    """The options of :func:`soft_cldice_loss` and :class:`SoftClDiceLoss`."""

    iterations: int = integer(3, low=0)
    alpha: float = number(0.5, low=0.0, high=1.0)
    smooth: float = number(1.0, low=0.0)
    eps: float = number(0.0, low=0.0)
    from_logits: bool = True
    check_range: bool = False
    reduction: Reduction = "mean"
    check_finite: bool = False


def soft_cldice_loss(input: Tensor, target: Tensor, *, iterations: int = 3, alpha: float = 0.5, smooth: float = 1.0,
                     eps: float = 0.0, from_logits: bool = True, check_range: bool = False,
                     reduction: Reduction = "mean", return_parts: bool = False,
                     check_finite: bool = False) -> Tensor | ClDiceParts:
    """Soft Dice + soft clDice loss, ``(1 − α)·L_dice + α·L_cldice`` (α = 0.5 as in the paper's code).

    With ``V_P`` the probabilities (``σ(input)`` when ``from_logits``), ``V_L`` the target, ``S_P``, ``S_L``
    their soft skeletons (:func:`soft_skeleton`, ``k = iterations``), sums over each sample's channels and
    pixels, and smoothing ``s``:

    - ``Tprec = (Σ S_P·V_L + s) / (Σ S_P + s)``, ``Tsens = (Σ S_L·V_P + s) / (Σ S_L + s)``,
      ``L_cldice = 1 − 2·Tprec·Tsens / (Tprec + Tsens + ε)``;
    - ``L_dice = 1 − (2·Σ V_P·V_L + s) / (Σ V_P + Σ V_L + s)``.

    ``s = 1`` and ``ε = 0`` are the paper's code; MONAI's ``SoftclDiceLoss``/``SoftDiceclDiceLoss`` use
    ``ε = 1e-4`` (pass ``eps=1e-4`` to match them; ``alpha=1`` is MONAI's ``SoftclDiceLoss``). A zero
    denominator (``s = 0`` on empty maps) counts as a perfect ratio of 1. Unreduced values are per sample,
    ``(N,)``; ``"mean"`` averages them over the batch. Several channels are summed together (MONAI's
    ``DiceLoss`` averages per-channel scores instead; the two agree for one channel). Computed in at least
    float32; the result keeps a half input's dtype.

    Args:
        input: logits (``from_logits=True``, default) or probabilities ``(N, C, H, W)`` / ``(N, C, D, H, W)``.
        target: masks in [0, 1] of the same shape (or ``(N, *)`` for one channel).
        iterations: skeleton iterations ``k`` ≥ 0 (3 in the paper's code and MONAI).
        alpha: weight of the clDice term in [0, 1].
        smooth: ``s`` ≥ 0; eps: ``ε`` ≥ 0 in the harmonic mean.
        from_logits: whether ``input`` holds logits (a sigmoid is applied) or probabilities.
        check_range: with probabilities, refuse values outside [0, 1] (eager only).
        return_parts: return :class:`ClDiceParts` (total, dice, cldice).
        check_finite: refuse NaN/inf in input or target.

    Raises:
        TypeError: non-floating input or target. ValueError: mismatched shapes, 3 or 6-D tensors, a target
        outside [0, 1], probabilities outside [0, 1] when ``check_range``, bad options.

    References:
        Shit et al., arXiv 2003.07311.

    Example:
        >>> mask = torch.zeros(1, 1, 8, 8); mask[..., 4, :] = 1
        >>> float(soft_cldice_loss(mask, mask, from_logits=False))
        0.0
    """
    options = ClDiceOptions.pick(locals())
    return cldice_core(input, target, options, return_parts=check_bool(return_parts, "return_parts"))


def cldice_core(input: Tensor, target: Tensor, options: ClDiceOptions, *,
                return_parts: bool = False) -> Tensor | ClDiceParts:
    """The kernel of :func:`soft_cldice_loss` from checked options (inputs are checked here)."""
    iterations, alpha, smooth, eps = options.iterations, options.alpha, options.smooth, options.eps
    check_finite, reduction = options.check_finite, options.reduction
    check_prediction(input, check_finite)
    _check_spatial(input, "input")
    check_tensor(target, "target")
    check_floating(target, "target")
    if input.shape[1] == 1 and target.ndim == input.ndim - 1:
        target = target.unsqueeze(1)
    check_same_shape(target, "target", input, "input")
    if check_finite:
        require_finite(target, "target")
    check_binary_values(target, torch.ones_like(target, dtype=torch.bool))
    x = at_least_float32(input)
    if options.from_logits:
        probs = torch.sigmoid(x)
    else:
        if options.check_range and eager() and x.numel():
            lo, hi = (float(v) for v in torch.aminmax(x.detach()))
            if not (0.0 <= lo and hi <= 1.0):
                fail("input", "probabilities in [0, 1] (from_logits=False; pass logits with from_logits=True)",
                     f"values in [{lo:.4g}, {hi:.4g}]")
        probs = x
    t = target.to(probs.dtype)
    dims = tuple(range(1, x.ndim))
    skel_p = _skeleton(probs, iterations)
    with torch.set_grad_enabled(torch.is_grad_enabled() and t.requires_grad):
        skel_t = _skeleton(t, iterations)
    tprec = _ratio((skel_p * t).sum(dims) + smooth, skel_p.sum(dims) + smooth)
    tsens = _ratio((skel_t * probs).sum(dims) + smooth, skel_t.sum(dims) + smooth)
    cldice = 1.0 - safe_divide(2.0 * tprec * tsens, tprec + tsens + eps)
    dice = 1.0 - _ratio(2.0 * (probs * t).sum(dims) + smooth, probs.sum(dims) + t.sum(dims) + smooth)
    if alpha == 1.0:
        total = cldice
    elif alpha == 0.0:
        total = dice
    else:
        total = (1.0 - alpha) * dice + alpha * cldice
    dtype = input.dtype

    def finish(values: Tensor) -> Tensor:
        return nan_if_nonfinite(reduce(values, reduction), input, target).to(dtype)

    if return_parts:
        return ClDiceParts(finish(total), finish(dice), finish(cldice))
    return finish(total)


def _ratio(numerator: Tensor, denominator: Tensor) -> Tensor:
    """``numerator / denominator``, 1 where both are zero (nothing to match: a perfect score)."""
    empty = denominator == 0
    return torch.where(empty, torch.ones_like(numerator), numerator / torch.where(empty, 1.0, denominator))


class SoftClDiceLoss(OptionsLoss[ClDiceOptions], function=soft_cldice_loss):
    """``(1 − α)·soft Dice + α·soft clDice`` as a module.

    ``SoftClDiceLoss(iterations=3, alpha=0.5, smooth=1.0, eps=0.0, from_logits=True, check_range=False,
    reduction="mean", check_finite=False)``, called as ``loss(input, target, *, return_parts=False)``;
    ``input`` holds logits unless ``from_logits=False``. The math, the shapes and the errors are those of
    :func:`soft_cldice_loss`.

    Example:
        >>> loss = SoftClDiceLoss(iterations=5, alpha=0.5)
        >>> loss(torch.randn(2, 1, 16, 16), torch.ones(2, 1, 16, 16)).shape
        torch.Size([])
    """

    Options = ClDiceOptions

    def forward(self, input: Tensor, target: Tensor, *, return_parts: bool = False) -> Tensor | ClDiceParts:
        return cldice_core(input, target, self.current_options(), return_parts=return_parts)


