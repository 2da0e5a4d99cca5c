"""Temperature-scaled softmax contrastive losses (the InfoNCE family): NT-Xent (SimCLR) and SupCon.

Both score every other embedding of the batch by cosine similarity divided by a temperature τ, and ask each
anchor ``i`` to give its positives a high softmax probability over ``a ≠ i``. With ``s_ia = z_i·z_a/τ`` on
L2-normalised ``z``:

- NT-Xent (Chen et al. 2020, SimCLR): two views ``z1``, ``z2`` of N images, 2N anchors, the positive of each
  is its other view: ``ℓ_i = −log exp(s_ij) / Σ_{a≠i} exp(s_ia)``;
- SupCon L_out (Khosla et al. 2020): every same-label embedding is a positive,
  ``ℓ_i = −1/|P(i)| Σ_{p∈P(i)} log exp(s_ip) / Σ_{a≠i} exp(s_ia)``. An anchor without a positive has no
  term: it is **left out** (``"none"`` gives it 0; ``"mean"`` divides by the number of anchors with a
  positive; a batch without any gives 0 with a zero gradient). It still counts in the others' denominators.
  NT-Xent is SupCon on ``cat(z1, z2)`` with labels ``cat(arange(N), arange(N))``.

Memory and precision: one (B, B) similarity matrix, in float32 for half inputs (float64 stays float64), with
the log-sum-exp taken after subtracting each row's maximum, so τ = 0.01 (similarities up to ±100) stays
finite. The forward and the backward each run inside one operator: the forward keeps the softmax matrix
for the backward and nothing else of size B²; the backward adds one (B, B) gradient matrix. Results are
float32 for half inputs (the rule of the metric losses). A zero embedding has cosine 0 to everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .._core.checks import check_floating, check_ndim, check_same_shape, fail, fmt_shape
from .._core.dtypes import at_least_float32, nan_if_nonfinite
from .._core.module import OptionsLoss
from .._core.options import Options, number
from .._core.reduction import Reduction, reduce
from .distances import l2_normalize
from .distributed import gather_batch
from .mining import check_batch

__all__ = ["NTXentLoss", "NTXentOptions", "SupConLoss", "SupConOptions", "nt_xent_loss", "supcon_loss"]

CHUNK_ELEMENTS = 1 << 22  # rows × B entries per chunk of the positive sums: 16 MiB in float32


@dataclass(frozen=True)
class NTXentOptions(Options):
    """The options of :func:`nt_xent_loss` and :class:`NTXentLoss`."""

    temperature: float = number(0.5, low=0.0, low_inclusive=False)
    gather: bool = False
    reduction: Reduction = "mean"


@dataclass(frozen=True)
class SupConOptions(Options):
    """The options of :func:`supcon_loss` and :class:`SupConLoss`."""

    temperature: float = number(0.1, low=0.0, low_inclusive=False)
    gather: bool = False
    reduction: Reduction = "mean"


# ------------------------------------------------------------------------------------------- the operator
def _positives(labels: Tensor) -> Tensor:
    """(B, B) bool: same label, not the diagonal."""
    pos = labels[:, None] == labels[None, :]
    pos.diagonal().fill_(False)
    return pos


def _row_chunks(b: int) -> list[slice]:
    step = max(1, CHUNK_ELEMENTS // max(b, 1))
    return [slice(r, r + step) for r in range(0, b, step)]


@torch.library.custom_op("imagelosses::infonce", mutates_args=())
def _infonce(z: Tensor, labels: Tensor, inv_temperature: float) -> tuple[Tensor, Tensor, Tensor]:
    """Per-anchor ``LSE_{a≠i}(s_ia) − mean_{p∈P(i)} s_ip`` (0 where ``P(i)`` is empty), the number of anchors
    with a positive, and the row softmax ``P_ia`` over ``a ≠ i`` that the backward needs; ``s = z zᵀ/τ``."""
    b = z.shape[0]
    if b == 0:
        return z.new_zeros(0), torch.zeros((), dtype=torch.long, device=z.device), z.new_zeros(0, 0)
    s = torch.mm(z, z.t()).mul_(inv_temperature)
    pos = _positives(labels)
    num_pos = pos.sum(1)
    pos_sum = z.new_zeros(b)
    for r in _row_chunks(b):  # Σ_p s_ip, one chunk of rows at a time (no second (B, B) float matrix)
        pos_sum[r] = (s[r] * pos[r]).sum(1)
    s.diagonal().fill_(float("-inf"))
    top = s.amax(1, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))  # B = 1: a row of -inf only
    probs = s.sub_(top).exp_()
    total = probs.sum(1, keepdim=True)
    lse = total.log().add_(top).squeeze(1)
    probs.div_(torch.where(total > 0, total, torch.ones_like(total)))
    has_pos = num_pos > 0
    per_anchor = torch.where(has_pos, lse - pos_sum / num_pos.clamp_min(1), torch.zeros_like(lse))
    return per_anchor, has_pos.sum(), probs


@_infonce.register_fake
def _(z: Tensor, labels: Tensor, inv_temperature: float) -> tuple[Tensor, Tensor, Tensor]:
    b = z.shape[0]
    return z.new_empty(b), z.new_empty((), dtype=torch.long), z.new_empty(b, b)


@torch.library.custom_op("imagelosses::infonce_backward", mutates_args=())
def _infonce_backward(grad: Tensor, z: Tensor, labels: Tensor, probs: Tensor, inv_temperature: float) -> Tensor:
    """``∂(Σ_i g_i ℓ_i)/∂z`` from the saved softmax: ``G_ia = g_i (P_ia − [a∈P(i)]/|P(i)|)`` on anchors with
    a positive, ``∂/∂z = (G + Gᵀ) z / τ``."""
    b = z.shape[0]
    if b == 0:
        return torch.zeros_like(z)
    pos = _positives(labels)
    num_pos = pos.sum(1)
    g = torch.where(num_pos > 0, grad, torch.zeros_like(grad))
    coef = g[:, None]
    out = probs * coef
    pos_coef = coef / num_pos.clamp_min(1)[:, None]
    for r in _row_chunks(b):
        out[r] -= pos[r] * pos_coef[r]
    return torch.addmm(out @ z, out.t(), z).mul_(inv_temperature)


@_infonce_backward.register_fake
def _(grad: Tensor, z: Tensor, labels: Tensor, probs: Tensor, inv_temperature: float) -> Tensor:
    return torch.empty_like(z)


def _dense(z: Tensor, labels: Tensor, inv_temperature: float) -> Tensor:
    """The per-anchor terms from differentiable torch ops (double backward only)."""
    s = (z @ z.t()) * inv_temperature
    pos = _positives(labels)
    eye = torch.eye(z.shape[0], dtype=torch.bool, device=z.device)
    lse = torch.logsumexp(s.masked_fill(eye, float("-inf")), 1)
    num_pos = pos.sum(1)
    terms = lse - torch.where(pos, s, 0.0).sum(1) / num_pos.clamp_min(1)
    return torch.where(num_pos > 0, terms, 0.0)


def _setup(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, Tensor, Tensor]) -> None:
    z, labels, inv_temperature = inputs
    ctx.inv_temperature = inv_temperature
    ctx.save_for_backward(z, labels, output[2])


def _backward(ctx: Any, grad: Tensor, grad_count: Any, grad_probs: Any) -> tuple[Any, ...]:
    z, labels, probs = ctx.saved_tensors
    if torch.is_grad_enabled() and (z.requires_grad or grad.requires_grad):
        # create_graph=True (double backward): rebuild the terms differentiably (memory: a few (B, B) matrices).
        with torch.enable_grad():
            zz = z if z.requires_grad else z.detach().requires_grad_()
            (dz,) = torch.autograd.grad((_dense(zz, labels, ctx.inv_temperature) * grad).sum(), zz,
                                        create_graph=True)
        return dz, None, None
    return _infonce_backward(grad, z, labels, probs, ctx.inv_temperature), None, None


_infonce.register_autograd(_backward, setup_context=_setup)


def infonce_loss(embeddings: Tensor, labels: Tensor, temperature: float, reduction: str) -> Tensor:
    """SupCon L_out of a checked (B, D) batch (NT-Xent is its special case): the shared kernel of this file.

    ``"mean"`` divides by the number of anchors with a positive; ``"none"`` gives (B,) with 0 for the others.
    """
    with torch.autocast(embeddings.device.type, enabled=False):
        z = l2_normalize(at_least_float32(embeddings))
        per_anchor, count, _ = _infonce(z, labels.to(torch.long), 1.0 / temperature)
        out = reduce(per_anchor, reduction, denominator=count)
    return nan_if_nonfinite(out, embeddings)


# ----------------------------------------------------------------------------------------------- NT-Xent
def _check_views(z1: Tensor, z2: Tensor) -> None:
    check_floating(z1, "z1")
    check_ndim(z1, "z1", (2,), "(N, D)")
    if z1.shape[1] == 0:
        fail("z1", "at least one coordinate per embedding (D > 0)", f"shape {fmt_shape(z1.shape)}")
    check_floating(z2, "z2")
    check_same_shape(z2, "z2", z1, "z1")
    if z2.device != z1.device:
        fail("z2", f"a tensor on {z1.device} (the device of z1)", f"a tensor on {z2.device}")


def _nt_xent(z1: Tensor, z2: Tensor, options: NTXentOptions) -> Tensor:
    _check_views(z1, z2)
    if options.gather:  # each view over every rank, so that view 1 of image k still pairs with view 2 of k
        ids = torch.zeros(z1.shape[0], dtype=torch.long, device=z1.device)
        z1, _ = gather_batch(z1, ids)
        z2, _ = gather_batch(z2, ids)
    n = z1.shape[0]
    image = torch.arange(n, device=z1.device)
    return infonce_loss(torch.cat([z1, z2]), torch.cat([image, image]), options.temperature, options.reduction)


def nt_xent_loss(z1: Tensor, z2: Tensor, *, temperature: float = 0.5, gather: bool = False,
                 reduction: Reduction = "mean") -> Tensor:
    """NT-Xent, SimCLR's normalised temperature-scaled cross-entropy over two views of N images.

    The 2N embeddings ``z = cat(z1, z2)`` are L2-normalised; anchor ``i``'s positive ``j`` is its other view,
    ``ℓ_i = −log exp(sim(z_i, z_j)/τ) / Σ_{k≠i} exp(sim(z_i, z_k)/τ)`` with cosine ``sim``. ``"mean"`` divides
    by the 2N anchors (N = 0 gives 0). Equals pytorch-metric-learning's ``NTXentLoss(temperature)`` on
    ``cat(z1, z2)`` with labels ``cat(arange(N), arange(N))``. A single image (N = 1) has no negative:
    ``ℓ = 0``.

    Args:
        z1, z2: the two views' embeddings, (N, D) floating, one shape; row k of each is image k.
        temperature: τ > 0 (SimCLR: 0.5 at batch 4096 in its ablation; 0.1 with LARS at large batches).
        gather: compute the loss over the images of every ``torch.distributed`` rank
            (:mod:`imagelosses.embedding.distributed`; each rank's gradient is exact).
        reduction: ``"none"`` (2N values: the anchors of z1, then of z2), ``"mean"`` or ``"sum"``.

    Shape:
        z1, z2: (N, D); output scalar, or (2N,) for ``"none"``.

    Raises:
        TypeError: non-floating views, an option of the wrong type. ValueError: views not 2-D, of different
        shapes or devices, D = 0, temperature ≤ 0, an unknown reduction.

    References:
        Chen, Kornblith, Norouzi, Hinton, "A Simple Framework for Contrastive Learning of Visual
        Representations", ICML 2020, arXiv 2002.05709 (Eq. 1).

    Example:
        >>> z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]]); z2 = z1.clone()
        >>> round(float(nt_xent_loss(z1, z2, temperature=1.0)), 4)  # −log e / (e + 1 + 1)
        0.5514
    """
    return _nt_xent(z1, z2, NTXentOptions.pick(locals()))


# ------------------------------------------------------------------------------------------------ SupCon
def _supcon(embeddings: Tensor, labels: Tensor, options: SupConOptions) -> Tensor:
    check_batch(embeddings, labels)
    if options.gather:
        embeddings, labels = gather_batch(embeddings, labels)
    return infonce_loss(embeddings, labels, options.temperature, options.reduction)


def supcon_loss(embeddings: Tensor, labels: Tensor, *, temperature: float = 0.1, gather: bool = False,
                reduction: Reduction = "mean") -> Tensor:
    """Supervised contrastive loss L_out (Khosla et al. 2020) over a labelled batch.

    On L2-normalised embeddings, with ``P(i)`` the other embeddings of anchor i's label,
    ``ℓ_i = −1/|P(i)| Σ_{p∈P(i)} log exp(z_i·z_p/τ) / Σ_{a≠i} exp(z_i·z_a/τ)``. Anchors without a positive
    are left out: ``"none"`` gives them 0 and ``"mean"`` divides by the number of anchors with a positive (a
    batch without any gives 0 with a zero gradient). Equals pytorch-metric-learning's
    ``SupConLoss(temperature)``.

    Args:
        embeddings: (B, D) floating (normalised inside). labels: (B,) integer class labels.
        temperature: τ > 0 (the paper: 0.1).
        gather: compute the loss over the batch of every ``torch.distributed`` rank (each rank's gradient is
            exact).
        reduction: ``"none"`` (B values), ``"mean"`` or ``"sum"``.

    Shape:
        embeddings: (B, D); labels: (B,); output scalar, or (B,) for ``"none"``.

    Raises:
        TypeError: non-floating embeddings, non-integer labels, an option of the wrong type. ValueError:
        embeddings not 2-D or D = 0, labels not (B,) or on another device, temperature ≤ 0, an unknown
        reduction.

    References:
        Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020, arXiv 2004.11362 (Eq. 2, L_out).

    Example:
        >>> x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]); y = torch.tensor([0, 0, 1])
        >>> supcon_loss(x, y, temperature=1.0, reduction="none")  # anchor 2 has no positive
        tensor([0.3133, 0.3133, 0.0000])
    """
    return _supcon(embeddings, labels, SupConOptions.pick(locals()))


# ----------------------------------------------------------------------------------------------- modules
class NTXentLoss(OptionsLoss[NTXentOptions], function=nt_xent_loss):
    """NT-Xent (SimCLR) over two views, as a module.

    ``NTXentLoss(temperature=0.5, gather=False, reduction="mean")``, called as ``loss(z1, z2)``; the math, the
    shapes and the errors are those of :func:`nt_xent_loss`.

    Example:
        >>> z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> NTXentLoss(temperature=1.0)(z1, z1.clone())
        tensor(0.5514)
    """

    Options = NTXentOptions

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return _nt_xent(z1, z2, self.current_options())


class SupConLoss(OptionsLoss[SupConOptions], function=supcon_loss):
    """Supervised contrastive loss (L_out) over a labelled batch, as a module.

    ``SupConLoss(temperature=0.1, gather=False, reduction="mean")``, called as ``loss(embeddings, labels)``; see
    :func:`supcon_loss`.

    Example:
        >>> x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]); y = torch.tensor([0, 0, 1])
        >>> SupConLoss(temperature=1.0)(x, y)
        tensor(0.3133)
    """

    Options = SupConOptions

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        return _supcon(embeddings, labels, self.current_options())
