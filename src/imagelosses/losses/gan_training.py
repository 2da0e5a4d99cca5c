"""Helpers for training GANs that are not losses: WGAN's weight clipping and its critic schedule.

The GAN objectives are in :mod:`imagelosses.losses.adversarial`, the gradient penalties in
:mod:`imagelosses.losses.penalties`; CycleGAN's history pool of fakes is
:class:`imagelosses.losses.cycle.ImagePool`.
"""

from __future__ import annotations

import torch
from torch import nn

from .._core.checks import check_int, check_number, fail

__all__ = ["clip_weights_", "wgan_critic_iterations"]


@torch.no_grad()
def clip_weights_(module: nn.Module, c: float = 0.01) -> nn.Module:
    """Clamp every parameter of ``module`` to ``[−c, c]`` in place (WGAN's Lipschitz constraint, c = 0.01);
    returns ``module``. Call it after each critic update.

    Raises:
        TypeError: ``module`` is not an ``nn.Module``. ValueError: ``c`` not a finite number > 0.

    References:
        Arjovsky et al., "Wasserstein GAN", ICML 2017, arXiv 1701.07875 (Algorithm 1).
    """
    if not isinstance(module, nn.Module):
        fail("module", "a torch.nn.Module", type(module).__name__, exc=TypeError)
    c = check_number(c, "c", low=0.0, low_inclusive=False)
    for p in module.parameters():
        p.clamp_(-c, c)
    return module


def wgan_critic_iterations(generator_step: int, *, n_critic: int = 5, warmup_steps: int = 25,
                           warmup_iterations: int = 100, every: int = 500) -> int:
    """How many critic updates precede generator update number ``generator_step`` (counted from 0), as in
    the official WGAN code: ``warmup_iterations`` (100) for the first ``warmup_steps`` (25) generator steps
    and for every ``every``-th (500th) one, ``n_critic`` (5) otherwise.

    Example:
        >>> [wgan_critic_iterations(s) for s in (0, 24, 25, 500, 501)]
        [100, 100, 5, 100, 5]
    """
    step = check_int(generator_step, "generator_step", low=0)
    n = check_int(n_critic, "n_critic", low=1)
    warm = check_int(warmup_steps, "warmup_steps", low=0)
    many = check_int(warmup_iterations, "warmup_iterations", low=1)
    period = check_int(every, "every", low=1)
    return many if step < warm or step % period == 0 else n
