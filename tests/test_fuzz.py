"""Fuzz every public loss: each call must end in exactly one of three ways.

1. The value (and the gradient of the first floating input) equals the float64 reference, computed on the same
   (already rounded) inputs, within the dtype's tolerance: float16/bfloat16 inputs are computed in float32 inside.
2. NaN, exactly when an input holds a NaN or an infinity (never a finite loss from a non-finite input).
3. A ``ValueError``/``TypeError`` whose message names the argument (``"<name>: expected …, got …"``).

Any other exception, or a finite value that disagrees with the reference, fails. The cases cover every loss
function of :mod:`imagelosses.functional` and every loss module of :mod:`imagelosses`; a new public loss that is
not listed here fails :func:`test_every_public_loss_is_fuzzed`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import imagelosses
from imagelosses import functional as ilf
from tests.vgg_fixtures import tiny_vgg

Make = Callable[[torch.Generator, int, int], tuple[Any, ...]]  # (generator, batch, side) -> args


@dataclass
class Fuzz:
    call: Callable[..., torch.Tensor]
    make: Make
    grad: bool = True  # compare the gradient of the first floating argument (off where selection is discrete)
    min_side: int = 1


VGG32 = tiny_vgg(("relu1_2", "relu2_1"), seed=0)
VGG64 = copy.deepcopy(VGG32).double()


def _vgg(x: torch.Tensor) -> torch.nn.Module:
    return VGG64 if x.dtype == torch.float64 else VGG32


def _pix(c: int) -> Make:
    return lambda g, n, s: (torch.randn(n, c, s, s, generator=g, dtype=torch.float64),
                            torch.randn(n, c, s, s, generator=g, dtype=torch.float64))


def _cls(c: int) -> Make:
    def make(g: torch.Generator, n: int, s: int) -> tuple[Any, ...]:
        target = torch.randint(0, c, (n, s, s), generator=g)
        if n:
            target[0, 0, 0] = -100
        return torch.randn(n, c, s, s, generator=g, dtype=torch.float64) * 3, target
    return make


def _binary(g: torch.Generator, n: int, s: int) -> tuple[Any, ...]:
    return (torch.randn(n, 1, s, s, generator=g, dtype=torch.float64) * 3,
            (torch.rand(n, 1, s, s, generator=g, dtype=torch.float64) > 0.5).double())


def _soft(g: torch.Generator, n: int, s: int) -> tuple[Any, ...]:
    return (torch.randn(n, 3, s, s, generator=g, dtype=torch.float64),
            torch.softmax(torch.randn(n, 3, s, s, generator=g, dtype=torch.float64), 1))


def _images(n_images: int) -> Make:
    return lambda g, n, s: tuple(torch.rand(n, 3, s, s, generator=g, dtype=torch.float64) for _ in range(n_images))


def _embeddings(g: torch.Generator, n: int, s: int) -> tuple[Any, ...]:
    b = 2 * n + 2
    return torch.randn(b, s + 1, generator=g, dtype=torch.float64), torch.arange(b) % (n + 1)


def _pairs(g: torch.Generator, n: int, s: int) -> tuple[Any, ...]:
    return (torch.randn(n, s + 1, generator=g, dtype=torch.float64),
            torch.randn(n, s + 1, generator=g, dtype=torch.float64), torch.randint(0, 2, (n,), generator=g))


def _triplets(g: torch.Generator, n: int, s: int) -> tuple[Any, ...]:
    return tuple(torch.randn(n, s + 1, generator=g, dtype=torch.float64) for _ in range(3))


def _feature(fn: Callable[..., torch.Tensor], **kw: Any) -> Callable[..., torch.Tensor]:
    return lambda *a: fn(*a, extractor=_vgg(a[0]), **kw)


def _module(cls: type, *args: Any, **kw: Any) -> Callable[..., torch.Tensor]:
    built: dict[torch.dtype, torch.nn.Module] = {}

    def call(*a: Any) -> torch.Tensor:
        dtype = torch.float64 if a[0].dtype == torch.float64 else torch.float32
        if dtype not in built:
            extra = {"extractor": VGG64 if dtype == torch.float64 else VGG32} if "extractor" in kw else {}
            built[dtype] = cls(*args, **{**kw, **extra})
        return built[dtype](*a)
    return call


def _scores(g: torch.Generator, n: int, s: int) -> tuple[Any, ...]:
    return (torch.randn(n, s, generator=g, dtype=torch.float64) * 3,
            torch.randn(n, s, generator=g, dtype=torch.float64) * 3)


def _critic(x: torch.Tensor) -> torch.Tensor:
    """A fixed smooth critic, polynomial so it runs in any dtype: D(x) = Σ x² / 2 + Σ x."""
    flat = x.flatten(1)
    return 0.5 * flat.square().sum(1) + flat.sum(1)


def _with_critic(make: Make) -> Make:
    return lambda g, n, s: (_critic, *make(g, n, s))


def _seeded(fn: Callable[..., torch.Tensor], **kw: Any) -> Callable[..., torch.Tensor]:
    return lambda *a: fn(*a, generator=torch.Generator().manual_seed(0), **kw)


def _masks(logits: bool) -> Make:
    def make(g: torch.Generator, n: int, s: int) -> tuple[Any, ...]:
        side = 14 + s  # the receptive field of relu2_1
        x = torch.randn(n, 1, side, side, generator=g, dtype=torch.float64)
        mask = (torch.rand(n, 1, side, side, generator=g, dtype=torch.float64) > 0.7).double()
        return (x * 3 if logits else torch.sigmoid(x)), mask
    return make


def _similar(g: torch.Generator, n: int, s: int) -> tuple[Any, ...]:
    x = torch.rand(n, 2, s, s, generator=g, dtype=torch.float64)
    return x, (x + 0.2 * torch.randn(n, 2, s, s, generator=g, dtype=torch.float64)).clamp(0, 1)


FEATURE_KW = {"layers": ("relu1_2", "relu2_1")}
CS_KW = {"content_layers": ("relu2_1",), "style_layers": ("relu1_2", "relu2_1")}

CASES: dict[str, Fuzz] = {
    "mse_loss": Fuzz(lambda x, y: ilf.mse_loss(x, y), _pix(2)),
    "l1_loss": Fuzz(lambda x, y: ilf.l1_loss(x, y), _pix(2), grad=False),  # |x| has a kink at 0
    "charbonnier_loss": Fuzz(lambda x, y: ilf.charbonnier_loss(x, y), _pix(2)),
    "MSELoss": Fuzz(_module(imagelosses.MSELoss), _pix(3)),
    "ssim": Fuzz(lambda x, y: ilf.ssim(x, y, kernel_size=3), _similar, min_side=3),
    "ssim_loss": Fuzz(lambda x, y: ilf.ssim_loss(x, y, kernel_size=5, reduction="none").sum(), _similar, min_side=5),
    "SSIMLoss": Fuzz(_module(imagelosses.SSIMLoss, kernel_size=3, data_range=2.0), _similar, min_side=4),
    "ms_ssim": Fuzz(lambda x, y: ilf.ms_ssim(x, y, kernel_size=3), _similar, min_side=33),
    "ms_ssim_loss": Fuzz(lambda x, y: ilf.ms_ssim_loss(x, y, kernel_size=3, reduction="sum"), _similar, min_side=35),
    "MSSSIMLoss": Fuzz(_module(imagelosses.MSSSIMLoss, kernel_size=3), _similar, min_side=34),
    "ms_ssim_l1_loss": Fuzz(lambda x, y: ilf.ms_ssim_l1_loss(x, y, kernel_size=3), _similar, min_side=33),
    "MSSSIML1Loss": Fuzz(_module(imagelosses.MSSSIML1Loss, kernel_size=3, alpha=0.5), _similar, min_side=36),
    "total_variation_loss": Fuzz(lambda x: ilf.total_variation_loss(x), lambda g, n, s: _pix(2)(g, n, s)[:1],
                                 grad=False),  # |Δ| has a kink at 0
    "total_variation_loss[isotropic]": Fuzz(lambda x: ilf.total_variation_loss(x, norm="isotropic", eps=1e-4),
                                            lambda g, n, s: _pix(2)(g, n, s)[:1]),
    "TotalVariationLoss": Fuzz(_module(imagelosses.TotalVariationLoss, norm="squared", reduction="sum"),
                               lambda g, n, s: _pix(3)(g, n, s)[:1]),
    "L1Loss": Fuzz(_module(imagelosses.L1Loss, reduction="sum"), _pix(1), grad=False),
    "CharbonnierLoss": Fuzz(_module(imagelosses.CharbonnierLoss, eps=1e-2), _pix(1)),
    "pixel_cross_entropy": Fuzz(lambda x, y: ilf.pixel_cross_entropy(x, y, class_weight="balanced"), _cls(4)),
    "pixel_cross_entropy[binary]": Fuzz(lambda x, y: ilf.pixel_cross_entropy(x, y, label_smoothing=0.1), _binary),
    "pixel_cross_entropy[soft]": Fuzz(lambda x, y: ilf.pixel_cross_entropy(x, y), _soft),
    "PixelCrossEntropyLoss": Fuzz(_module(imagelosses.PixelCrossEntropyLoss, class_weight="median_frequency"),
                                  _cls(3)),
    "dice_loss": Fuzz(lambda x, y: ilf.dice_loss(x, y, squared=True), _cls(3)),
    "dice_loss[binary]": Fuzz(lambda x, y: ilf.dice_loss(x, y, class_average="micro"), _binary),
    "DiceLoss": Fuzz(_module(imagelosses.DiceLoss, batch_dice=True), _cls(2)),
    "focal_loss": Fuzz(lambda x, y: ilf.focal_loss(x, y), _cls(3)),
    "focal_loss[binary]": Fuzz(lambda x, y: ilf.focal_loss(x, y, alpha=0.25), _binary),
    "FocalLoss": Fuzz(_module(imagelosses.FocalLoss, gamma=1.0), _cls(2)),
    "tversky_loss": Fuzz(lambda x, y: ilf.tversky_loss(x, y, alpha=0.3, beta=0.7, gamma=0.75), _cls(3)),
    "tversky_loss[binary]": Fuzz(lambda x, y: ilf.tversky_loss(x, y, alpha=0.3, beta=0.7), _binary),
    "TverskyLoss": Fuzz(_module(imagelosses.TverskyLoss, batch_dice=True), _cls(2)),
    "generalized_dice_loss": Fuzz(lambda x, y: ilf.generalized_dice_loss(x, y), _cls(3)),
    "GeneralizedDiceLoss": Fuzz(_module(imagelosses.GeneralizedDiceLoss, include_background=False), _cls(3)),
    "dice_ce_loss": Fuzz(lambda x, y: ilf.dice_ce_loss(x, y, class_weight="balanced"), _cls(3)),
    "DiceCELoss": Fuzz(_module(imagelosses.DiceCELoss, lambda_dice=0.5), _binary),
    # Lovász: sorted errors, whose weights jump where two errors swap order: values only
    "lovasz_softmax_loss": Fuzz(lambda x, y: ilf.lovasz_softmax_loss(x, y), _cls(3), grad=False),
    "lovasz_softmax_loss[binary]": Fuzz(lambda x, y: ilf.lovasz_softmax_loss(x, y, per_image=True), _binary,
                                        grad=False),
    "LovaszSoftmaxLoss": Fuzz(_module(imagelosses.LovaszSoftmaxLoss, per_image=True, classes="all"), _cls(3),
                              grad=False),
    "gram_matrix": Fuzz(lambda x: ilf.gram_matrix(x).sum(), lambda g, n, s: _pix(4)(g, n, s)[:1]),
    "perceptual_loss": Fuzz(_feature(ilf.perceptual_loss, **FEATURE_KW), _images(2), min_side=2),
    "PerceptualLoss": Fuzz(_module(imagelosses.PerceptualLoss, extractor=None, **FEATURE_KW), _images(2),
                           min_side=2),
    "style_loss": Fuzz(_feature(ilf.style_loss, **FEATURE_KW), _images(2), min_side=2),
    "StyleLoss": Fuzz(_module(imagelosses.StyleLoss, extractor=None, **FEATURE_KW), _images(2), min_side=2),
    "texture_loss": Fuzz(_feature(ilf.texture_loss, **FEATURE_KW), _images(2), min_side=2),
    "TextureLoss": Fuzz(_module(imagelosses.TextureLoss, extractor=None, **FEATURE_KW), _images(2), min_side=2),
    "content_style_loss": Fuzz(_feature(ilf.content_style_loss, **CS_KW), _images(3), min_side=2),
    "ContentStyleLoss": Fuzz(_module(imagelosses.ContentStyleLoss, extractor=None, **CS_KW), _images(3),
                             min_side=2),
    "triplet_loss[all]": Fuzz(lambda x, y: ilf.triplet_loss(x, y), _embeddings),
    "triplet_loss[hard]": Fuzz(lambda x, y: ilf.triplet_loss(x, y, mining="hard", distance="euclidean"),
                               _embeddings, grad=False),
    "triplet_loss[semihard]": Fuzz(lambda x, y: ilf.triplet_loss(x, y, mining="semihard"), _embeddings, grad=False),
    "TripletLoss": Fuzz(_module(imagelosses.TripletLoss, mining="hard", soft_margin=True), _embeddings, grad=False),
    "triplet_margin_loss": Fuzz(lambda a, p, n: ilf.triplet_margin_loss(a, p, n), _triplets),
    "OfflineTripletLoss": Fuzz(_module(imagelosses.OfflineTripletLoss, swap=True), _triplets, grad=False),
    "contrastive_loss": Fuzz(lambda a, b, t: ilf.contrastive_loss(a, b, t), _pairs),
    "batch_contrastive_loss": Fuzz(lambda x, y: ilf.batch_contrastive_loss(x, y, distance="cosine"), _embeddings),
    "ContrastiveLoss": Fuzz(_module(imagelosses.ContrastiveLoss), _embeddings),
    "nt_xent_loss": Fuzz(lambda a, b: ilf.nt_xent_loss(a, b, temperature=0.1), lambda g, n, s: _pairs(g, n, s)[:2]),
    "NTXentLoss": Fuzz(_module(imagelosses.NTXentLoss), lambda g, n, s: _pairs(g, n, s)[:2]),
    "supcon_loss": Fuzz(lambda x, y: ilf.supcon_loss(x, y), _embeddings),
    "SupConLoss": Fuzz(_module(imagelosses.SupConLoss, temperature=0.5, reduction="sum"), _embeddings),
    "topology_loss": Fuzz(_feature(ilf.topology_loss, **FEATURE_KW), _masks(False)),
    "TopologyLoss": Fuzz(_module(imagelosses.TopologyLoss, extractor=None, **FEATURE_KW), _masks(False)),
    "topology_aware_loss": Fuzz(_feature(ilf.topology_aware_loss, mu=0.1, **FEATURE_KW), _masks(True)),
    "TopologyAwareLoss": Fuzz(_module(imagelosses.TopologyAwareLoss, extractor=None, **FEATURE_KW), _masks(True)),
    "soft_cldice_loss": Fuzz(lambda x, y: ilf.soft_cldice_loss(x, y), _binary, grad=False),  # min/max pooling
    "SoftClDiceLoss": Fuzz(_module(imagelosses.SoftClDiceLoss, iterations=2), _masks(True), grad=False),
    "discriminator_loss[nonsaturating]": Fuzz(lambda r, f: ilf.discriminator_loss(r, f), _scores),
    "discriminator_loss[lsgan]": Fuzz(lambda r, f: ilf.discriminator_loss(r, f, kind="lsgan"), _scores),
    "discriminator_loss[hinge]": Fuzz(lambda r, f: ilf.discriminator_loss(r, f, kind="hinge"), _scores, grad=False),
    "generator_loss[minimax]": Fuzz(lambda f, r: ilf.generator_loss(f, kind="minimax", real=r), _scores),
    "generator_loss[wgan]": Fuzz(lambda f, r: ilf.generator_loss(f, kind="wgan"), _scores),
    "GANLoss": Fuzz(_module(imagelosses.GANLoss, "lsgan"), _scores),
    "gradient_penalty[r1]": Fuzz(lambda c, r, f: ilf.gradient_penalty(c, r, kind="r1"), _with_critic(_pix(2)),
                                 grad=False),
    "gradient_penalty[wgan-gp]": Fuzz(_seeded(ilf.gradient_penalty), _with_critic(_pix(2)), grad=False),
    "GradientPenalty": Fuzz(lambda c, r, f: imagelosses.GradientPenalty("r2")(c, None, r), _with_critic(_pix(1)),
                            grad=False),
    "cycle_consistency_loss": Fuzz(lambda x, y: ilf.cycle_consistency_loss(x, y), _pix(3), grad=False),
    "CycleConsistencyLoss": Fuzz(_module(imagelosses.CycleConsistencyLoss), _pix(1), grad=False),
    "identity_loss": Fuzz(lambda x, y: ilf.identity_loss(x, y), _pix(3), grad=False),
    "IdentityLoss": Fuzz(_module(imagelosses.IdentityLoss), _pix(2), grad=False),
}

#: Public names that are not losses of an input tensor, with the reason they are not fuzzed here.
NOT_LOSSES = {
    "unet_weight_map": "builds a weight map from an integer instance map (tested in test_weightmaps)",
    "class_frequency_weights": "class weights from integer counts (tested in test_pixel)",
    "CombinedFeatureLoss": "a sum of the fuzzed feature losses (tested in test_perceptual)",
    "VGGFeatures": "the backbone, not a loss",
    "PKSampler": "a batch sampler, not a loss",
    "mine_triplets": "returns indices, not a loss (its triplets are the fuzzed triplet_loss's)",
    "gram_matrix": "fuzzed through its sum",
    "ImagePool": "a buffer of past generator outputs, not a loss (tested in test_cycle)",
    "clip_weights_": "clips a critic's parameters in place (tested in test_adversarial)",
    "wgan_critic_iterations": "a schedule of step counts (tested in test_adversarial)",
    "LSGAN_CODINGS": "constants",
    "soft_skeleton": "a soft morphological skeleton, fuzzed inside soft_cldice_loss (tested in test_cldice)",
    "refinement_loss": "a training wrapper that calls a network K times (tested in test_topology)",
    "iterative_refinement": "runs a network K times (tested in test_topology)",
    "refinement_weights": "the weights k/Z of the refinement steps (tested in test_topology)",
}


def _public_losses() -> set[str]:
    names = set(ilf.__all__) | set(imagelosses.__all__)
    return {n for n in names if not n.startswith("_")} - set(NOT_LOSSES)


def test_every_public_loss_is_fuzzed() -> None:
    fuzzed = {name.split("[")[0] for name in CASES}
    missing = sorted(_public_losses() - fuzzed)
    assert not missing, f"public losses missing from the fuzz table: {missing}"


TOLERANCE = {torch.float64: 1e-9, torch.float32: 2e-5, torch.float16: 4e-3, torch.bfloat16: 3e-2}
ERROR = re.compile(r"^[A-Za-z_][\w\[\]'.]*: expected .+, got .+", re.S)


def _layout(x: torch.Tensor, layout: str) -> torch.Tensor:
    if layout == "channels_last" and x.ndim == 4:
        return x.contiguous(memory_format=torch.channels_last)
    if layout == "strided":
        wide = torch.cat([x, torch.zeros_like(x)], dim=-1)
        return wide[..., : x.shape[-1]]  # same values, not contiguous
    return x


def _prepare(args: tuple[Any, ...], dtype: torch.dtype, layout: str, special: str,
             g: torch.Generator) -> tuple[tuple[Any, ...], bool]:
    """Cast and lay out the floating args, inject the special value; returns (args, has_non_finite)."""
    out: list[Any] = []
    injected = False
    first = next(i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.is_floating_point())
    for i, a in enumerate(args):
        if isinstance(a, torch.Tensor) and a.is_floating_point():
            a = a.clone()
            if special == "large" and i == first:
                a = a * (1e3 if dtype != torch.float16 else 60.0)
            if special == "zeros":
                a = torch.zeros_like(a)
            if special in ("nan", "inf") and i == first and a.numel():
                flat = a.view(-1)
                flat[int(torch.randint(0, flat.numel(), (), generator=g))] = float(special)
                injected = True
            a = _layout(a.to(dtype), layout)
        out.append(a)
    return tuple(out), injected


def _reference(case: Fuzz, args: tuple[Any, ...]) -> tuple[torch.Tensor, torch.Tensor | None]:
    ref = tuple(a.detach().double().contiguous().requires_grad_(i == 0 and case.grad)
                if isinstance(a, torch.Tensor) and a.is_floating_point() else a for i, a in enumerate(args))
    value = case.call(*ref)
    grad = None
    if case.grad and ref[0].requires_grad:
        (grad,) = torch.autograd.grad(value, ref[0], allow_unused=True, materialize_grads=True)
    return value.detach(), grad


_SETTINGS = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors])


@pytest.mark.parametrize("name", sorted(CASES))
@_SETTINGS
@given(dtype=st.sampled_from([torch.float16, torch.bfloat16, torch.float32, torch.float64]),
       layout=st.sampled_from(["contiguous", "channels_last", "strided"]),
       special=st.sampled_from(["normal", "normal", "zeros", "large", "nan", "inf", "empty"]),
       batch=st.integers(1, 3), side=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_fuzz(name: str, dtype: torch.dtype, layout: str, special: str, batch: int, side: int, seed: int) -> None:
    case = CASES[name]
    g = torch.Generator().manual_seed(seed)
    side = max(side, case.min_side)
    master = case.make(g, 0 if special == "empty" else batch, side)
    if special == "empty" and name.startswith(("triplet", "contrastive", "Triplet", "Contrastive", "Offline")):
        master = tuple(a[:0] for a in master)
    args, injected = _prepare(master, dtype, layout, special, g)
    args = tuple(a.requires_grad_(i == 0 and case.grad) if isinstance(a, torch.Tensor) and a.is_floating_point()
                 else a for i, a in enumerate(args))
    try:
        value = case.call(*args)
    except (ValueError, TypeError) as error:
        assert ERROR.match(str(error)), f"{name}: message does not name the argument: {error}"
        return
    if injected:
        assert torch.isnan(value).all(), f"{name}: {value} from an input with {special}"
        return
    ref_value, ref_grad = _reference(case, args)
    assert value.dtype in (dtype, torch.float32), f"{name}: result dtype {value.dtype} for {dtype} inputs"
    tol = TOLERANCE[dtype]
    expect = ref_value.to(value.dtype).double()  # the float64 answer rounded to the output dtype
    torch.testing.assert_close(value.detach().double(), expect, rtol=tol, atol=tol * (1 + float(expect.abs().amax())),
                               equal_nan=False, msg=lambda m: f"{name} value, {dtype} {layout} {special}: {m}")
    if ref_grad is not None and args[0].requires_grad:
        (grad,) = torch.autograd.grad(value, args[0], allow_unused=True, materialize_grads=True)
        scale = 1 + float(ref_grad.abs().amax()) if ref_grad.numel() else 1.0
        torch.testing.assert_close(grad.double(), ref_grad.to(grad.dtype).double(), rtol=tol * 4, atol=tol * 4 * scale,
                                   msg=lambda m: f"{name} gradient, {dtype} {layout} {special}: {m}")
