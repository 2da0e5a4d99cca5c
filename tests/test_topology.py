"""Mosinska et al.'s topology loss, the pixel + topology loss and the iterative refinement: the standard
harness on a random-weight tiny VGG, the stated normalisation against a naive sum, the break-vs-spread
claim on the real Oxford weights, one-pass sharing in CombinedFeatureLoss, and the refinement weights."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

import imagelosses as il
from imagelosses.backbones import VGGFeatures
from imagelosses.losses.refinement import iterative_refinement, refinement_loss, refinement_weights
from imagelosses.losses.topology import (
    MOSINSKA_LAYERS,
    TopologyAwareLoss,
    TopologyLoss,
    receptive_field,
    topology_aware_loss,
    topology_loss,
)
from tests._harness import BadInput, BadOption, LossCase, StandardLossTests, replace_arg, with_kwargs
from tests.vgg_fixtures import TinyExtractors, oxford_cache, tiny_vgg  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("one_thread")

LAYERS = ("conv1_2", "conv2_1")  # receptive field 10 px
SIDE = 10
TINY = TinyExtractors(LAYERS)
EXT32 = TINY.float32
EXTRACTORS = TINY.by_dtype








def _maps(logits: bool) -> Callable[[torch.dtype, int, float], tuple[torch.Tensor, torch.Tensor]]:
    """(probability map or logits, binary mask), (2, 1, 10, 10)."""

    def make(dtype: torch.dtype, seed: int, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(2, 1, SIDE, SIDE, generator=g, dtype=dtype) * scale
        mask = (torch.rand(2, 1, SIDE, SIDE, generator=g) > 0.7).to(dtype)
        return (x if logits else torch.sigmoid(x)), mask

    return make






COMMON_BAD = [
    BadInput("3-channel mask", replace_arg(1, lambda y: y.repeat(1, 3, 1, 1)), ValueError,
             "target: expected one channel (N, 1, H, W) (a mask; it is repeated to 3 channels inside), "
             "got shape (2, 3, 10, 10)"),
    BadInput("smaller than receptive field", lambda a: ((a[0][..., :9, :], a[1][..., :9, :]), {}), ValueError,
             "input: expected height and width >= 10, the receptive field of 'conv2_1' (vgg16), got shape "
             "(2, 1, 9, 10)"),
    BadInput("mismatched shapes", replace_arg(1, lambda y: torch.cat([y, y], -1)), ValueError,
             "target: expected shape matching input (2, 1, 10, 10), got (2, 1, 10, 20)"),
    BadInput("0/255 mask", replace_arg(1, lambda y: y * 255), ValueError,
             "target: expected binary labels in [0, 1] (a 0/255 mask: divide it by 255), got values in [0, 255]"),
    BadInput("integer map", replace_arg(0, lambda x: x.long()), TypeError,
             "input: expected a floating-point tensor, got dtype torch.int64"),
    BadInput("3-D map", replace_arg(0, lambda x: x[:, 0]), ValueError,
             "input: expected a tensor of shape (N, 1, H, W)"),
    BadInput("unknown layer", with_kwargs(layers=("conv3_4",)), ValueError,
             "layers: expected layer names of vgg16: conv1_1, relu1_1"),
    BadInput("reduction", with_kwargs(reduction="avg"), ValueError,
             "reduction: expected one of 'none', 'mean', 'sum', got 'avg'"),
]

BAD_OPTIONS = [
    BadOption("negative weight", {"layer_weights": (1.0, -2.0)}, ValueError,
              "layer_weights[1]: expected a finite number >= 0.0, got -2.0"),
    BadOption("past truncation", {"layers": ("conv3_3",), "layer_weights": None}, ValueError,
              "layers: expected layers up to 'conv2_1' (this extractor is truncated there"),
    BadOption("reduction", {"reduction": "batch"}, ValueError,
              "reduction: expected one of 'none', 'mean', 'sum', got 'batch'"),
]

CASES = [
    LossCase(
        name="topology",
        functional=TINY.functional(topology_loss),
        module=TINY.module(TopologyLoss),
        make_inputs=_maps(logits=False),
        kwargs={"layers": LAYERS, "layer_weights": (1.0, 0.5)},
        none_shape=lambda a: (a[0].shape[0],),
        identical=lambda a: (a[0], a[0]),
        bad_inputs=[
            *COMMON_BAD,
            BadInput("logits where probabilities are expected", lambda a: ((a[0] * 8 - 4, a[1]), {"check_range": True}),
                     ValueError, "input: expected probabilities in [0, 1] (pass sigmoid(logits), not logits), got "
                     "values in"),
        ],
        bad_options=[*BAD_OPTIONS, BadOption("check_range", {"check_range": "yes"}, TypeError,
                                             "check_range: expected a bool (True or False), got 'yes'")],
    ),
    LossCase(
        name="topology_aware",
        functional=TINY.functional(topology_aware_loss),
        module=TINY.module(TopologyAwareLoss),
        make_inputs=_maps(logits=True),
        kwargs={"layers": LAYERS, "mu": 0.3},
        none_shape=lambda a: (a[0].shape[0],),
        bad_inputs=[
            *COMMON_BAD,
            BadInput("negative mu", with_kwargs(mu=-0.1), ValueError, "mu: expected a finite number >= 0.0, got -0.1"),
            BadInput("pixel loss shape", with_kwargs(pixel_loss=il.DiceLoss(reduction="none")), ValueError,
                     "pixel_loss: expected a value of shape () for reduction='mean' (configure the pixel loss's own "
                     "reduction to match), got shape (2, 1)"),
            BadInput("pixel loss not callable", with_kwargs(pixel_loss="bce"), TypeError,
                     "pixel_loss: expected None (binary cross-entropy from logits) or a loss on (logits, target)"),
            BadInput("nan", lambda a: ((a[0] * float("nan"), a[1]), {"check_finite": True}), ValueError,
                     "input: expected finite values, got 200 NaN or infinite entries"),
        ],
        bad_options=[*BAD_OPTIONS, BadOption("mu", {"mu": float("inf")}, ValueError,
                                             "mu: expected a finite number >= 0.0, got inf")],
    ),
]


class TestTopologyStandard(StandardLossTests):
    cases = CASES


# ------------------------------------------------------------------------------------------ the math


def test_normalisation_is_mean_squared_difference_per_layer_on_three_channel_maps() -> None:
    """L = Σ_n w_n/(C_n H_n W_n) Σ_m ‖l_n^m(y) − l_n^m(p)‖² with p, y repeated to 3 channels; the paper's raw
    sum is layer_weights = C_n H_n W_n."""
    vgg = EXTRACTORS[torch.float64]
    g = torch.Generator().manual_seed(3)
    p = torch.rand(3, 1, 16, 18, generator=g, dtype=torch.float64)
    y = (torch.rand(3, 1, 16, 18, generator=g) > 0.5).double()
    fp, fy = vgg(p.repeat(1, 3, 1, 1)), vgg(y.repeat(1, 3, 1, 1))
    raw = torch.stack([((fy[k][b] - fp[k][b]) ** 2).sum() for b in range(3) for k in LAYERS]).view(3, 2)
    sizes = torch.tensor([fp[k][0].numel() for k in LAYERS], dtype=torch.float64)
    weights = (2.0, 0.5)
    ours = topology_loss(p, y, extractor=vgg, layers=LAYERS, layer_weights=weights, reduction="none")
    torch.testing.assert_close(ours, (raw / sizes * torch.tensor(weights, dtype=torch.float64)).sum(1))
    paper = topology_loss(p, y, extractor=vgg, layers=LAYERS, layer_weights=sizes.tolist(), reduction="sum")
    torch.testing.assert_close(paper, raw.sum())


def test_receptive_fields() -> None:
    # 1 + 2·(convs at stride 1) + 1 (pool1) + 2·2·(convs at stride 2) + 2 (pool2) + 4·2·(convs at stride 4)
    assert receptive_field("vgg16", "conv1_2") == 1 + 2 * 2
    assert receptive_field("vgg16", "conv2_2") == 1 + 4 + 1 + 8
    assert receptive_field("vgg16", "conv3_3") == 1 + 4 + 1 + 8 + 2 + 24
    assert receptive_field("vgg19", "conv3_4") == 1 + 4 + 1 + 8 + 2 + 32


def test_default_layers_follow_the_arch() -> None:
    assert TopologyLoss.default_extractor == "vgg19-imagenet"  # None: the paper's VGG19 (torchvision's download)
    assert TopologyLoss(extractor="vgg19-random").extractor.arch == "vgg19"
    assert TopologyLoss(extractor="vgg19-random").layers == MOSINSKA_LAYERS["vgg19"] == ("conv1_2", "conv2_2",
                                                                                         "conv3_4")
    vgg16 = TopologyLoss(extractor="vgg16-random")
    assert vgg16.layers == ("conv1_2", "conv2_2", "conv3_3") and vgg16.extractor.available_layers[-1] == "conv3_3"
    shared = tiny_vgg(("conv3_3",))
    assert TopologyLoss(extractor=shared).layers == MOSINSKA_LAYERS["vgg16"]
    assert TopologyAwareLoss(extractor=shared).layers == MOSINSKA_LAYERS["vgg16"]
    assert TopologyAwareLoss(extractor="vgg19-random").layers == MOSINSKA_LAYERS["vgg19"]
    with pytest.raises(ValueError, match=r"extractor: expected one of 'vgg16-oxford', .*, got 'vgg11'"):
        TopologyLoss(extractor="vgg11")
    with pytest.raises(TypeError, match="unexpected keyword argument 'arch'"):  # one backbone argument
        TopologyLoss(extractor=shared, arch="vgg16")
    with pytest.raises(ValueError, match=r"layers: expected layer names when the inputs are feature dicts"):
        topology_loss({"conv1_2": torch.zeros(1, 64, 4, 4)}, {"conv1_2": torch.zeros(1, 64, 4, 4)})


def test_a_pixel_loss_module_is_a_submodule() -> None:
    dice = il.DiceLoss()
    loss = TopologyAwareLoss(extractor=tiny_vgg(LAYERS), layers=LAYERS, pixel_loss=dice)
    assert loss.pixel_loss is dice and dict(loss.named_children())["pixel_loss"] is dice
    other = il.FocalLoss()
    loss.pixel_loss = other  # re-checked, and the submodule follows
    assert loss.pixel_loss is other and loss.options.pixel_loss is other
    with pytest.raises(TypeError, match="pixel_loss: expected None"):
        loss.pixel_loss = "bce"


@pytest.mark.usefixtures("oxford_cache")
def test_oxford_weights_give_the_vgg16_analogue() -> None:
    loss = TopologyLoss(extractor="vgg16-oxford")
    assert loss.extractor.arch == "vgg16" and loss.layers == ("conv1_2", "conv2_2", "conv3_3")
    assert loss.extractor.weights_source == "oxford"


def _line(side: int = 64, width: int = 3) -> torch.Tensor:
    mask = torch.zeros(1, 1, side, side)
    top = side // 2 - width // 2
    mask[..., top:top + width, 4:side - 4] = 1
    return mask


@pytest.mark.usefixtures("oxford_cache")
@pytest.mark.parametrize("width", [2, 3, 4])
def test_a_one_pixel_break_costs_more_than_the_same_errors_spread_along_the_edge(width: int) -> None:
    """Drawn lines at 64 px, real Oxford weights: cutting the line (a 1-px gap through its whole width) costs
    more topology loss than removing as many pixels spread along its edge, though every pixel loss is equal."""
    vgg = VGGFeatures("vgg16", MOSINSKA_LAYERS["vgg16"], weights="oxford")
    mask = _line(width=width)
    top = 32 - width // 2
    broken = mask.clone()
    broken[..., top:top + width, 31] = 0
    spread = mask.clone()
    for c in torch.linspace(8, 55, width).round().long().tolist():  # the line's outer row (its edge), far apart
        spread[..., top, c] = 0
    assert int((broken != mask).sum()) == int((spread != mask).sum()) == width
    assert float(torch.nn.functional.mse_loss(broken, mask)) == float(torch.nn.functional.mse_loss(spread, mask))
    assert float(topology_loss(mask, mask, extractor=vgg)) == 0.0
    cut = topology_loss(broken, mask, extractor=vgg)
    edge = topology_loss(spread, mask, extractor=vgg)
    assert float(cut) > 1.2 * float(edge) > 0


@pytest.mark.usefixtures("oxford_cache")
def test_gradients_reach_the_logits_on_real_weights() -> None:
    vgg = VGGFeatures("vgg16", MOSINSKA_LAYERS["vgg16"], weights="oxford")
    logits = torch.randn(2, 1, 48, 48, requires_grad=True)
    mask = torch.zeros(2, 1, 48, 48)
    mask[..., 20:23, :] = 1
    parts = TopologyAwareLoss(extractor=vgg, mu=1e-6)(logits, mask, return_parts=True)
    (topo_grad,) = torch.autograd.grad(parts.topology, logits, retain_graph=True)
    (grad,) = torch.autograd.grad(parts.total, logits)
    assert torch.isfinite(grad).all() and topo_grad.abs().sum() > 0
    (pixel_grad,) = torch.autograd.grad(topology_aware_loss(logits, mask, extractor=vgg, mu=0.0), logits)
    torch.testing.assert_close(grad, pixel_grad + 1e-6 * topo_grad)


def test_parts_and_custom_pixel_loss() -> None:
    logits, mask = _maps(True)(torch.float32, 0, 2.0)
    parts = topology_aware_loss(logits, mask, extractor=EXT32, layers=LAYERS, mu=0.25, return_parts=True)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, mask)
    torch.testing.assert_close(parts.pixel, bce)
    torch.testing.assert_close(parts.topology, topology_loss(torch.sigmoid(logits), mask, extractor=EXT32,
                                                             layers=LAYERS))
    torch.testing.assert_close(parts.total, bce + 0.25 * parts.topology)
    dice = il.DiceLoss()
    module = TopologyAwareLoss(extractor=EXT32, layers=LAYERS, mu=0.25, pixel_loss=dice)
    assert "pixel_loss=DiceLoss" in repr(module)
    torch.testing.assert_close(module(logits, mask), dice(logits, mask) + 0.25 * parts.topology)


def test_in_combined_feature_loss_one_pass_per_image() -> None:
    vgg = tiny_vgg(("relu1_2", "conv2_1"))
    topo = TopologyLoss(extractor=vgg, layers=("conv2_1",))
    perceptual = il.PerceptualLoss(extractor=vgg, layers=("relu1_2",))
    combined = il.CombinedFeatureLoss({"topology": (0.5, topo), "perceptual": (2.0, perceptual)})
    p, y = _maps(False)(torch.float32, 1, 1.0)
    calls: list[bool] = []
    vgg.register_forward_hook(lambda m, a, o: calls.append(torch.is_grad_enabled()))
    p.requires_grad_(True)
    out = combined(p, y, return_parts=True)
    assert calls == [True, False]
    torch.testing.assert_close(out.parts["topology"], topo(p, y))
    torch.testing.assert_close(out.total, 0.5 * topo(p, y) + 2.0 * perceptual(p, y))


# ------------------------------------------------------------------------------------------ refinement


@pytest.mark.parametrize("steps", [1, 2, 3, 5, 8])
def test_refinement_weights_are_k_over_z_and_sum_to_one(steps: int) -> None:
    w = refinement_weights(steps, dtype=torch.float64)
    z = steps * (steps + 1) / 2
    torch.testing.assert_close(w, torch.tensor([k / z for k in range(1, steps + 1)], dtype=torch.float64))
    assert abs(float(w.sum()) - 1.0) < 1e-12


def test_refinement_rejects_k_below_one() -> None:
    with pytest.raises(ValueError, match="steps: expected a positive integer, got 0"):
        refinement_weights(0)
    with pytest.raises(TypeError, match="steps: expected a positive integer, got float"):
        refinement_loss(torch.nn.Identity(), torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4), lambda a, b: a.sum(),
                        steps=2.0)  # type: ignore[arg-type]


def test_refinement_applies_the_net_to_image_and_previous_prediction() -> None:
    torch.manual_seed(0)
    net = torch.nn.Conv2d(2, 1, 3, padding=1)
    image = torch.rand(2, 1, 8, 8)
    target = (torch.rand(2, 1, 8, 8) > 0.5).float()
    seen: list[torch.Tensor] = []
    net.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    bce = torch.nn.BCEWithLogitsLoss()
    parts = refinement_loss(net, image, target, bce, steps=3, return_parts=True)
    assert torch.equal(seen[0][:, 1:], torch.zeros(2, 1, 8, 8))  # from an empty map
    for k in (1, 2):
        torch.testing.assert_close(seen[k][:, :1], image)
        torch.testing.assert_close(seen[k][:, 1:], torch.sigmoid(parts.logits[k - 1]).detach())
    expect = sum((k / 6) * bce(x, target) for k, x in enumerate(parts.logits, start=1))
    torch.testing.assert_close(parts.total, expect)
    # the gradient runs through the chain unless detached
    g_chain = torch.autograd.grad(refinement_loss(net, image, target, bce, steps=3), net.weight)[0]
    g_detached = torch.autograd.grad(refinement_loss(net, image, target, bce, steps=3, detach_previous=True),
                                     net.weight)[0]
    assert not torch.allclose(g_chain, g_detached)
    with pytest.raises(ValueError, match=r"model: expected logits of shape \(2, 1, 8, 8\)"):
        iterative_refinement(torch.nn.Conv2d(2, 3, 1), image, 2)
    with pytest.raises(ValueError, match="loss: expected a scalar loss per refinement step"):
        refinement_loss(net, image, target, torch.nn.BCEWithLogitsLoss(reduction="none"), steps=2)


def test_refinement_with_the_topology_aware_loss() -> None:
    torch.manual_seed(1)
    net = torch.nn.Conv2d(2, 1, 3, padding=1)
    image, target = torch.rand(1, 1, 16, 16), (torch.rand(1, 1, 16, 16) > 0.8).float()
    loss = TopologyAwareLoss(extractor=EXT32, layers=LAYERS)
    value = refinement_loss(net, image, target, loss, steps=3)
    value.backward()
    assert torch.isfinite(value) and net.weight.grad is not None and net.weight.grad.abs().sum() > 0
