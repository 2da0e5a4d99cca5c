"""Fuzz every public callable (losses, modules, helpers, metrics) by class of bad input, from one table.

``tests/test_fuzz.py`` drives the losses' values over dtypes, layouts and special values. This file drives
*every* public callable of :mod:`imagelosses`, :mod:`imagelosses.functional`, :mod:`imagelosses.metrics` and
:mod:`imagelosses.embedding` (a new public name that is not listed fails :func:`test_every_public_callable_is_listed`)
through the classes of defect the fuzz rounds found, each call ending in a value or in a ``ValueError``/``TypeError``
that names the argument (``"<name>: expected …, got …"``):

1. half precision through composite losses: the float32 answer, finite, even above float16's range;
2. (semi-hard mining on near-ties: ``test_metric_triplet.py``);
3. NaN through every function, helpers included: NaN in gives NaN out (or a named error), never a finite answer;
4. option types: a bool option given ``"False"``, an int option given ``True`` or ``2.5``, a number option given
   a string are refused by name, by the function and the module alike; an option that cannot apply is refused;
5. empty dimensions and meta tensors: a named error or a defined value, never an ``IndexError``/``RuntimeError``;
6. valid input of another array type (a numpy array or tensor of class weights) is taken.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch

import imagelosses
import imagelosses.embedding as emb
import imagelosses.functional as ilf
import imagelosses.metrics as ilm
from tests.vgg_fixtures import tiny_vgg

pytestmark = pytest.mark.usefixtures("one_thread")

LAYERS = ("relu1_2", "relu2_1")
VGG = tiny_vgg(LAYERS, seed=0)
ERROR = re.compile(r"^[A-Za-z_][\w\[\]'.]*: expected .+, got .+", re.S)


def _g() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def images(n: int = 2, c: int = 3, side: int = 16) -> torch.Tensor:
    return torch.rand(n, c, side, side, generator=_g())


def logits(n: int = 2, c: int = 3, side: int = 8) -> torch.Tensor:
    return torch.randn(n, c, side, side, generator=_g()) * 2


def classes(n: int = 2, c: int = 3, side: int = 8) -> torch.Tensor:
    return torch.randint(0, c, (n, side, side), generator=_g())


def mask(n: int = 2, side: int = 16) -> torch.Tensor:
    return (torch.rand(n, 1, side, side, generator=_g()) > 0.6).float()


def embeddings(b: int = 8, d: int = 4) -> torch.Tensor:
    return torch.randn(b, d, generator=_g())


def labels(b: int = 8) -> torch.Tensor:
    return torch.arange(b) % 3


def critic(x: torch.Tensor) -> torch.Tensor:
    flat = x.flatten(1)
    return 0.5 * flat.square().sum(1) + flat.sum(1)


def instances() -> torch.Tensor:
    inst = torch.zeros(1, 24, 24, dtype=torch.long)
    inst[0, 4:10, 4:10] = 1
    inst[0, 4:10, 12:18] = 2
    return inst


@dataclass
class Call:
    """How to call one public name: ``target`` is the function, or the class (built with ``options`` and called
    with ``args``); ``options`` go to the function's keywords or the constructor."""

    target: Callable[..., Any]
    args: Callable[[], tuple[Any, ...]]
    options: dict[str, Any] = field(default_factory=dict)
    #: classes of the module docstring this call does not take part in, with the reason
    skip: dict[int, str] = field(default_factory=dict)
    #: ``target(**options)`` builds the callable (a module built by a lambda, e.g. with fixed sub-losses)
    build: bool = False

    def __call__(self, args: tuple[Any, ...] | None = None, **extra: Any) -> Any:
        args = self.args() if args is None else args
        opts = {**self.options, **extra}
        if inspect.isclass(self.target) or self.build:
            return self.target(**opts)(*args)
        return self.target(*args, **opts)


FEAT = {"extractor": VGG, "layers": LAYERS}
FEAT_CS = {"extractor": VGG, "content_layers": ("relu2_1",), "style_layers": LAYERS}

CALLS: dict[str, Call] = {
    # regression
    "mse_loss": Call(ilf.mse_loss, lambda: (images(), images())),
    "l1_loss": Call(ilf.l1_loss, lambda: (images(), images())),
    "charbonnier_loss": Call(ilf.charbonnier_loss, lambda: (images(), images())),
    "MSELoss": Call(imagelosses.MSELoss, lambda: (images(), images())),
    # restoration
    "ssim": Call(ilf.ssim, lambda: (images(), images())),
    "ssim_loss": Call(ilf.ssim_loss, lambda: (images(), images())),
    "SSIMLoss": Call(imagelosses.SSIMLoss, lambda: (images(), images())),
    "ms_ssim": Call(ilf.ms_ssim, lambda: (images(side=33), images(side=33)), {"kernel_size": 3}),
    "ms_ssim_loss": Call(ilf.ms_ssim_loss, lambda: (images(side=33), images(side=33)), {"kernel_size": 3}),
    "MSSSIMLoss": Call(imagelosses.MSSSIMLoss, lambda: (images(side=33), images(side=33)), {"kernel_size": 3}),
    "ms_ssim_l1_loss": Call(ilf.ms_ssim_l1_loss, lambda: (images(side=33), images(side=33)), {"kernel_size": 3}),
    "MSSSIML1Loss": Call(imagelosses.MSSSIML1Loss, lambda: (images(side=33), images(side=33)), {"kernel_size": 3}),
    "total_variation_loss": Call(ilf.total_variation_loss, lambda: (images(),)),
    "TotalVariationLoss": Call(imagelosses.TotalVariationLoss, lambda: (images(),)),
    "psnr": Call(ilm.psnr, lambda: (images(), images())),
    "mean_chroma": Call(ilm.mean_chroma, lambda: (images(),)),
    "high_frequency_energy": Call(ilm.high_frequency_energy, lambda: (images(),)),
    "channel_histogram_distance": Call(ilm.channel_histogram_distance, lambda: (images(), images(n=1))),
    "copied_fraction": Call(ilm.copied_fraction, lambda: (images(), images(n=1)), {"patch": 4}),
    "L1Loss": Call(imagelosses.L1Loss, lambda: (images(), images())),
    "CharbonnierLoss": Call(imagelosses.CharbonnierLoss, lambda: (images(), images())),
    # segmentation
    "pixel_cross_entropy": Call(ilf.pixel_cross_entropy, lambda: (logits(), classes())),
    "PixelCrossEntropyLoss": Call(imagelosses.PixelCrossEntropyLoss, lambda: (logits(), classes())),
    "dice_loss": Call(ilf.dice_loss, lambda: (logits(), classes())),
    "DiceLoss": Call(imagelosses.DiceLoss, lambda: (logits(), classes())),
    "focal_loss": Call(ilf.focal_loss, lambda: (logits(), classes())),
    "FocalLoss": Call(imagelosses.FocalLoss, lambda: (logits(), classes())),
    "tversky_loss": Call(ilf.tversky_loss, lambda: (logits(), classes())),
    "TverskyLoss": Call(imagelosses.TverskyLoss, lambda: (logits(), classes())),
    "generalized_dice_loss": Call(ilf.generalized_dice_loss, lambda: (logits(), classes())),
    "GeneralizedDiceLoss": Call(imagelosses.GeneralizedDiceLoss, lambda: (logits(), classes())),
    "dice_ce_loss": Call(ilf.dice_ce_loss, lambda: (logits(), classes())),
    "DiceCELoss": Call(imagelosses.DiceCELoss, lambda: (logits(), classes())),
    "lovasz_softmax_loss": Call(ilf.lovasz_softmax_loss, lambda: (logits(), classes())),
    "LovaszSoftmaxLoss": Call(imagelosses.LovaszSoftmaxLoss, lambda: (logits(), classes())),
    "class_frequency_weights": Call(ilf.class_frequency_weights, lambda: (torch.tensor([10, 5, 1]), "balanced"),
                                    skip={3: "integer counts: no NaN"}),
    "unet_weight_map": Call(imagelosses.unet_weight_map, lambda: (instances(),),
                            skip={3: "integer instance ids: no NaN"}),
    "soft_cldice_loss": Call(ilf.soft_cldice_loss, lambda: (logits(c=1, side=12), mask(side=12))),
    "SoftClDiceLoss": Call(imagelosses.SoftClDiceLoss, lambda: (logits(c=1, side=12), mask(side=12))),
    "soft_skeleton": Call(imagelosses.soft_skeleton, lambda: (mask(side=12),)),
    # feature losses
    "gram_matrix": Call(imagelosses.gram_matrix, lambda: (images(),)),
    "perceptual_loss": Call(ilf.perceptual_loss, lambda: (images(), images()), dict(FEAT)),
    "PerceptualLoss": Call(imagelosses.PerceptualLoss, lambda: (images(), images()), dict(FEAT)),
    "style_loss": Call(ilf.style_loss, lambda: (images(), images()), dict(FEAT)),
    "StyleLoss": Call(imagelosses.StyleLoss, lambda: (images(), images()), dict(FEAT)),
    "texture_loss": Call(ilf.texture_loss, lambda: (images(), images()), dict(FEAT)),
    "TextureLoss": Call(imagelosses.TextureLoss, lambda: (images(), images()), dict(FEAT)),
    "content_style_loss": Call(ilf.content_style_loss, lambda: (images(), images(), images()), dict(FEAT_CS)),
    "ContentStyleLoss": Call(imagelosses.ContentStyleLoss, lambda: (images(), images(), images()), dict(FEAT_CS)),
    "CombinedFeatureLoss": Call(
        lambda **o: imagelosses.CombinedFeatureLoss(
            {"p": (1.0, imagelosses.PerceptualLoss(**FEAT)), "s": (1e3, imagelosses.StyleLoss(**FEAT))}, **o),
        lambda: (images(), images()), skip={4: "its options are loss objects and weights (tested in test_perceptual)"},
        build=True),
    "topology_loss": Call(ilf.topology_loss, lambda: (mask(side=16) * 0.8 + 0.1, mask(side=16)), dict(FEAT)),
    "TopologyLoss": Call(imagelosses.TopologyLoss, lambda: (mask(side=16) * 0.8 + 0.1, mask(side=16)), dict(FEAT)),
    "topology_aware_loss": Call(ilf.topology_aware_loss, lambda: (logits(c=1, side=16), mask(side=16)), dict(FEAT)),
    "TopologyAwareLoss": Call(imagelosses.TopologyAwareLoss, lambda: (logits(c=1, side=16), mask(side=16)),
                              dict(FEAT)),
    "iterative_refinement": Call(imagelosses.iterative_refinement,
                                 lambda: (lambda x: x[:, :1] - x[:, 1:], logits(c=1, side=8), 2)),
    "refinement_loss": Call(imagelosses.refinement_loss,
                            lambda: (lambda x: x[:, :1] - x[:, 1:], logits(c=1, side=8), mask(side=8),
                                     lambda p, t: ilf.mse_loss(torch.sigmoid(p), t))),
    "refinement_weights": Call(imagelosses.refinement_weights, lambda: (3,), skip={3: "takes no tensor"}),
    "VGGFeatures": Call(lambda **o: (lambda x: imagelosses.VGGFeatures("vgg16", ("relu1_2",), weights=None, **o)(x)
                                     ["relu1_2"]), lambda: (images(),), build=True),
    # metric learning
    "triplet_loss": Call(ilf.triplet_loss, lambda: (embeddings(), labels())),
    "TripletLoss": Call(imagelosses.TripletLoss, lambda: (embeddings(), labels())),
    "triplet_margin_loss": Call(ilf.triplet_margin_loss, lambda: (embeddings(), embeddings(), embeddings())),
    "OfflineTripletLoss": Call(imagelosses.OfflineTripletLoss, lambda: (embeddings(), embeddings(), embeddings())),
    "contrastive_loss": Call(ilf.contrastive_loss, lambda: (embeddings(), embeddings(), torch.arange(8) % 2)),
    "batch_contrastive_loss": Call(ilf.batch_contrastive_loss, lambda: (embeddings(), labels())),
    "ContrastiveLoss": Call(imagelosses.ContrastiveLoss, lambda: (embeddings(), labels())),
    "nt_xent_loss": Call(ilf.nt_xent_loss, lambda: (embeddings(), embeddings())),
    "NTXentLoss": Call(imagelosses.NTXentLoss, lambda: (embeddings(), embeddings())),
    "supcon_loss": Call(ilf.supcon_loss, lambda: (embeddings(), labels())),
    "SupConLoss": Call(imagelosses.SupConLoss, lambda: (embeddings(), labels())),
    "mine_triplets": Call(imagelosses.mine_triplets, lambda: (embeddings(), labels())),
    "pairwise_distances": Call(emb.pairwise_distances, lambda: (embeddings(),), {"distance": "euclidean"}),
    "row_distances": Call(emb.row_distances, lambda: (embeddings(), embeddings())),
    "l2_normalize": Call(emb.l2_normalize, lambda: (embeddings(),)),
    "gather_batch": Call(emb.gather_batch, lambda: (embeddings(), labels())),
    "PKSampler": Call(lambda **o: (lambda y: list(imagelosses.PKSampler(y, p=2, k=2, num_batches=2, **o))),
                      lambda: (labels(),), skip={3: "takes integer labels"}, build=True),
    "recall_at_k": Call(ilm.recall_at_k, lambda: (embeddings(), labels())),
    # GAN
    "discriminator_loss": Call(ilf.discriminator_loss, lambda: (embeddings(), embeddings())),
    "generator_loss": Call(ilf.generator_loss, lambda: (embeddings(),)),
    "GANLoss": Call(imagelosses.GANLoss, lambda: (embeddings(), embeddings())),
    "gradient_penalty": Call(ilf.gradient_penalty, lambda: (critic, images(), images())),
    "GradientPenalty": Call(imagelosses.GradientPenalty, lambda: (critic, images(), images())),
    "cycle_consistency_loss": Call(ilf.cycle_consistency_loss, lambda: (images(), images())),
    "CycleConsistencyLoss": Call(imagelosses.CycleConsistencyLoss, lambda: (images(), images())),
    "identity_loss": Call(ilf.identity_loss, lambda: (images(), images())),
    "IdentityLoss": Call(imagelosses.IdentityLoss, lambda: (images(), images())),
    "ImagePool": Call(imagelosses.ImagePool, lambda: (images(),), {"size": 4}),
    "clip_weights_": Call(imagelosses.clip_weights_, lambda: (torch.nn.Linear(2, 2),),
                          skip={3: "takes a module", 5: "takes a module"}),
    "wgan_critic_iterations": Call(imagelosses.wgan_critic_iterations, lambda: (3,), skip={3: "takes integers"}),
    "mode_coverage": Call(ilm.mode_coverage, lambda: (embeddings(d=2), embeddings(b=3, d=2), 0.5),
                          skip={3: "documented: a non-finite sample is never high-quality (a diverged generator "
                                   "covers no mode)"}),
    # topology metrics (numpy or torch binary masks)
    "topology_scores": Call(ilm.topology_scores, lambda: (mask(), mask())),
    "betti_errors": Call(ilm.betti_errors, lambda: (mask(), mask())),
    "betti_numbers": Call(ilm.betti_numbers, lambda: (mask(),)),
    "centerline": Call(ilm.centerline, lambda: (mask(),)),
    "cldice_score": Call(ilm.cldice_score, lambda: (mask(), mask())),
    "completeness_correctness_quality": Call(ilm.completeness_correctness_quality, lambda: (mask(), mask())),
}

#: Public names that are not callables of data, with the reason.
NOT_CALLED = {
    "DISTANCES": "constant", "MINING": "constant", "LSGAN_CODINGS": "constant",
    "TripletStats": "a NamedTuple of results", "ModeCoverage": "a NamedTuple of results",
    "BettiErrors": "a NamedTuple of results", "CCQ": "a NamedTuple of results",
    "is_distributed": "takes no argument",
}


def _public() -> dict[str, Any]:
    names: dict[str, Any] = {}
    for module in (imagelosses, ilf, ilm, emb):
        for name in module.__all__:
            names.setdefault(name, getattr(module, name))
    return names


def test_every_public_callable_is_listed() -> None:
    missing = sorted(set(_public()) - set(CALLS) - set(NOT_CALLED))
    assert not missing, f"public names missing from the API fuzz table: {missing}"


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_listed_call_is_valid(name: str) -> None:
    CALLS[name]()


def _signature_of(name: str) -> inspect.Signature:
    return inspect.signature(_public()[name])  # a module built on an options object shows its fields


def _options(name: str, kind: type) -> list[str]:
    """The keyword options of ``name`` whose default is a ``kind`` (bool, int or float; not bool for int)."""
    out = []
    for p in _signature_of(name).parameters.values():
        d = p.default
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and type(d) is kind:
            out.append(p.name)
    return out


def _expect_named_error(call: Callable[[], Any], option: str, exc: type[Exception]) -> None:
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    assert ERROR.match(str(info.value)), str(info.value)
    assert str(info.value).startswith(f"{option}:"), (option, str(info.value))
    assert isinstance(info.value, exc), (option, type(info.value), str(info.value))


# ---------------------------------------------------------------------------------- 4. option types
@pytest.mark.parametrize("name", sorted(n for n in CALLS if 4 not in CALLS[n].skip))
def test_bool_int_and_number_options_refuse_other_types_by_name(name: str) -> None:
    call = CALLS[name]
    checked = 0
    for option in _options(name, bool):
        _expect_named_error(lambda o=option: call(**{o: "False"}), option, TypeError)
        _expect_named_error(lambda o=option: call(**{o: 0}), option, TypeError)
        checked += 1
    for option in _options(name, int):
        # a closed set of integers (connectivity 4 or 8) refuses them as values: ValueError, named
        _expect_named_error(lambda o=option: call(**{o: True}), option, Exception)
        _expect_named_error(lambda o=option: call(**{o: 2.5}), option, Exception)
        checked += 1
    for option in _options(name, float):
        _expect_named_error(lambda o=option: call(**{o: "1"}), option, TypeError)
        checked += 1
    if not checked:
        pytest.skip(f"{name} has no bool, int or number option")


def test_an_option_that_cannot_apply_is_refused() -> None:
    one_channel = (logits(c=1), (torch.rand(2, 1, 8, 8, generator=_g()) > 0.5).float())
    for call in (lambda: ilf.dice_loss(*one_channel, include_background=False),
                 lambda: imagelosses.DiceLoss(include_background=False)(*one_channel)):
        with pytest.raises(ValueError, match=r"^include_background: expected True for a single-channel input "):
            call()


def test_ids_and_labels_are_checked_for_type_and_range() -> None:
    big = np.zeros((1, 12, 12), dtype=np.uint64)
    big[0, 2:5, 2:5] = np.iinfo(np.uint64).max  # two cells whose ids wrap to -1 and -2 as int64
    big[0, 2:5, 7:10] = np.iinfo(np.uint64).max - 1
    as_int = (big > 0).astype(np.int64)
    as_int[0, 2:5, 7:10] = 2
    torch.testing.assert_close(imagelosses.unet_weight_map(big), imagelosses.unet_weight_map(as_int))
    with pytest.raises(TypeError, match=r"^instances: expected an integer instance map"):
        imagelosses.unet_weight_map(np.zeros((4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"^instances: expected non-negative instance ids"):
        imagelosses.unet_weight_map(-torch.ones(1, 4, 4, dtype=torch.long))
    for call in (lambda: ilf.triplet_loss(embeddings(), labels().float()),
                 lambda: ilm.recall_at_k(embeddings(), labels().bool()),
                 lambda: imagelosses.PKSampler(labels().float(), p=2, k=2)):
        with pytest.raises(TypeError, match=r"^labels: expected "):
            call()


# ------------------------------------------------------------------------------------------ 3. NaN
def _first_float(args: tuple[Any, ...]) -> int | None:
    return next((i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.is_floating_point()), None)


def _has_nan(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return bool(torch.isnan(value).any()) if value.is_floating_point() else False
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (tuple, list)):
        return any(_has_nan(v) for v in value)
    return False


@pytest.mark.parametrize("name", sorted(n for n in CALLS if 3 not in CALLS[n].skip))
def test_nan_in_gives_nan_out_or_a_named_error(name: str) -> None:
    call = CALLS[name]
    args = list(call.args())
    i = _first_float(tuple(args))
    assert i is not None, f"{name}: no floating input to poison (mark it skip={{3: reason}})"
    x = args[i].clone()
    x.view(-1)[x.numel() // 2] = float("nan")
    args[i] = x
    try:
        value = call(tuple(args))
    except (ValueError, TypeError) as error:
        assert ERROR.match(str(error)), f"{name}: {error}"
        return
    assert _has_nan(value), f"{name}: a finite answer from a NaN input: {value}"


def test_distance_helpers_keep_nan() -> None:
    x = embeddings()
    x[1, 2] = float("nan")
    for distance in ("euclidean", "squared_euclidean", "cosine"):
        d = emb.pairwise_distances(x, distance=distance)
        assert torch.isnan(d[1, [0, 2, 3]]).all() and d[1, 1] == 0  # the diagonal is exactly 0 by definition
        r = emb.row_distances(x, embeddings(), distance=distance)
        assert torch.isnan(r[1]) and torch.isfinite(r[[0, 2]]).all()


# ------------------------------------------------------------------------------- 5. empty and meta
@pytest.mark.parametrize("name", sorted(n for n in CALLS if 5 not in CALLS[n].skip))
def test_meta_tensors_get_a_named_error(name: str) -> None:
    call = CALLS[name]
    args = list(call.args())
    i = next((i for i, a in enumerate(args) if isinstance(a, torch.Tensor)), None)
    if i is None:
        pytest.skip(f"{name} takes no tensor")
    args[i] = args[i].to("meta")
    with pytest.raises((ValueError, TypeError)) as info:
        call(tuple(args))
    assert ERROR.match(str(info.value)), f"{name}: {info.value}"


@pytest.mark.parametrize("name", sorted(n for n in CALLS if 5 not in CALLS[n].skip))
def test_an_empty_dimension_gives_a_value_or_a_named_error(name: str) -> None:
    call = CALLS[name]
    args = list(call.args())
    tensors = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.ndim >= 2]
    if not tensors:
        pytest.skip(f"{name} takes no tensor of two or more dimensions")
    for i in tensors:
        args[i] = args[i][..., :0]  # the last dimension (width, or the embedding size) is empty
    try:
        value = call(tuple(args))
    except (ValueError, TypeError) as error:
        assert ERROR.match(str(error)), f"{name}: {error}"
        return
    if isinstance(value, torch.Tensor) and value.is_floating_point() and value.ndim == 0:
        assert torch.isfinite(value), f"{name}: {value} from an empty dimension"


def test_empty_feature_maps_and_embeddings_get_named_errors() -> None:
    with pytest.raises(ValueError, match=r"^features: expected non-empty feature maps"):
        imagelosses.gram_matrix(torch.zeros(2, 3, 0, 0))
    with pytest.raises(ValueError, match=r"^embeddings: expected"):
        imagelosses.TripletLoss()(torch.zeros(4, 0), torch.tensor([0, 0, 1, 1]))


# ----------------------------------------------------------------------- 1. half through composites
COMPOSITES: dict[str, tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], Callable[[], Any]]] = {
    # μ chosen so that the float32 answer (about 2.5e5) is beyond float16's 65504
    "topology_aware_loss": (lambda x, m: ilf.topology_aware_loss(x, m, mu=1e6, **FEAT),
                            lambda: (logits(c=1, side=16) * 3, mask(side=16))),
    "TopologyAwareLoss": (lambda x, m: imagelosses.TopologyAwareLoss(mu=1e6, **FEAT)(x, m),
                          lambda: (logits(c=1, side=16) * 3, mask(side=16))),
    "content_style_loss": (lambda x, c: ilf.content_style_loss(x, c, c.flip(-1), style_weight=1e9, **FEAT_CS),
                           lambda: (images(), images())),
    "CombinedFeatureLoss": (lambda x, t: imagelosses.CombinedFeatureLoss(
        {"p": (1e6, imagelosses.PerceptualLoss(**FEAT)), "s": (1e9, imagelosses.StyleLoss(**FEAT))})(x, t),
                            lambda: (images(), images())),
    "soft_cldice_loss": (lambda x, m: ilf.soft_cldice_loss(x, m), lambda: (logits(c=1, side=12), mask(side=12))),
    "refinement_loss": (lambda x, m: imagelosses.refinement_loss(
        lambda y: y[:, :1] - y[:, 1:], x, m, lambda p, t: ilf.topology_aware_loss(p, t, mu=1e6, **FEAT)),
                        lambda: (logits(c=1, side=16) * 3, mask(side=16))),
}


@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16], ids=["fp16", "bf16"])
@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_composites_give_the_float32_answer_for_half_inputs(name: str, half: torch.dtype) -> None:
    loss, make = COMPOSITES[name]
    x, t = make()
    x, t = x.to(half), t.to(half)
    reference = loss(x.float(), t.float())  # the float32 answer on the same (rounded) inputs
    value = loss(x, t)
    assert torch.isfinite(value), f"{name}: {value} for {half} inputs (float32 answer {reference})"
    if float(reference.abs()) > torch.finfo(torch.float16).max:
        assert value.dtype == torch.float32, f"{name}: {value.dtype} cannot hold {reference}"
    tol = 4e-3 if half == torch.float16 else 3e-2
    torch.testing.assert_close(value.float(), reference, rtol=tol, atol=tol)
    with torch.autocast("cpu", dtype=torch.float16):
        autocast = loss(x.float(), t.float())
    assert torch.isfinite(autocast), f"{name}: {autocast} under autocast(float16)"
    torch.testing.assert_close(autocast.float(), reference, rtol=3e-2, atol=3e-2)


# --------------------------------------------------------------------- 6. valid input of another type
@pytest.mark.parametrize("weights", [[1.0, 3.0], (1.0, 3.0), np.array([1.0, 3.0]), torch.tensor([1.0, 3.0]),
                                     np.array([1.0, 3.0], dtype=np.float32)], ids=["list", "tuple", "numpy",
                                                                                   "tensor", "numpy32"])
def test_unet_weight_map_takes_class_weights_of_any_array_type(weights: Any) -> None:
    expected = imagelosses.unet_weight_map(instances(), class_weight=[1.0, 3.0])
    torch.testing.assert_close(imagelosses.unet_weight_map(instances(), class_weight=weights), expected)
