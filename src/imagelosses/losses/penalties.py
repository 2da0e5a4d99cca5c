"""Gradient penalties of GAN critics: WGAN-GP (two-sided and one-sided), R1, R2 and DRAGAN.

Each penalty differentiates the critic's output with respect to its input and keeps that graph
(``create_graph=True``), so ``penalty.backward()`` runs the double backward into the critic's parameters.
The gradient norm is taken **per sample** over every non-batch dimension (``‖∇_x D(x)_i‖₂`` of the
flattened sample i), as Gulrajani et al. define it.

Mixed precision: under ``torch.autocast`` the critic may run in half precision; the gradient norm is
computed in float32. With a ``torch.amp.GradScaler``, pass it as ``scaler=``: the critic output is then
multiplied by the scale before the input gradient is taken (so small fp16 gradients do not underflow) and the
gradient is divided by the same scale before the norm — the penalty is computed on *unscaled* gradients, as
PyTorch's AMP recipe for gradient penalties prescribes. The user then adds the penalty to the critic's loss
and calls ``scaler.scale(loss).backward()``, ``scaler.step(optimizer)``, ``scaler.update()`` as usual. Without
a scaler the value is the same; only fp16 underflow of tiny gradients is not guarded against.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from .._core.checks import check_generator, check_prediction, check_same_shape, fail, fmt_shape
from .._core.dtypes import at_least_float32, nan_if_nonfinite
from .._core.module import OptionsLoss
from .._core.options import Options, number
from .._core.reduction import Reduction, reduce

__all__ = ["PENALTY_KINDS", "GradientPenalty", "PenaltyKind", "PenaltyOptions", "gradient_penalty"]

PenaltyKind = Literal["wgan-gp", "r1", "r2", "dragan"]
PENALTY_KINDS: tuple[str, ...] = ("wgan-gp", "r1", "r2", "dragan")
Critic = Callable[..., Tensor]
#: The samples each kind reads: checked as given, and the only ones whose NaN makes the penalty NaN.
SAMPLES_USED: dict[str, tuple[str, ...]] = {"wgan-gp": ("real", "fake"), "r1": ("real",), "r2": ("fake",),
                                            "dragan": ("real",)}


@dataclass(frozen=True)
class PenaltyOptions(Options):
    """The options of :func:`gradient_penalty` and :class:`GradientPenalty`: the kind, its scalar
    ``lambda_`` (λ of WGAN-GP and DRAGAN, γ of R1/R2; 10), ``one_sided`` (wgan-gp and dragan only) and the
    reduction."""

    kind: PenaltyKind = "wgan-gp"
    lambda_: float = number(10.0, low=0.0)
    one_sided: bool = False
    reduction: Reduction = "mean"

    def validate(self) -> None:
        if self.one_sided and self.kind not in ("wgan-gp", "dragan"):
            fail("one_sided", f"False for kind {self.kind!r} (only 'wgan-gp' and 'dragan' have a target norm)",
                 "True")


def _check_sample(x: Any, name: str) -> Tensor:
    return check_prediction(x, False, name=name, ndims=range(1, 8), layout="(N, *)")


def _points(kind: str, real: Tensor | None, fake: Tensor | None, generator: torch.Generator | None) -> Tensor:
    """Where the gradient is taken: interpolates (wgan-gp), real (r1), fake (r2), perturbed real (dragan)."""
    given = {"real": real, "fake": fake}
    checked: dict[str, Tensor] = {}
    for name in SAMPLES_USED[kind]:
        sample = given[name]
        if sample is None:
            fail(name, f"a tensor (kind {kind!r} needs it)", "None", exc=TypeError)
        checked[name] = _check_sample(sample, name)
    if kind == "r1":
        return checked["real"]
    if kind == "r2":
        return checked["fake"]
    x0 = checked["real"]
    if kind == "wgan-gp":
        other = checked["fake"]
        check_same_shape(other, "fake", x0, "real")
    else:  # DRAGAN's official code: x_p = x + 0.5·std(x)·U[0, 1) (numpy's std: over n), then interpolate
        noise = torch.rand(x0.shape, generator=generator, dtype=torch.float32)
        base = at_least_float32(x0)
        other = base + 0.5 * base.detach().std(correction=0) * noise.to(device=x0.device, dtype=base.dtype)
    shape = (x0.shape[0],) + (1,) * (x0.ndim - 1)
    # ε in float32 whatever the samples' dtype (the same draws for every dtype), the interpolate rounded once
    eps = torch.rand(shape, generator=generator, dtype=torch.float32).to(device=x0.device)
    start = at_least_float32(x0)
    return (start + eps.to(start.dtype) * (at_least_float32(other) - start)).to(x0.dtype)


def _input_gradient(critic: Critic, x: Tensor, critic_args: Sequence[Any], scaler: Any) -> Tensor:
    if not x.requires_grad:
        x = x.detach().requires_grad_(True)
    out = critic(x, *critic_args)
    if not isinstance(out, Tensor):
        fail("critic", "a callable returning a tensor", type(out).__name__, exc=TypeError)
    if out.ndim == 0 or out.shape[0] != x.shape[0]:
        fail("critic", f"an output of shape (N, *) with N = {x.shape[0]} scores, one per sample",
             f"shape {fmt_shape(out.shape)}")
    if not out.requires_grad:
        fail("critic", "an output that depends on its input (so its gradient is defined)",
             "an output that does not require grad (detached, or computed under no_grad)")
    scale = 1.0 if scaler is None else float(scaler.get_scale()) if scaler.is_enabled() else 1.0
    total = out.float().sum() * scale
    (grad,) = torch.autograd.grad(total, x, create_graph=True, allow_unused=True)
    if grad is None:
        fail("critic", "an output that depends on its input (so its gradient is defined)",
             "an output independent of it")
    return at_least_float32(grad) / scale if scale != 1.0 else at_least_float32(grad)


def gradient_penalty(critic: Critic, real: Tensor | None, fake: Tensor | None = None, *,
                     kind: PenaltyKind = "wgan-gp", lambda_: float = 10.0, one_sided: bool = False,
                     critic_args: Sequence[Any] = (), generator: torch.Generator | None = None,
                     scaler: Any = None, reduction: Reduction = "mean") -> Tensor:
    """A gradient penalty on ``critic`` (any callable ``critic(x, *critic_args) -> (N, *)``), per sample:

    - ``"wgan-gp"`` (Gulrajani et al.): ``λ·(‖∇D(x̂_i)‖₂ − 1)²`` at ``x̂_i = x_i + ε_i(x̃_i − x_i)``,
      ``ε_i ~ U[0, 1]`` one per sample, between real ``x`` and fake ``x̃``; λ = 10. ``one_sided=True``:
      ``λ·max(0, ‖∇D(x̂_i)‖₂ − 1)²`` (Petzka et al.'s WGAN-LP form).
    - ``"r1"`` (Mescheder et al.): ``(γ/2)·‖∇D(x_i)‖₂²`` on real samples; ``"r2"``: the same on fake ones;
      γ = 10 by default.
    - ``"dragan"`` (Kodali et al., official code): as wgan-gp with ``x̃ = x + 0.5·std(x)·u``,
      ``u ~ U[0, 1)`` elementwise (the population std over the whole batch, numpy's ``X.std()``); ``fake`` is
      not used.

    The norm is over all non-batch dimensions of sample i (not one norm over the batch, not a per-pixel norm
    over channels). The critic's outputs are summed over their non-batch dimensions (a PatchGAN's map). The
    critic must treat samples independently (no batch norm), or the per-sample gradient mixes samples.
    Random draws (in float32 whatever the samples' dtype): ``ε = torch.rand(N, 1, …, 1, generator=generator)``
    after, for DRAGAN, ``u = torch.rand(x.shape, generator=generator)``. The graph is kept
    (``create_graph=True``); inputs that require grad keep theirs, so pass ``fake.detach()`` for the critic
    step (as usual).

    ``"mean"`` divides by the number of samples N; ``"none"`` returns the (N,) per-sample penalties (times λ).

    Args:
        critic: the critic or discriminator (an ``nn.Module`` or any callable).
        real, fake: (N, *) real and generated samples (``fake`` only for wgan-gp and r2; ``real`` for all
            but r2). Conditional critics get their extra inputs from ``critic_args``.
        kind: ``"wgan-gp"``, ``"r1"``, ``"r2"`` or ``"dragan"``.
        lambda_: the penalty's scalar weight, λ (wgan-gp, dragan) or γ (r1, r2); default 10.
        one_sided: the one-sided form (wgan-gp and dragan only).
        scaler: a ``torch.amp.GradScaler`` in use (see the module docstring), or None.

    Raises:
        TypeError: a needed sample missing or non-floating, a critic returning a non-tensor. ValueError: an
        unknown kind (the valid ones are listed), a negative or non-finite ``lambda_``, one_sided with r1/r2,
        real and fake of different shapes, a critic output not of shape (N, *), a critic output that does
        not depend on the input.

    References:
        Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017, arXiv 1704.00028.
        Mescheder et al., "Which Training Methods for GANs do actually Converge?", ICML 2018, arXiv 1801.04406.
        Kodali et al., "On Convergence and Stability of GANs", arXiv 1705.07215. Petzka et al., "On the
        regularization of Wasserstein GANs", ICLR 2018, arXiv 1709.08894.

    Example:
        >>> critic = lambda x: 3.0 * x.sum(dim=1)  # ‖∇‖ = 3·sqrt(2) per sample
        >>> round(float(gradient_penalty(critic, torch.zeros(4, 2), kind="r1", lambda_=1.0)), 4)  # ½·18
        9.0
    """
    return _penalty(critic, real, fake, critic_args, generator, scaler, PenaltyOptions.pick(locals()))


def _penalty(critic: Critic, real: Tensor | None, fake: Tensor | None, critic_args: Sequence[Any],
             generator: torch.Generator | None, scaler: Any, options: PenaltyOptions) -> Tensor:
    if not callable(critic):
        fail("critic", "a callable (an nn.Module or a function)", type(critic).__name__, exc=TypeError)
    kind, lambda_ = options.kind, options.lambda_
    x = _points(kind, real, fake, check_generator(generator))
    grad = _input_gradient(critic, x, critic_args, scaler)
    if kind in ("r1", "r2"):
        values = 0.5 * lambda_ * grad.flatten(1).square().sum(dim=1)
    else:
        gap = torch.linalg.vector_norm(grad.flatten(1), dim=1) - 1.0
        values = lambda_ * (gap.clamp_min(0.0) if options.one_sided else gap).square()
    given = {"real": real, "fake": fake}
    return nan_if_nonfinite(reduce(values, options.reduction), *(given[n] for n in SAMPLES_USED[kind])).to(x.dtype)


class GradientPenalty(OptionsLoss[PenaltyOptions], function=gradient_penalty):
    """A gradient penalty with its kind, ``lambda_`` and reduction fixed; see :func:`gradient_penalty`.

    ``GradientPenalty(kind="wgan-gp", *, lambda_=10.0, one_sided=False, reduction="mean")`` (``kind`` may be
    given by position), called as ``penalty(critic, real, fake=None, *critic_args, generator=None,
    scaler=None)``.

    Example:
        >>> penalty = GradientPenalty("r1", lambda_=1.0)
        >>> round(float(penalty(lambda x: 3.0 * x.sum(dim=1), torch.zeros(4, 2))), 4)
        9.0
    """

    Options = PenaltyOptions

    def __init__(self, kind: PenaltyKind = "wgan-gp", **options: Any) -> None:
        super().__init__(kind=kind, **options)

    def forward(self, critic: Critic, real: Tensor | None, fake: Tensor | None = None, *critic_args: Any,
                generator: torch.Generator | None = None, scaler: Any = None) -> Tensor:
        return _penalty(critic, real, fake, critic_args, generator, scaler, self.current_options())
