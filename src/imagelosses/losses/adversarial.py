"""GAN objectives from raw discriminator logits / critic scores (the training helpers, weight clipping and the
critic schedule, are in :mod:`imagelosses.losses.gan_training`).

Conventions shared by every loss in this file:

- ``real`` and ``fake`` are the discriminator's raw outputs (logits for ``"minimax"``, ``"nonsaturating"``;
  scores for ``"lsgan"``, ``"wgan"``, ``"hinge"``) on real and generated samples: tensors of shape (N, *) and
  (M, *) with the same shape beyond the batch dimension (a PatchGAN's (N, 1, 30, 30) maps, or (N,) / (N, 1)).
  Probabilities never appear: every log-sigmoid is a ``softplus`` (``log σ(s) = −softplus(−s)``,
  ``log(1 − σ(s)) = −softplus(s)``), so logits of ±1e4 give finite values and gradients.
- A multi-scale discriminator (pix2pixHD) gives a list of outputs, one per scale; pass lists of the same
  length for ``real`` and ``fake``. The loss is the mean over scales of the per-scale loss.
- ``reduction="mean"`` is the paper's sum of expectations: the mean of the real terms plus the mean of the
  fake terms (each over its own elements, so real and fake batches may differ in size); ``"sum"`` adds up
  every term; ``"none"`` returns the real terms and the fake terms concatenated along the batch dimension,
  shape (N + M, *) (the fake terms alone, (M, *), for a generator loss without ``real``). With lists,
  ``"none"`` is refused (the scales have different shapes).
- Half-precision scores are computed in float32; the result keeps their dtype.
- Options: one checked :class:`GANOptions` object (the kind, LSGAN's codings ``fake_label``, ``real_label``,
  ``generator_target`` — Mao et al.'s a, b, c —, the label smoothing, the reduction), shared by the functions
  and the module :class:`GANLoss`; ``.discriminator(real, fake)`` and ``.generator(fake, real=None)``;
  calling the module is ``.discriminator``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .._core.checks import check_prediction, fail, fmt_shape
from .._core.dtypes import at_least_float32, nan_if_nonfinite
from .._core.module import OptionsLoss
from .._core.options import Options, number
from .._core.reduction import Reduction

__all__ = [
    "GAN_KINDS",
    "LSGAN_CODINGS",
    "GANKind",
    "GANLoss",
    "GANOptions",
    "GeneratorOptions",
    "LSGANCoding",
    "Scores",
    "discriminator_loss",
    "generator_loss",
]

GANKind = Literal["minimax", "nonsaturating", "lsgan", "wgan", "hinge"]
GAN_KINDS: tuple[str, ...] = ("minimax", "nonsaturating", "lsgan", "wgan", "hinge")


class LSGANCoding(NamedTuple):
    """Mao et al.'s targets ``(a, b, c)``: ``fake_label`` a and ``real_label`` b of the discriminator, and the
    value c the generator wants the discriminator to give its samples (``generator_target``)."""

    fake_label: float
    real_label: float
    generator_target: float


#: Mao et al.'s two codings: the χ² one (b − c = 1, b − a = 2) and the 0-1 one of their experiments (the default).
LSGAN_CODINGS: dict[str, LSGANCoding] = {"chi2": LSGANCoding(-1.0, 1.0, 0.0), "binary": LSGANCoding(0.0, 1.0, 1.0)}
Scores = Tensor | Sequence[Tensor]
_LABELLED = ("minimax", "nonsaturating", "lsgan")
_REAL_TERM = ("minimax", "lsgan", "wgan")  # kinds whose generator objective has a (constant) real-data term


@dataclass(frozen=True)
class GeneratorOptions(Options):
    """The options of :func:`generator_loss`: the kind, LSGAN's codings (Mao et al.'s a = ``fake_label``,
    b = ``real_label``, c = ``generator_target``; ignored by the other kinds), the reduction and
    ``check_finite``."""

    kind: GANKind = "nonsaturating"
    fake_label: float = number(0.0)
    real_label: float = number(1.0)
    generator_target: float = number(1.0)
    reduction: Reduction = "mean"
    check_finite: bool = False

    def validate(self) -> None:
        if self.kind == "lsgan" and self.fake_label == self.real_label:
            fail("real_label", f"a real-data target different from fake_label = {self.fake_label:g}",
                 repr(self.real_label))


@dataclass(frozen=True)
class GANOptions(GeneratorOptions):
    """The options of :func:`discriminator_loss` and :class:`GANLoss`: those of :class:`GeneratorOptions` and
    the one-sided label smoothing α ∈ [0, 1) of the real target (labelled kinds only)."""

    label_smoothing: float = number(0.0, low=0.0, high=1.0, high_inclusive=False)

    def validate(self) -> None:
        super().validate()
        if self.label_smoothing and self.kind not in _LABELLED:
            fail("label_smoothing", f"0 for kind {self.kind!r} (it has no labels to smooth)",
                 repr(self.label_smoothing))


def _check_scores(x: Tensor, name: str, check_finite: bool) -> Tensor:
    return check_prediction(x, check_finite, name=name, ndims=range(1, 8), layout="(N, *)")


def _pair(real: Scores | None, fake: Scores, reduction: str) -> list[tuple[Tensor | None, Tensor]]:
    """Pair the scales of ``real`` and ``fake`` (one pair for plain tensors), checking their structure."""
    if isinstance(fake, Tensor):
        if real is not None and not isinstance(real, Tensor):
            fail("fake", f"a list of {len(real)} discriminator outputs matching real", "a tensor")
        return [(real, fake)]
    if not isinstance(fake, (list, tuple)):
        fail("fake", "a tensor or a list of tensors (one per scale)", type(fake).__name__, exc=TypeError)
    if len(fake) == 0:
        fail("fake", "at least one scale output", "an empty list")
    if real is not None:
        if isinstance(real, Tensor):
            fail("fake", "a tensor matching real", f"a list of {len(fake)} outputs")
        if len(real) != len(fake):
            fail("fake", f"{len(real)} scale outputs matching real", len(fake))
    if reduction == "none":
        fail("reduction", "'mean' or 'sum' for a multi-scale list (its scales have different shapes)", "'none'")
    reals: Sequence[Tensor | None] = [None] * len(fake) if real is None else real
    return list(zip(reals, fake, strict=True))


def _check_pair(real: Tensor | None, fake: Tensor, scale: int | None, check_finite: bool) -> None:
    tag = "" if scale is None else f"[{scale}]"
    _check_scores(fake, f"fake{tag}", check_finite)
    if real is not None:
        _check_scores(real, f"real{tag}", check_finite)
        if real.shape[1:] != fake.shape[1:]:
            fail(f"fake{tag}", f"shape (M, {', '.join(str(s) for s in real.shape[1:])}) matching real{tag} "
                               f"{fmt_shape(real.shape)} beyond the batch dimension", fmt_shape(fake.shape))


def _reduce_two(real_terms: Tensor | None, fake_terms: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return fake_terms if real_terms is None else torch.cat([real_terms, fake_terms])
    if reduction == "sum":
        return fake_terms.sum() if real_terms is None else real_terms.sum() + fake_terms.sum()
    return fake_terms.mean() if real_terms is None else real_terms.mean() + fake_terms.mean()


def _over_scales(real: Scores | None, fake: Scores, side: Side, options: GeneratorOptions) -> Tensor:
    pairs = _pair(real, fake, options.reduction)
    many = not isinstance(fake, Tensor)
    losses = []
    for i, (r, f) in enumerate(pairs):
        _check_pair(r, f, i if many else None, options.check_finite)
        rt, ft = objective_terms(side, None if r is None else at_least_float32(r), at_least_float32(f), options)
        losses.append(nan_if_nonfinite(_reduce_two(rt, ft, options.reduction), r, f).to(f.dtype))
    return losses[0] if len(losses) == 1 else torch.stack([x.float() for x in losses]).mean().to(losses[0].dtype)


Side = Literal["discriminator", "generator"]


def objective_terms(side: Side, real: Tensor | None, fake: Tensor, options: GeneratorOptions
                    ) -> tuple[Tensor | None, Tensor]:
    """The per-element real and fake terms of one side of a GAN objective (the caller reduces them)."""
    kind, r, f = options.kind, real, fake
    smoothing = options.label_smoothing if isinstance(options, GANOptions) else 0.0
    if side == "discriminator":
        if r is None:
            fail("real", "a tensor (the discriminator's loss needs real scores)", "None", exc=TypeError)
        if kind in ("minimax", "nonsaturating"):  # BCE with target 1 − α on real, 0 on fake
            t = 1.0 - smoothing
            return t * F.softplus(-r) + (1.0 - t) * F.softplus(r), F.softplus(f)
        if kind == "lsgan":
            real_label = (1.0 - smoothing) * options.real_label + smoothing * options.fake_label
            return 0.5 * (r - real_label).square(), 0.5 * (f - options.fake_label).square()
        if kind == "wgan":
            return -r, f
        return F.relu(1.0 - r), F.relu(1.0 + f)
    if r is not None and kind not in _REAL_TERM:
        fail("real", f"None for kind {kind!r} (its generator loss has no real-data term)", "a tensor")
    if kind == "minimax":  # minimise E log(1 − σ(s)); with real: the game's value V(D, G)
        return (None if r is None else -F.softplus(-r)), -F.softplus(f)
    if kind == "nonsaturating":
        return None, F.softplus(-f)
    if kind == "lsgan":
        c = options.generator_target
        return (None if r is None else 0.5 * (r - c).square()), 0.5 * (f - c).square()
    if kind == "wgan":  # with real: the critic's estimate E f(x) − E f(G(z)) of W
        return r, -f
    return None, -f


def discriminator_loss(real: Scores, fake: Scores, *, kind: GANKind = "nonsaturating", fake_label: float = 0.0,
                       real_label: float = 1.0, generator_target: float = 1.0, label_smoothing: float = 0.0,
                       reduction: Reduction = "mean", check_finite: bool = False) -> Tensor:
    """The discriminator's (critic's) loss of a GAN objective, from raw scores ``r = D(x)``, ``s = D(G(z))``.

    Per element (real terms, fake terms):

    - ``"minimax"`` and ``"nonsaturating"`` (the same discriminator, Goodfellow et al.):
      ``−log σ(r) = softplus(−r)`` and ``−log(1 − σ(s)) = softplus(s)``; with one-sided label smoothing α
      (Salimans et al.) the real target is ``1 − α``: ``(1 − α)·softplus(−r) + α·softplus(r)``.
      Its minimiser is ``D* = p_d/(p_d + p_g)``; zero logits give ``2 ln 2``.
    - ``"lsgan"`` (Mao et al.): ``½(r − b)²`` and ``½(s − a)²`` with ``a = fake_label``, ``b = real_label``
      (smoothing moves b to ``(1 − α)b + αa``).
    - ``"wgan"`` (Arjovsky et al.): ``−r`` and ``s`` (the critic maximises ``E f(x) − E f(G(z))``).
    - ``"hinge"`` (Lim & Ye; Miyato et al.): ``relu(1 − r)`` and ``relu(1 + s)``.

    ``"mean"`` is the mean of the real terms plus the mean of the fake terms (two expectations); ``"sum"``
    the sum of all terms; ``"none"`` the real then the fake terms, concatenated along the batch, (N + M, *).
    For lists (multi-scale discriminators) the loss is the mean over scales.

    Args:
        real: D's raw outputs on real data, (N, *), or a list of them, one per scale.
        fake: D's raw outputs on generated data, (M, *) (same shape beyond the batch), or a list.
        kind: ``"minimax"``, ``"nonsaturating"``, ``"lsgan"``, ``"wgan"`` or ``"hinge"``.
        fake_label, real_label, generator_target: LSGAN's targets (Mao et al.'s a, b, c): the discriminator's
            for fake and for real data, and the generator's (``LSGAN_CODINGS``: the 0-1 coding (0, 1, 1), the
            default, and the χ² coding (−1, 1, 0)); ignored by the other kinds.
        label_smoothing: one-sided smoothing α ∈ [0, 1) of the real target (labelled kinds only).

    Raises:
        TypeError: non-floating scores. ValueError: unknown kind (the valid ones are listed), real and fake of
        mismatched structure (a list against a tensor, different scale counts, shapes beyond the batch),
        ``fake_label == real_label`` for LSGAN, smoothing outside [0, 1) or with an unlabelled kind, "none" with lists.

    References:
        Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, arXiv 1406.2661. Mao et al., "Least
        Squares GANs", ICCV 2017, arXiv 1611.04076. Arjovsky et al., "Wasserstein GAN", ICML 2017, arXiv
        1701.07875. Lim & Ye, "Geometric GAN", arXiv 1705.02894. Salimans et al., "Improved Techniques for
        Training GANs", NeurIPS 2016, arXiv 1606.03498.

    Example:
        >>> round(float(discriminator_loss(torch.zeros(4, 1), torch.zeros(4, 1))), 6)  # 2 ln 2
        1.386294
    """
    options = GANOptions.pick(locals())
    return _discriminator(real, fake, options)


def _discriminator(real: Scores, fake: Scores, options: GANOptions) -> Tensor:
    if real is None:
        fail("real", "a tensor or a list of tensors (one per scale)", "None", exc=TypeError)
    return _over_scales(real, fake, "discriminator", options)


def generator_loss(fake: Scores, *, kind: GANKind = "nonsaturating", real: Scores | None = None,
                   fake_label: float = 0.0, real_label: float = 1.0, generator_target: float = 1.0,
                   reduction: Reduction = "mean", check_finite: bool = False) -> Tensor:
    """The generator's loss of a GAN objective, from the raw scores ``s = D(G(z))`` of its samples.

    Per element of ``fake``:

    - ``"minimax"`` (saturating, Goodfellow's game): ``log(1 − σ(s)) = −softplus(s)``, gradient ``−σ(s)``,
      which vanishes when D rejects the fakes (``−4.54e-5`` at ``s = −10``);
    - ``"nonsaturating"``: ``−log σ(s) = softplus(−s)``, gradient ``−(1 − σ(s))`` (``≈ −1`` at ``s = −10``);
    - ``"lsgan"``: ``½(s − c)²`` with ``c = generator_target`` (gradient ``s − c``: 9 at ``s = 10``, ``c = 1``);
    - ``"wgan"`` and ``"hinge"``: ``−s``.

    ``real`` (optional, for ``"minimax"``, ``"lsgan"`` and ``"wgan"`` only) adds the real-data terms of the
    published objective, which do not depend on G (same gradient for G): ``log σ(r)`` (the value
    ``V(D, G)``; at ``D*`` it is ``−log 4 + 2·JSD``), ``½(r − c)²`` (LSGAN's ``C(G)``; with ``b − c = 1`` and
    ``b − a = 2``, ``2C(G)`` at ``D*`` is Pearson ``χ²(p_d + p_g ‖ 2p_g)``) and ``r`` (the critic's estimate
    ``E f(x) − E f(G(z))`` of W). Reductions as :func:`discriminator_loss` ("mean" divides each part by its
    own element count; "none" gives (M, *) without ``real``).

    Raises:
        ValueError: as :func:`discriminator_loss`; ``real`` with a kind that has no real-data term.

    References:
        See :func:`discriminator_loss`.

    Example:
        >>> s = torch.full((1,), -10.0, requires_grad=True)
        >>> generator_loss(s, kind="minimax").backward(); f"{float(s.grad):.3g}"
        '-4.54e-05'
    """
    return _over_scales(real, fake, "generator", GeneratorOptions.pick(locals()))


class GANLoss(OptionsLoss[GANOptions], function=(discriminator_loss, generator_loss)):
    """A GAN objective: ``.discriminator(real, fake)`` and ``.generator(fake, real=None)``; calling the module
    is ``.discriminator``. ``GANLoss(kind="nonsaturating", *, fake_label=0.0, real_label=1.0,
    generator_target=1.0, reduction="mean", check_finite=False, label_smoothing=0.0)`` (:class:`GANOptions`;
    ``kind`` may be given by position). See :func:`discriminator_loss` and :func:`generator_loss` for the math
    and what "mean" divides by; the generator side ignores ``label_smoothing``.

    Example:
        >>> loss = GANLoss("lsgan", **LSGAN_CODINGS["chi2"]._asdict())  # a = −1, b = 1, c = 0
        >>> float(loss.discriminator(torch.ones(2), -torch.ones(2))), float(loss.generator(torch.zeros(2)))
        (0.0, 0.0)
    """

    Options = GANOptions

    def __init__(self, kind: GANKind = "nonsaturating", **options: Any) -> None:
        super().__init__(kind=kind, **options)

    def discriminator(self, real: Scores, fake: Scores) -> Tensor:
        return _discriminator(real, fake, self.current_options())

    def generator(self, fake: Scores, real: Scores | None = None) -> Tensor:
        return _over_scales(real, fake, "generator", self.current_options())

    def forward(self, real: Scores, fake: Scores) -> Tensor:
        return self.discriminator(real, fake)
