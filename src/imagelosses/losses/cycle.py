"""CycleGAN's terms for unpaired translation: cycle consistency, identity, and the history pool of fakes.

Conventions:

- For the two generators ``G: A → B`` and ``F: B → A``, the cycle term of one direction is
  :func:`cycle_consistency_loss` ``(F(G(a)), a)``; the full term adds the other direction ``(G(F(b)), b)``,
  each with λ = 10 (the official code's ``lambda_A = lambda_B = 10``). The identity term is
  :func:`identity_loss` ``(G(b), b)`` (and ``(F(a), a)``) with weight ``0.5·λ = 5``.
- ``input`` is the generator's output, ``target`` the image it must equal; both (N, C, *), one shape.
  ``reduction="mean"`` divides by the number of elements (``nn.L1Loss``'s mean, as the official code).
- Half-precision images are computed in float32; the result keeps the input's dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .._core.checks import check_floating, check_generator, check_int, check_prediction, fail, fmt_shape
from .._core.dtypes import at_least_float32
from .._core.module import OptionsLoss
from .._core.options import Options, number
from .._core.reduction import Reduction
from .regression import RegressionOptions, regression_loss

__all__ = ["CycleConsistencyLoss", "CycleOptions", "IdentityLoss", "IdentityOptions", "ImagePool",
           "cycle_consistency_loss", "identity_loss"]


@dataclass(frozen=True)
class CycleOptions(Options):
    """The options of :func:`cycle_consistency_loss`: λ (``lambda_``, 10 in the paper), the reduction and
    ``check_finite``."""

    lambda_: float = number(10.0, low=0.0)
    reduction: Reduction = "mean"
    check_finite: bool = False


@dataclass(frozen=True)
class IdentityOptions(CycleOptions):
    """The options of :func:`identity_loss`: as :class:`CycleOptions`, with ``λ_idt = 0.5·λ = 5``."""

    lambda_: float = number(5.0, low=0.0)


def _weighted_l1(input: Tensor, target: Tensor, options: CycleOptions) -> Tensor:
    check_floating(input, "input")
    check_floating(target, "target")
    l1 = RegressionOptions(reduction=options.reduction, weighted_mean="count", check_finite=options.check_finite)
    values = regression_loss("l1", at_least_float32(input), at_least_float32(target), None, l1)
    return (options.lambda_ * values).to(input.dtype)


def cycle_consistency_loss(input: Tensor, target: Tensor, *, lambda_: float = 10.0, reduction: Reduction = "mean",
                           check_finite: bool = False) -> Tensor:
    """Cycle-consistency of one direction: ``l = λ·|F(G(a)) − a|`` per element, λ = 10.

    ``input`` is the reconstruction ``F(G(a))``, ``target`` the original ``a``; add the other direction
    ``cycle_consistency_loss(G(F(b)), b)`` for CycleGAN's full term. ``"mean"`` divides by the number of
    elements.

    Args:
        input, target: the reconstruction and the original, (N, C, *) floating, one shape.
        lambda_: λ ≥ 0, the term's weight (the paper's λ; 10).
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        check_finite: raise on NaN/inf images instead of returning NaN.

    Shape:
        input, target: (N, C, *) of one shape; output (N, C, *) for "none".

    Raises:
        TypeError: non-floating images, an option of the wrong type. ValueError: images of different shapes,
        an empty batch, a negative or non-finite ``lambda_``, NaN when ``check_finite``.

    References:
        Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks", ICCV 2017,
        arXiv 1703.10593 (Eq. 2; λ = 10).

    Example:
        >>> float(cycle_consistency_loss(torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.5)))
        5.0
    """
    return _weighted_l1(input, target, CycleOptions.pick(locals()))


def identity_loss(input: Tensor, target: Tensor, *, lambda_: float = 5.0, reduction: Reduction = "mean",
                  check_finite: bool = False) -> Tensor:
    """CycleGAN's identity term: ``l = λ_idt·|G(b) − b|`` per element with ``λ_idt = 0.5·λ = 5``.

    ``input`` is ``G(b)`` (the A → B generator applied to a B image), ``target`` is ``b``. Reductions and
    shapes as :func:`cycle_consistency_loss`.

    Args:
        input, target: ``G(b)`` and ``b``, (N, C, *) floating, one shape.
        lambda_: λ_idt ≥ 0, the term's weight (5: half the cycle term's λ = 10).
        reduction, check_finite: as :func:`cycle_consistency_loss`.

    Raises:
        TypeError: non-floating images, an option of the wrong type. ValueError: images of different shapes,
        an empty batch, a negative or non-finite ``lambda_``, NaN when ``check_finite``.

    References:
        Zhu et al. 2017, arXiv 1703.10593 (Section 5.2; Taigman et al. 2017, arXiv 1611.02200).

    Example:
        >>> float(identity_loss(torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)))
        5.0
    """
    return _weighted_l1(input, target, IdentityOptions.pick(locals()))


class CycleConsistencyLoss(OptionsLoss[CycleOptions], function=cycle_consistency_loss):
    """Cycle-consistency L1 of one direction, ``λ·|F(G(a)) − a|``, as a module.

    ``CycleConsistencyLoss(lambda_=10.0, reduction="mean", check_finite=False)``, called as
    ``loss(reconstruction, original)``; see :func:`cycle_consistency_loss`.

    Example:
        >>> CycleConsistencyLoss(lambda_=2.0)(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2))
        tensor(2.)
    """

    Options = CycleOptions

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return _weighted_l1(input, target, self.current_options())


class IdentityLoss(OptionsLoss[IdentityOptions], function=identity_loss):
    """CycleGAN's identity L1, ``λ_idt·|G(b) − b|`` (λ_idt = 5), as a module.

    ``IdentityLoss(lambda_=5.0, reduction="mean", check_finite=False)``, called as ``loss(G(b), b)``; see
    :func:`identity_loss`.

    Example:
        >>> IdentityLoss()(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2))
        tensor(5.)
    """

    Options = IdentityOptions

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return _weighted_l1(input, target, self.current_options())


class ImagePool:
    """The history of generated images CycleGAN feeds its discriminators (Shrivastava et al.'s buffer).

    ``pool(images)`` (or ``pool.query(images)``) takes a batch (N, *) and returns a batch of the same shape,
    image by image in order: while the pool holds fewer than ``size`` images the image is stored and
    returned; once full, with probability ½ a uniformly chosen stored image is returned and the new one
    takes its place, otherwise the new image is returned. ``size=0`` returns the batch unchanged. Stored and
    returned images are detached (the pool is for the discriminator's step).

    Random draws (reproducible with a seeded ``generator``): for each image once the pool is full,
    ``u = torch.rand(1, generator=generator)``; if ``u > 0.5``, ``i = torch.randint(size, (1,),
    generator=generator)``.

    Args:
        size: how many images the pool holds (50 in CycleGAN); 0 returns every batch unchanged.
        generator: an optional CPU ``torch.Generator``, for reproducible draws.

    Raises:
        TypeError: ``size`` not an integer, non-floating images. ValueError: negative ``size``; an image whose
        shape differs from the stored ones.

    References:
        Zhu et al. 2017, arXiv 1703.10593 (Section 4, pool of 50). Shrivastava et al., "Learning from Simulated
        and Unsupervised Images through Adversarial Training", CVPR 2017, arXiv 1612.07828.

    Example:
        >>> pool = ImagePool(2, generator=torch.Generator().manual_seed(0))
        >>> pool(torch.zeros(2, 1)).shape, len(pool)
        (torch.Size([2, 1]), 2)
    """

    def __init__(self, size: int = 50, generator: torch.Generator | None = None) -> None:
        self.size = check_int(size, "size", low=0)
        self.generator = check_generator(generator)
        self.images: list[Tensor] = []

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return f"ImagePool(size={self.size}, stored={len(self.images)})"

    def __call__(self, images: Tensor) -> Tensor:
        return self.query(images)

    def query(self, images: Tensor) -> Tensor:
        check_prediction(images, False, name="images", ndims=range(1, 8), layout="(N, *)")
        if self.size == 0:
            return images.detach()
        if self.images and images.shape[1:] != self.images[0].shape:
            fail("images", f"shape (N, {', '.join(str(s) for s in self.images[0].shape)}) like the stored images",
                 fmt_shape(images.shape))
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif float(torch.rand(1, generator=self.generator)) > 0.5:
                i = int(torch.randint(self.size, (1,), generator=self.generator))
                out.append(self.images[i])
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)
