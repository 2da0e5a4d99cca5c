"""GAN objectives, gradient penalties and WGAN helpers: the standard harness, closed forms of the papers
(D*, V(D*, G), χ², saturation gradients), Dirac-GAN, the parallel-lines WGAN-GP critic, per-sample loops,
MONAI's PatchAdversarialLoss as a peer, extreme logits and autocast.

The gradient penalties are not in the harness: they call ``torch.autograd.grad`` inside, which
``torch.compile(fullgraph=True)`` does not trace; they get their own tests below (loops, closed forms,
gradcheck of the double backward, errors, autocast, GradScaler)."""

from __future__ import annotations

import inspect
import itertools
import math
from typing import ClassVar

import pytest
import torch
import torch.nn.functional as F
from monai.losses import PatchAdversarialLoss

from imagelosses.losses.adversarial import (
    GAN_KINDS,
    LSGAN_CODINGS,
    GANLoss,
    discriminator_loss,
    generator_loss,
)
from imagelosses.losses.gan_training import clip_weights_, wgan_critic_iterations
from imagelosses.losses.penalties import GradientPenalty, gradient_penalty
from tests._harness import BadInput, BadOption, LossCase, StandardLossTests

N = 3
SHAPE = (1, 2, 2)


def scores(dtype: torch.dtype, seed: int, scale: float):
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(N, *SHAPE, generator=g, dtype=torch.float64) * scale + 0.3
    fake = torch.randn(N, *SHAPE, generator=g, dtype=torch.float64) * scale - 0.3
    return real.to(dtype), fake.to(dtype)


def _two_means(none, inputs):
    n = inputs[0].shape[0]
    return none[:n].mean() + none[n:].mean()


KIND_MSG = "kind: expected one of 'minimax', 'nonsaturating', 'lsgan', 'wgan', 'hinge', got 'wgan-gp'"
D_BAD = [
    BadInput("list against tensor", lambda a: (([a[0], a[0]], a[1]), {}), ValueError,
             "fake: expected a list of 2 discriminator outputs matching real, got a tensor"),
    BadInput("scale counts", lambda a: (([a[0], a[0]], [a[1]]), {}), ValueError,
             "fake: expected 2 scale outputs matching real, got 1"),
    BadInput("tensor against list", lambda a: ((a[0], [a[1]]), {}), ValueError,
             "fake: expected a tensor matching real, got a list of 1 outputs"),
    BadInput("shape beyond batch", lambda a: ((a[0], a[1][:, :, :1]), {}), ValueError,
             "fake: expected shape (M, 1, 2, 2) matching real (3, 1, 2, 2) beyond the batch dimension, "
             "got (3, 1, 1, 2)"),
    BadInput("scale shape", lambda a: (([a[0], a[0]], [a[1], a[1][:, :, :1]]), {}), ValueError,
             "fake[1]: expected shape (M, 1, 2, 2) matching real[1] (3, 1, 2, 2) beyond the batch dimension, "
             "got (3, 1, 1, 2)"),
    BadInput("unknown kind", lambda a: (a, {"kind": "wgan-gp"}), ValueError, KIND_MSG),
    BadInput("integer scores", lambda a: ((a[0].long(), a[1]), {}), TypeError,
             "real: expected a floating-point tensor, got dtype torch.int64"),
    BadInput("empty", lambda a: ((a[0], a[1][:0]), {}), ValueError,
             "fake: expected a non-empty tensor, got shape (0, 1, 2, 2)"),
    BadInput("none with lists", lambda a: (([a[0]], [a[1]]), {"reduction": "none"}), ValueError,
             "reduction: expected 'mean' or 'sum' for a multi-scale list (its scales have different shapes), "
             "got 'none'"),
    BadInput("nan", lambda a: ((a[0] * float("nan"), a[1]), {"check_finite": True}), ValueError,
             "real: expected finite values, got 12 NaN or infinite entries"),
]
G_REAL_BAD = [
    BadInput("list against tensor", lambda a: ((a[0], [a[1], a[1]]), {}), ValueError,
             "fake: expected a list of 2 discriminator outputs matching real, got a tensor"),
    BadInput("shape beyond batch", lambda a: ((a[0][:, :, :1], a[1]), {}), ValueError,
             "fake: expected shape (M, 1, 2, 2) matching real (3, 1, 2, 2) beyond the batch dimension, "
             "got (3, 1, 1, 2)"),
    BadInput("integer real", lambda a: ((a[0], a[1].int()), {}), TypeError,
             "real: expected a floating-point tensor, got dtype torch.int32"),
]
G_BAD = [
    BadInput("unknown kind", lambda a: (a, {"kind": "wgan-gp"}), ValueError, KIND_MSG),
    BadInput("integer", lambda a: ((a[0].long(),), {}), TypeError,
             "fake: expected a floating-point tensor, got dtype torch.int64"),
    BadInput("scalar", lambda a: ((a[0][0, 0, 0, 0],), {}), ValueError,
             "fake: expected a tensor of shape (N, *), got shape ()"),
    BadInput("real without real term", lambda a: (a, {"kind": "hinge", "real": a[0]}), ValueError,
             "real: expected None for kind 'hinge' (its generator loss has no real-data term), got a tensor"),
]
OPT_BAD = [
    BadOption("unknown kind", {"kind": "wgan-gp"}, ValueError, KIND_MSG),
    BadOption("smoothing 1", {"label_smoothing": 1.0}, ValueError,
              "label_smoothing: expected a finite number >= 0.0 and < 1.0, got 1.0"),
    BadOption("smoothing wgan", {"kind": "wgan", "label_smoothing": 0.1}, ValueError,
              "label_smoothing: expected 0 for kind 'wgan' (it has no labels to smooth), got 0.1"),
    BadOption("lsgan a == b", {"kind": "lsgan", "fake_label": 1.0, "real_label": 1.0}, ValueError,
              "real_label: expected a real-data target different from fake_label = 1, got 1.0"),
    BadOption("nan c", {"generator_target": float("nan")}, ValueError,
              "generator_target: expected a finite number, got nan"),
]


class _GeneratorSide(GANLoss):
    """The module's generator side as a callable module, for the harness (``loss(fake)``)."""

    def forward(self, fake, real=None):  # type: ignore[override]
        return self.generator(fake, real)


def _generator_with_real(fake, real, **kwargs):
    return generator_loss(fake, real=real, **kwargs)


_generator_with_real.__signature__ = inspect.signature(generator_loss).replace(  # type: ignore[attr-defined]
    parameters=[inspect.Parameter("fake", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                inspect.Parameter("real", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                *(p for p in inspect.signature(generator_loss).parameters.values() if p.name not in ("fake", "real"))])


DISC_KWARGS = {"minimax": {"label_smoothing": 0.1}, "nonsaturating": {}, "lsgan": {**LSGAN_CODINGS["chi2"]._asdict()},
               "wgan": {}, "hinge": {}}


def _disc_case(kind: str) -> LossCase:
    return LossCase(name=f"d_{kind}", functional=discriminator_loss, module=GANLoss,
                    make_inputs=scores, kwargs={"kind": kind, **DISC_KWARGS[kind]}, grad_argnums=(0, 1),
                    none_shape=lambda a: (2 * N, *SHAPE), mean_of=_two_means, nonnegative=kind != "wgan",
                    bad_inputs=D_BAD, bad_options=OPT_BAD)


def _gen_case(kind: str) -> LossCase:
    return LossCase(name=f"g_{kind}", functional=generator_loss, module=_GeneratorSide,
                    make_inputs=lambda d, s, sc: scores(d, s, sc)[1:], kwargs={"kind": kind},
                    none_shape=lambda a: (N, *SHAPE), nonnegative=kind in ("nonsaturating", "lsgan"),
                    batch_args=(0,), bad_inputs=G_BAD, bad_options=OPT_BAD,
                    module_only_options=("label_smoothing",))  # GANLoss's discriminator side


def _gen_real_case(kind: str) -> LossCase:
    return LossCase(name=f"g_{kind}_with_real", functional=_generator_with_real, module=_GeneratorSide,
                    make_inputs=lambda d, s, sc: scores(d, s, sc)[::-1], kwargs={"kind": kind},
                    grad_argnums=(0, 1), none_shape=lambda a: (2 * N, *SHAPE), nonnegative=kind == "lsgan",
                    mean_of=lambda none, a: none[:N].mean() + none[N:].mean(), bad_inputs=G_REAL_BAD,
                    bad_options=OPT_BAD, module_only_options=("label_smoothing",))


class TestGANHarness(StandardLossTests):
    cases: ClassVar[list[LossCase]] = (
        [_disc_case(k) for k in GAN_KINDS] + [_gen_case(k) for k in GAN_KINDS]
        + [_gen_real_case(k) for k in ("minimax", "lsgan", "wgan")]
    )


# ------------------------------------------------------------------------------------ closed forms
def _discrete(seed: int, k: int = 6):
    g = torch.Generator().manual_seed(seed)
    p_d = torch.rand(k, generator=g, dtype=torch.float64) + 0.05
    p_g = torch.rand(k, generator=g, dtype=torch.float64) + 0.05
    return p_d / p_d.sum(), p_g / p_g.sum()


def _expected_d_loss(s: torch.Tensor, p_d, p_g, **kwargs) -> torch.Tensor:
    """E_{p_d}[real term] + E_{p_g}[fake term] of the discriminator loss at logits s(x) on the support."""
    none = discriminator_loss(s, s, reduction="none", **kwargs)
    return (none[: len(s)] * p_d).sum() + (none[len(s):] * p_g).sum()


@pytest.mark.training
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_optimal_discriminator_minimises_the_loss(seed):
    p_d, p_g = _discrete(seed)
    d_star = p_d / (p_d + p_g)
    s_star = torch.logit(d_star)
    best = _expected_d_loss(s_star, p_d, p_g, kind="minimax")
    s = s_star.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(_expected_d_loss(s, p_d, p_g, kind="minimax"), s)
    assert grad.abs().max() < 1e-12  # stationary at D*
    g = torch.Generator().manual_seed(seed)
    for _ in range(20):
        assert _expected_d_loss(s_star + 0.3 * torch.randn(len(s), generator=g, dtype=torch.float64),
                                p_d, p_g, kind="minimax") > best
    # and the minimiser found by optimisation is D*
    s = torch.zeros(len(p_d), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([s], max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        loss = _expected_d_loss(s, p_d, p_g, kind="nonsaturating")
        loss.backward()
        return loss

    opt.step(closure)
    torch.testing.assert_close(torch.sigmoid(s.detach()), d_star, atol=1e-6, rtol=0)


@pytest.mark.parametrize("seed", [0, 3])
def test_value_at_optimal_discriminator_is_jsd(seed):
    p_d, p_g = _discrete(seed)
    s_star = torch.log(p_d / p_g)  # logit of D* = p_d / (p_d + p_g)
    none = generator_loss(s_star, real=s_star, kind="minimax", reduction="none")
    value = (none[: len(p_d)] * p_d).sum() + (none[len(p_d):] * p_g).sum()
    m = 0.5 * (p_d + p_g)
    jsd = 0.5 * (p_d * (p_d / m).log()).sum() + 0.5 * (p_g * (p_g / m).log()).sum()
    torch.testing.assert_close(value, -math.log(4) + 2 * jsd)
    # and V(D*, G) = −L_D(D*) (the discriminator's loss is the negated value)
    torch.testing.assert_close(value, -_expected_d_loss(s_star, p_d, p_g, kind="minimax"))


def test_zero_logits_give_two_ln_two():
    for kind in ("minimax", "nonsaturating"):
        out = discriminator_loss(torch.zeros(5, 1), torch.zeros(7, 1), kind=kind)
        assert abs(float(out) - 1.386294) < 1e-6 and abs(float(out) - 2 * math.log(2)) < 1e-7


def _grad_at(s: float, **kwargs) -> float:
    x = torch.tensor([s], dtype=torch.float64, requires_grad=True)
    generator_loss(x, **kwargs).backward()
    return float(x.grad)


def test_saturation_gradients():
    minimax = _grad_at(-10.0, kind="minimax")
    assert math.isclose(minimax, -4.5398e-5, rel_tol=1e-4)  # −σ(−10)
    assert math.isclose(_grad_at(-10.0, kind="nonsaturating"), -(1 - 4.5398e-5), rel_tol=1e-6)
    assert math.isclose(_grad_at(10.0, kind="lsgan", generator_target=1.0), 9.0, rel_tol=1e-12)
    assert math.isclose(_grad_at(10.0, kind="nonsaturating"), -4.5398e-5, rel_tol=1e-4)
    assert _grad_at(-3.0, kind="wgan") == -1.0 and _grad_at(5.0, kind="hinge") == -1.0


@pytest.mark.parametrize("coding", ["chi2", "binary"])
@pytest.mark.parametrize("seed", [0, 4])
def test_lsgan_optimal_discriminator_and_chi2_identity(coding, seed):
    a, b, _ = LSGAN_CODINGS[coding]  # Mao et al.'s (a, b, c): fake_label, real_label, generator_target
    coded = LSGAN_CODINGS[coding]._asdict()
    p_d, p_g = _discrete(seed)
    d_star = (b * p_d + a * p_g) / (p_d + p_g)
    s = d_star.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(_expected_d_loss(s, p_d, p_g, kind="lsgan", **coded), s)
    assert grad.abs().max() < 1e-12
    none = generator_loss(d_star, real=d_star, kind="lsgan", **coded, reduction="none")
    c_of_g = (none[: len(p_d)] * p_d).sum() + (none[len(p_d):] * p_g).sum()
    chi2 = ((2 * p_g - (p_d + p_g)) ** 2 / (p_d + p_g)).sum()
    if coding == "chi2":  # b − c = 1, b − a = 2
        torch.testing.assert_close(2 * c_of_g, chi2)
    else:
        assert not torch.isclose(2 * c_of_g, chi2)


def test_lsgan_half_factors_and_codings():
    r, f = torch.tensor([0.5, 2.0]), torch.tensor([-1.0, 0.25])
    out = discriminator_loss(r, f, kind="lsgan")  # (0, 1, 1)
    torch.testing.assert_close(out, 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean())
    torch.testing.assert_close(generator_loss(f, kind="lsgan", **LSGAN_CODINGS["chi2"]._asdict()),
                               0.5 * (f**2).mean())


def test_one_sided_label_smoothing_only_touches_real():
    r, f = scores(torch.float64, 9, 2.0)
    out = discriminator_loss(r, f, kind="nonsaturating", label_smoothing=0.1)
    ref = F.binary_cross_entropy_with_logits(r, torch.full_like(r, 0.9)) + F.binary_cross_entropy_with_logits(
        f, torch.zeros_like(f))
    torch.testing.assert_close(out, ref)
    smoothed_ls = discriminator_loss(r, f, kind="lsgan", label_smoothing=0.2)
    torch.testing.assert_close(smoothed_ls, 0.5 * ((r - 0.8) ** 2).mean() + 0.5 * (f**2).mean())


def test_matches_monai_patch_adversarial_loss():
    r, f = scores(torch.float64, 10, 1.5)
    bce = PatchAdversarialLoss(criterion="bce")
    torch.testing.assert_close(discriminator_loss(r, f, kind="minimax"),
                               bce(r, True, True) + bce(f, False, True))
    torch.testing.assert_close(generator_loss(f, kind="nonsaturating"), bce(f, True, False))
    hinge = PatchAdversarialLoss(criterion="hinge")  # MONAI squashes the scores with tanh first
    torch.testing.assert_close(discriminator_loss(r.tanh(), f.tanh(), kind="hinge"),
                               hinge(r, True, True) + hinge(f, False, True))
    ls = PatchAdversarialLoss(criterion="least_squares", no_activation_leastsq=True)
    torch.testing.assert_close(discriminator_loss(r, f, kind="lsgan"), 0.5 * (ls(r, True, True) + ls(f, False, True)))
    # multi-scale: the mean over scales, as MONAI's "mean"
    r2, f2 = scores(torch.float64, 11, 1.0)
    ours = discriminator_loss([r, r2[:, :, :1]], [f, f2[:, :, :1]], kind="lsgan")
    theirs = 0.5 * (ls([r, r2[:, :, :1]], True, True) + ls([f, f2[:, :, :1]], False, True))
    torch.testing.assert_close(ours, theirs)
    # MONAI goes through sigmoid + BCELoss: at confident logits its gradient is exactly 0, ours is not
    x = torch.full((2, 1), -120.0, requires_grad=True)
    (theirs_grad,) = torch.autograd.grad(bce(x, True, False), x)
    (ours_grad,) = torch.autograd.grad(generator_loss(x, kind="nonsaturating"), x)
    assert theirs_grad.abs().max() == 0 and torch.allclose(ours_grad, torch.full_like(x, -0.5))


def test_multiscale_is_the_mean_over_scales():
    a, b = scores(torch.float64, 12, 1.0), scores(torch.float64, 13, 1.0)
    reals, fakes = [a[0], b[0][:, :, :1]], [a[1][:2], b[1][:, :, :1]]
    for kind in GAN_KINDS:
        per = [discriminator_loss(r, f, kind=kind) for r, f in zip(reals, fakes, strict=True)]
        torch.testing.assert_close(discriminator_loss(reals, fakes, kind=kind), sum(per) / 2)
        g = [generator_loss(f, kind=kind) for f in fakes]
        torch.testing.assert_close(GANLoss(kind).generator(fakes), sum(g) / 2)
    loss = GANLoss("hinge", reduction="sum")
    torch.testing.assert_close(loss(reals, fakes), sum(discriminator_loss(r, f, kind="hinge", reduction="sum")
                                                       for r, f in zip(reals, fakes, strict=True)) / 2)


@pytest.mark.parametrize("kind", GAN_KINDS)
def test_finite_at_extreme_logits_and_under_bf16(kind):
    r = torch.tensor([1e4, -1e4, 0.0, 3.0], requires_grad=True)
    f = torch.tensor([-1e4, 1e4, 0.0, -3.0], requires_grad=True)
    for ctx in (torch.autocast("cpu", enabled=False), torch.autocast("cpu", dtype=torch.bfloat16)):
        with ctx:
            d = discriminator_loss(r, f, kind=kind)
            g = generator_loss(f, kind=kind)
        grads = torch.autograd.grad(d + g, (r, f))
        assert torch.isfinite(d) and torch.isfinite(g) and all(torch.isfinite(x).all() for x in grads)
    # bf16 inputs are computed in float32 and give the float32 value
    out16 = discriminator_loss(r.detach().bfloat16(), f.detach().bfloat16(), kind=kind)
    assert out16.dtype == torch.bfloat16
    torch.testing.assert_close(out16.float(), discriminator_loss(r.detach(), f.detach(), kind=kind), rtol=1e-2,
                               atol=1e-2)


def test_nan_scores_give_nan():
    for kind in GAN_KINDS:
        assert torch.isnan(discriminator_loss(torch.tensor([float("nan")]), torch.zeros(1), kind=kind))


def test_module_forward_is_discriminator_and_repr():
    r, f = scores(torch.float32, 14, 1.0)
    loss = GANLoss("wgan")
    torch.testing.assert_close(loss(r, f), f.mean() - r.mean())
    torch.testing.assert_close(loss.generator(f, r), r.mean() - f.mean())  # the W estimate
    assert "kind='wgan'" in repr(loss) and loss.kind == "wgan"


def test_lsgan_codings_are_named() -> None:
    """Mao et al.'s (a, b, c) are fake_label, real_label and generator_target, in that order."""
    assert LSGAN_CODINGS["chi2"]._asdict() == {"fake_label": -1.0, "real_label": 1.0, "generator_target": 0.0}
    assert LSGAN_CODINGS["binary"] == (0.0, 1.0, 1.0)
    loss = GANLoss("lsgan", **LSGAN_CODINGS["chi2"]._asdict())
    assert (loss.fake_label, loss.real_label, loss.generator_target) == LSGAN_CODINGS["chi2"]
    assert "fake_label=-1.0, real_label=1.0, generator_target=0.0" in repr(loss)
    with pytest.raises(ValueError, match=r"^real_label: expected a real-data target different from fake_label"):
        loss.real_label = -1.0  # re-checked on assignment


def test_penalty_options_one_path() -> None:
    """The function and the module refuse a bad option with the same error; the options are public."""
    real = torch.rand(2, 3)
    critic = lambda x: x.sum(dim=1)  # noqa: E731
    bad = [{"kind": "gp"}, {"lambda_": -1.0}, {"lambda_": "1"}, {"kind": "r2", "one_sided": True},
           {"one_sided": "yes"}, {"reduction": "avg"}]
    for options in bad:
        with pytest.raises((TypeError, ValueError)) as built:
            GradientPenalty(**options)
        with pytest.raises((TypeError, ValueError)) as called:
            gradient_penalty(critic, real, real, **options)
        assert (type(built.value), str(built.value)) == (type(called.value), str(called.value)), options
    penalty = GradientPenalty("r1", lambda_=2.0)
    assert penalty.kind == "r1" and penalty.lambda_ == 2.0 and "lambda_=2.0" in repr(penalty)


# ------------------------------------------------------------------------------------ WGAN helpers
def test_clip_weights_and_schedule():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(100)
    assert clip_weights_(net, 0.01) is net
    assert all(p.abs().max() <= 0.01 for p in net.parameters())
    assert max(float(p.detach().abs().max()) for p in net.parameters()) == pytest.approx(0.01)
    with pytest.raises(ValueError, match=r"c: expected a finite number > 0.0, got 0.0"):
        clip_weights_(net, 0.0)
    with pytest.raises(TypeError, match=r"module: expected a torch.nn.Module, got list"):
        clip_weights_([], 0.01)  # type: ignore[arg-type]
    schedule = [wgan_critic_iterations(s) for s in range(1001)]
    assert schedule[:25] == [100] * 25 and schedule[25:30] == [5] * 5
    assert schedule[500] == 100 and schedule[1000] == 100 and schedule[499] == 5
    assert sum(schedule) == 25 * 100 + 2 * 100 + (1001 - 27) * 5
    with pytest.raises(ValueError, match=r"generator_step: expected a non-negative integer, got -1"):
        wgan_critic_iterations(-1)


# ------------------------------------------------------------------------------------ penalties
def _conv_critic(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Softplus(),
                               torch.nn.Conv2d(4, 1, 3), torch.nn.Softplus(), torch.nn.Flatten(),
                               torch.nn.Linear(4, 1)).double()


def _images(seed: int, n: int = 4):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 3, 4, 4, generator=g, dtype=torch.float64),
            torch.randn(n, 3, 4, 4, generator=g, dtype=torch.float64))


def test_wgan_gp_is_per_sample_and_equals_a_loop():
    critic = _conv_critic()
    real, fake = _images(0)
    ours = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(7), reduction="none")
    eps = torch.rand(4, 1, 1, 1, generator=torch.Generator().manual_seed(7), dtype=torch.float32).double()
    loop, grads = [], []
    for i in range(4):
        x = (real[i] + eps[i] * (fake[i] - real[i]))[None].requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x).sum(), x)
        grads.append(g)
        loop.append(10.0 * (g.flatten().norm() - 1) ** 2)
    torch.testing.assert_close(ours, torch.stack(loop))
    mean = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(mean, torch.stack(loop).mean())
    # the peers' variants give other numbers: one norm over the batch, a per-pixel norm over channels
    g = torch.cat(grads)
    whole_batch = 10.0 * (g.norm() - 1) ** 2
    per_pixel = 10.0 * ((g.norm(dim=1) - 1) ** 2).mean()
    assert not torch.isclose(mean, whole_batch) and not torch.isclose(mean, per_pixel)


def test_one_sided_r1_r2_and_dragan_closed_forms():
    w = torch.tensor([0.3, -0.4], dtype=torch.float64)  # ‖∇‖ = 0.5 everywhere

    def critic(x):
        return x @ w

    real, fake = torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    torch.testing.assert_close(gradient_penalty(critic, real, fake), torch.tensor(10 * 0.25, dtype=torch.float64))
    assert float(gradient_penalty(critic, real, fake, one_sided=True)) == 0.0
    steep = lambda x: 4 * critic(x)  # noqa: E731  ‖∇‖ = 2
    torch.testing.assert_close(gradient_penalty(steep, real, fake, one_sided=True, lambda_=2.0),
                               torch.tensor(2.0, dtype=torch.float64))
    torch.testing.assert_close(gradient_penalty(critic, real, kind="r1", lambda_=4.0),
                               torch.tensor(2 * 0.25, dtype=torch.float64))
    torch.testing.assert_close(gradient_penalty(critic, None, fake, kind="r2", reduction="sum"),
                               torch.tensor(5 * 5 * 0.25, dtype=torch.float64))
    torch.testing.assert_close(gradient_penalty(critic, real, kind="dragan"), torch.tensor(2.5, dtype=torch.float64))
    # DRAGAN's points: x + α·(0.5·std(x)·u), u then α from the generator, as documented
    x = torch.randn(6, 3, dtype=torch.float64)
    quad = lambda y: (y**2).sum(1)  # noqa: E731  ∇ = 2y
    ours = gradient_penalty(quad, x, kind="dragan", generator=torch.Generator().manual_seed(3), reduction="none")
    g = torch.Generator().manual_seed(3)
    u = torch.rand(x.shape, generator=g, dtype=torch.float32).double()
    alpha = torch.rand(6, 1, generator=g, dtype=torch.float32).double()
    pts = x + alpha * (0.5 * x.std(correction=0) * u)
    torch.testing.assert_close(ours, 10 * ((2 * pts).norm(dim=1) - 1) ** 2)


def test_penalty_keeps_the_graph_for_double_backward():
    real, fake = _images(1, n=2)
    w0 = torch.randn(1, 3, 3, 3, dtype=torch.float64) * 0.5

    def fn(w):
        def critic(x):
            return F.conv2d(x, w).tanh().flatten(1).sum(1)

        return gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0))

    assert torch.autograd.gradcheck(fn, (w0.requires_grad_(True),), eps=1e-6, atol=1e-5)
    r1 = lambda w: gradient_penalty(lambda x: F.conv2d(x, w).tanh().sum((1, 2, 3)), real, kind="r1")  # noqa: E731
    assert torch.autograd.gradcheck(r1, (w0,), eps=1e-6, atol=1e-5)
    critic = _conv_critic()
    gradient_penalty(critic, real, fake).backward()
    *inner, last_bias = critic.parameters()  # the last bias does not change ∇x D: no gradient
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in inner)
    assert last_bias.grad is None


def test_conditional_critic_gets_its_extra_inputs():
    real, _ = _images(2)
    labels = torch.tensor([0, 1, 1, 0])
    emb = torch.tensor([[1.0], [3.0]], dtype=torch.float64)

    def critic(x, y):
        return emb[y, 0] * x.flatten(1).sum(1)  # ‖∇‖ = emb[y]·sqrt(48)

    out = gradient_penalty(critic, real, kind="r1", critic_args=(labels,), lambda_=2.0, reduction="none")
    torch.testing.assert_close(out, emb[labels, 0] ** 2 * 48)
    module = GradientPenalty("r1", lambda_=2.0, reduction="none")
    torch.testing.assert_close(module(critic, real, None, labels), out)


def test_penalty_errors():
    real, fake = _images(3)
    critic = _conv_critic()
    w = torch.ones(1, requires_grad=True)
    cases = [
        (lambda: gradient_penalty(lambda x: w.expand(x.shape[0]) * 2, real, fake), ValueError,
         "critic: expected an output that depends on its input (so its gradient is defined), got an output "
         "independent of it"),
        (lambda: gradient_penalty(lambda x: torch.zeros(x.shape[0]), real, fake), ValueError,
         "critic: expected an output that depends on its input (so its gradient is defined), got an output that "
         "does not require grad (detached, or computed under no_grad)"),
        (lambda: gradient_penalty(lambda x: critic(x).mean(), real, fake), ValueError,
         "critic: expected an output of shape (N, *) with N = 4 scores, one per sample, got shape ()"),
        (lambda: gradient_penalty(critic, real, fake, kind="gp"), ValueError,
         "kind: expected one of 'wgan-gp', 'r1', 'r2', 'dragan', got 'gp'"),
        (lambda: gradient_penalty(critic, real, fake, lambda_=-1.0), ValueError,
         "lambda_: expected a finite number >= 0.0, got -1.0"),
        (lambda: gradient_penalty(critic, real, fake, lambda_=float("inf")), ValueError,
         "lambda_: expected a finite number >= 0.0, got inf"),
        (lambda: gradient_penalty(critic, real, kind="r1", one_sided=True), ValueError,
         "one_sided: expected False for kind 'r1' (only 'wgan-gp' and 'dragan' have a target norm), got True"),
        (lambda: gradient_penalty(critic, real, fake[:2]), ValueError,
         "fake: expected shape matching real (4, 3, 4, 4), got (2, 3, 4, 4)"),
        (lambda: gradient_penalty(critic, real, None), TypeError,
         "fake: expected a tensor (kind 'wgan-gp' needs it), got None"),
        (lambda: gradient_penalty(critic, real.long(), kind="r1"), TypeError,
         "real: expected a floating-point tensor, got dtype torch.int64"),
        (lambda: gradient_penalty(lambda x: [x], real, kind="r1"), TypeError,
         "critic: expected a callable returning a tensor, got list"),
        (lambda: GradientPenalty("r2", one_sided=True), ValueError,
         "one_sided: expected False for kind 'r2' (only 'wgan-gp' and 'dragan' have a target norm), got True"),
    ]
    for call, exc, message in cases:
        with pytest.raises(exc) as info:
            call()
        assert str(info.value) == message


def test_penalty_under_autocast_and_grad_scaler():
    real, fake = (x.float() for x in _images(4))
    critic = _conv_critic().float()
    plain = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0))
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**14)
    scaled = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0), scaler=scaler)
    torch.testing.assert_close(scaled, plain)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0), scaler=scaler)
    assert auto.dtype == torch.float32 and torch.isfinite(auto)
    torch.testing.assert_close(auto, plain, rtol=5e-2, atol=5e-2)
    # a critic step through the scaler gives the unscaled gradients
    params = list(critic.parameters())[:-1]  # the last bias does not enter the penalty
    grads_plain = torch.autograd.grad(plain, params)
    scaled_loss = scaler.scale(gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0),
                                                scaler=scaler))
    grads_scaled = torch.autograd.grad(scaled_loss, params)
    for a, b in zip(grads_plain, grads_scaled, strict=True):
        torch.testing.assert_close(b / scaler.get_scale(), a)


# ------------------------------------------------------------------------------------ dynamics
def _dirac_gan(gamma: float | None, steps: int = 400, lr: float = 0.1) -> list[float]:
    """Dirac-GAN (Mescheder et al. 2018): data δ0, generator δθ, D(x) = ψ·x; simultaneous gradient steps."""
    theta = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    psi = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    radius = []
    for _ in range(steps):
        real, fake = torch.zeros(1, 1, dtype=torch.float64), theta.reshape(1, 1)
        d_loss = discriminator_loss(psi * real, psi * fake.detach(), kind="minimax")
        if gamma is not None:
            d_loss = d_loss + gradient_penalty(lambda x, w=psi: w * x, real, kind="r1", lambda_=gamma)
        g_loss = generator_loss(psi.detach() * fake, kind="minimax")  # the zero-sum game
        (g_psi,) = torch.autograd.grad(d_loss, psi)
        (g_theta,) = torch.autograd.grad(g_loss, theta)
        with torch.no_grad():  # simultaneous: both from the same point
            psi -= lr * g_psi
            theta -= lr * g_theta
        radius.append(math.hypot(theta.item(), psi.item()))
    return radius


@pytest.mark.training
def test_dirac_gan_spirals_out_without_and_converges_with_r1():
    free = _dirac_gan(None)
    assert free[-1] > 1.3 * math.sqrt(2) and all(b > a for a, b in itertools.pairwise(free))  # spirals out
    r1 = _dirac_gan(1.0)
    assert r1[-1] < 0.05  # converges to (θ, ψ) = (0, 0)


@pytest.mark.training
def test_wgan_gp_critic_estimates_parallel_lines_distance():
    """P0 = (0, Z), Pθ = (θ, Z), Z ~ U[0, 1]: W(P0, Pθ) = |θ|. The WGAN-GP objective E f(x) − E f(y) −
    λ·E(‖∇f(x̂)‖ − 1)² is maximised by a critic of slope k along the first axis with kθ − λ(k − 1)² maximal, i.e.
    k = 1 + |θ|/(2λ): its estimate is |θ| + θ²/(2λ) (1.05 for θ = 1, λ = 10), the true distance plus the bias
    the soft penalty leaves. Trained in float64, so the answer does not depend on the CPU's kernels or threads."""
    g = torch.Generator().manual_seed(0)
    for theta in (1.0, -0.5):
        torch.manual_seed(0)
        critic = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1)).double()
        opt = torch.optim.Adam(critic.parameters(), lr=1e-2, betas=(0.5, 0.9))
        decay = torch.optim.lr_scheduler.MultiStepLR(opt, [300], 0.1)  # the last 300 steps settle the slope
        for _ in range(600):
            z = torch.rand(256, 2, generator=g, dtype=torch.float64)
            real = torch.stack([torch.zeros(256, dtype=torch.float64), z[:, 0]], 1)
            fake = torch.stack([torch.full((256,), theta, dtype=torch.float64), z[:, 1]], 1)
            loss = discriminator_loss(critic(real), critic(fake), kind="wgan") + gradient_penalty(
                critic, real, fake, generator=g)
            opt.zero_grad()
            loss.backward()
            opt.step()
            decay.step()
        z = torch.rand(4096, 2, generator=g, dtype=torch.float64)
        real = torch.stack([torch.zeros(4096, dtype=torch.float64), z[:, 0]], 1)
        fake = torch.stack([torch.full((4096,), theta, dtype=torch.float64), z[:, 1]], 1)
        with torch.no_grad():
            estimate = float(generator_loss(critic(fake), real=critic(real), kind="wgan"))
        optimum = abs(theta) + theta**2 / (2 * 10.0)
        assert abs(estimate - optimum) < 0.01, (theta, estimate, optimum)


def test_penalty_nan_rule_reads_only_the_samples_its_kind_uses():
    quad = lambda y: (y**2).sum(1)  # noqa: E731
    x, nan = torch.rand(4, 3, dtype=torch.float64), torch.full((4, 3), float("nan"), dtype=torch.float64)
    for kind in ("r1", "dragan"):  # fake is not used
        assert torch.isfinite(gradient_penalty(quad, x, nan, kind=kind))
        assert torch.isnan(gradient_penalty(quad, nan, x, kind=kind))
    assert torch.isfinite(gradient_penalty(quad, nan, x, kind="r2"))  # real is not used
    assert torch.isnan(gradient_penalty(quad, x, nan, kind="wgan-gp"))
    # one sample: the population std of DRAGAN's perturbation is defined (torch's n − 1 one gave NaN)
    assert torch.isfinite(gradient_penalty(quad, torch.ones(1, 1, dtype=torch.float64), kind="dragan"))


def test_random_draws_need_a_generator_or_none():
    from imagelosses import ImagePool

    for call in (lambda g: gradient_penalty(lambda y: y.sum(1), torch.rand(2, 3), torch.rand(2, 3), generator=g),
                 lambda g: ImagePool(2, generator=g)):
        with pytest.raises(TypeError, match=r"^generator: expected a torch.Generator or None, got int$"):
            call(3)
    # a pool of size 0 passes the images through, detached like every pool output
    x = torch.rand(2, 3, requires_grad=True)
    assert not ImagePool(0)(x).requires_grad
