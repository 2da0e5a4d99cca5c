"""Perceptual, style, texture and content/style losses: the standard harness on a random-weight tiny VGG,
reference tests against naive loops and closed forms, autocast Grams, piq agreement, one-pass sharing."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable

import pytest
import torch

import imagelosses as il
from imagelosses import functional as ilf
from imagelosses.backbones import VGGFeatures
from imagelosses.losses.style import GATYS_STYLE_LAYERS, JOHNSON_STYLE_LAYERS
from tests._harness import BadInput, BadOption, LossCase, StandardLossTests, replace_arg, with_kwargs
from tests.vgg_fixtures import TinyExtractors, oxford_cache, tiny_vgg  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("one_thread")

LAYERS = ("relu1_2", "relu2_1")
TINY = TinyExtractors(LAYERS)
EXT32 = TINY.float32
EXTRACTORS = TINY.by_dtype






def _images(*shapes: tuple[int, ...]) -> Callable[[torch.dtype, int, float], tuple[torch.Tensor, ...]]:
    """The prediction scaled by ``scale`` (an image far outside [0, 1], e.g. early in training), the targets by at
    most 1: a target outside [0, 1] is refused (``check_range``, on by default; tested below)."""

    def make(dtype: torch.dtype, seed: int, scale: float) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(seed)
        return tuple(torch.rand(*s, generator=g, dtype=dtype) * (scale if i == 0 else min(scale, 1.0))
                     for i, s in enumerate(shapes))

    return make


def _per_sample(inputs: tuple[torch.Tensor, ...]) -> tuple[int, ...]:
    return (inputs[0].shape[0],)






COMMON_BAD = [
    BadInput("unknown layer", with_kwargs(layers=("relu9_9",), layer_weights=None), ValueError,
             "layers: expected layer names of vgg16: conv1_1, relu1_1, conv1_2"),
    BadInput("past truncation", with_kwargs(layers=("relu3_1",), layer_weights=None), ValueError,
             "layers: expected layers up to 'relu2_1' (this extractor is truncated there"),
    BadInput("four channels", lambda inputs: (tuple(x.repeat(1, 2, 1, 1)[:, :4] for x in inputs[:2]), {}), ValueError,
             ": expected 1 or 3 channels"),  # input or target, whichever the loss reads first
    BadInput("integer image", lambda inputs: ((inputs[0].long(), inputs[1]), {}), TypeError,
             "input: expected a floating-point tensor, got dtype torch.int64"),
    BadInput("too small", lambda inputs: ((inputs[0][..., :1, :1], inputs[1][..., :1, :1]), {}), ValueError,
             ": expected height and width >= 2 for layer 'relu2_1'"),  # input or target, as above
    BadInput("no extractor", with_kwargs(extractor=None), ValueError, "extractor: expected a VGGFeatures"),
    BadInput("bad reduction", with_kwargs(reduction="avg"), ValueError,
             "reduction: expected one of 'none', 'mean', 'sum', got 'avg'"),
]

FEATURE_OPTIONS = [
    BadOption("reduction", {"reduction": "avg"}, ValueError,
              "reduction: expected one of 'none', 'mean', 'sum', got 'avg'"),
    BadOption("unknown preset", {"extractor": "vgg11"}, ValueError,
              "extractor: expected one of 'vgg16-oxford', 'vgg16-oxford-normalized', 'vgg16-imagenet', "
              "'vgg19-imagenet', 'vgg16-random', 'vgg19-random', got 'vgg11'"),
    BadOption("extractor type", {"extractor": torch.nn.Identity()}, TypeError,
              "extractor: expected a VGGFeatures, a preset name such as 'vgg16-oxford', or None, got Identity"),
]
LAYER_OPTIONS = [
    BadOption("past truncation", {"layers": ("relu3_1",), "layer_weights": None}, ValueError,
              "layers: expected layers up to 'relu2_1' (this extractor is truncated there"),
    BadOption("negative weight", {"layer_weights": (1.0, -1.0)}, ValueError,
              "layer_weights[1]: expected a finite number >= 0.0, got -1.0"),
]


CASES = [
    LossCase(
        name="perceptual_mse",
        functional=TINY.functional(ilf.perceptual_loss),
        module=TINY.module(il.PerceptualLoss),
        make_inputs=_images((2, 3, 4, 4), (2, 3, 4, 4)),
        kwargs={"layers": LAYERS, "layer_weights": (1.0, 0.5)},
        none_shape=_per_sample,
        identical=lambda inputs: (inputs[1], inputs[1]),
        bad_inputs=[
            *COMMON_BAD,
            BadInput("shape mismatch", replace_arg(1, lambda y: y[:, :, :2]), ValueError,
                     "target: expected shape matching input (2, 3, 4, 4), got (2, 3, 2, 4)"),
            BadInput("criterion", with_kwargs(criterion="l3"), ValueError,
                     "criterion: expected one of 'mse', 'l1', got 'l3'"),
            BadInput("weights length", with_kwargs(layer_weights=(1.0,)), ValueError,
                     "layer_weights: expected 2 weights, one per layer of ('relu1_2', 'relu2_1'), got 1"),
            BadInput("negative weight", with_kwargs(layer_weights=(1.0, -1.0)), ValueError,
                     "layer_weights[1]: expected a finite number >= 0.0, got -1.0"),
        ],
        bad_options=[*FEATURE_OPTIONS, *LAYER_OPTIONS,
                     BadOption("criterion", {"criterion": "l3"}, ValueError,
                               "criterion: expected one of 'mse', 'l1', got 'l3'")],
    ),
    LossCase(
        name="perceptual_l1_grey",
        functional=TINY.functional(ilf.perceptual_loss),
        module=TINY.module(il.PerceptualLoss),
        make_inputs=_images((2, 1, 4, 4), (2, 1, 4, 4)),
        kwargs={"layers": ("relu2_1",), "criterion": "l1"},
        none_shape=_per_sample,
        identical=lambda inputs: (inputs[1], inputs[1]),
        bad_inputs=COMMON_BAD,
        bad_options=FEATURE_OPTIONS,
    ),
    LossCase(
        name="style_one_style_image",
        functional=TINY.functional(ilf.style_loss),
        module=TINY.module(il.StyleLoss),
        make_inputs=_images((2, 3, 4, 4), (1, 3, 6, 6)),  # one style image of another size, broadcast
        kwargs={"layers": LAYERS},
        none_shape=_per_sample,
        batch_args=(0,),
        bad_inputs=[
            *COMMON_BAD,
            BadInput("style batch", replace_arg(1, lambda y: y.repeat(3, 1, 1, 1)), ValueError,
                     "target['relu1_2']: expected Gram matrices of shape (1 or 2, 64, 64), got shape (3, 64, 64)"),
            BadInput("no target", replace_arg(1, None), ValueError,
                     "target: expected an image batch, a feature dict, or target_grams, got None"),
        ],
        bad_options=[*FEATURE_OPTIONS, *LAYER_OPTIONS],
    ),
    LossCase(
        name="texture",
        functional=TINY.functional(ilf.texture_loss),
        module=TINY.module(il.TextureLoss),
        make_inputs=_images((2, 3, 4, 4), (2, 3, 4, 4)),
        kwargs={"layers": LAYERS},
        none_shape=_per_sample,
        identical=lambda inputs: (inputs[1], inputs[1]),
        bad_inputs=COMMON_BAD,
        bad_options=[*FEATURE_OPTIONS, *LAYER_OPTIONS],
    ),
    LossCase(
        name="content_style",
        functional=TINY.functional(ilf.content_style_loss),
        module=TINY.module(il.ContentStyleLoss),
        make_inputs=_images((2, 3, 4, 4), (2, 3, 4, 4), (2, 3, 4, 4)),
        kwargs={"content_layers": ("relu2_1",), "style_layers": LAYERS, "style_weight": 10.0},
        none_shape=_per_sample,
        identical=lambda inputs: (inputs[1], inputs[1], inputs[1]),
        batch_args=(0, 1, 2),
        bad_inputs=[
            BadInput("content shape", replace_arg(1, lambda y: y[:, :, :2]), ValueError,
                     "content: expected shape matching input (2, 3, 4, 4), got (2, 3, 2, 4)"),
            BadInput("negative alpha", with_kwargs(content_weight=-1.0), ValueError,
                     "content_weight: expected a finite number >= 0.0, got -1.0"),
            BadInput("no style", replace_arg(2, None), ValueError,
                     "style: expected an image batch, a feature dict, or style_grams, got None"),
        ],
        bad_options=[*FEATURE_OPTIONS,
                     BadOption("negative beta", {"style_weight": -1.0}, ValueError,
                               "style_weight: expected a finite number >= 0.0, got -1.0"),
                     BadOption("content past truncation", {"content_layers": "relu3_1"}, ValueError,
                               "layers: expected layers up to 'relu2_1'")],
    ),
]




class TestFeatureLossesStandard(StandardLossTests):
    cases = CASES


# ------------------------------------------------------------------------------------------------ references


def _naive_gram(f: torch.Tensor, normalize: str) -> torch.Tensor:
    n, c, h, w = f.shape
    out = torch.zeros(n, c, c, dtype=torch.float64)
    for b in range(n):
        for i in range(c):
            for j in range(c):
                out[b, i, j] = (f[b, i].double() * f[b, j].double()).sum()
    return out / (c * h * w) if normalize == "chw" else out


@pytest.mark.parametrize("normalize", ["chw", "none"])
def test_gram_matches_naive_loop(normalize: str) -> None:
    f = torch.randn(2, 5, 3, 4, dtype=torch.float64)
    torch.testing.assert_close(il.gram_matrix(f, normalize=normalize), _naive_gram(f, normalize))


@pytest.mark.parametrize("seed", range(3))
def test_gram_and_style_invariant_to_permuting_spatial_positions(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    f = torch.randn(2, 6, 5, 7, generator=g, dtype=torch.float64)
    t = torch.randn(1, 6, 4, 4, generator=g, dtype=torch.float64)
    perm = torch.randperm(35, generator=g)
    shuffled = f.flatten(2)[:, :, perm].reshape_as(f)
    assert not torch.equal(shuffled, f)
    torch.testing.assert_close(il.gram_matrix(shuffled), il.gram_matrix(f))
    for fn in (ilf.style_loss, ilf.texture_loss):
        torch.testing.assert_close(fn({"relu1_1": shuffled}, {"relu1_1": t}, layers=("relu1_1",)),
                                   fn({"relu1_1": f}, {"relu1_1": t}, layers=("relu1_1",)))


def _feature_dicts(seed: int, layers: tuple[str, ...]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    a, b = {}, {}
    for k, layer in enumerate(layers):
        c, s = 3 + k, 6 - k
        a[layer] = torch.rand(2, c, s, s + 1, generator=g, dtype=torch.float64) * 4
        b[layer] = torch.rand(2, c, s, s + 1, generator=g, dtype=torch.float64) * 4
    return a, b


def test_texture_loss_is_gatys_E_l_and_quarter_johnson_gram_distance() -> None:
    """E_l = 1/(4 N² M²) Σ (G − A)² with raw Grams, w_l = 1/5, and E_l = ¼ ‖G_J(x) − G_J(y)‖²_F."""
    x, y = _feature_dicts(0, GATYS_STYLE_LAYERS)
    expect = torch.zeros(2, dtype=torch.float64)
    quarter = torch.zeros(2, dtype=torch.float64)
    for layer in GATYS_STYLE_LAYERS:
        _, n, h, w = x[layer].shape
        m = h * w
        e_l = ((_naive_gram(x[layer], "none") - _naive_gram(y[layer], "none")) ** 2).sum(dim=(1, 2))
        expect += e_l / (4 * n**2 * m**2) / 5
        quarter += 0.25 * ((_naive_gram(x[layer], "chw") - _naive_gram(y[layer], "chw")) ** 2).sum(dim=(1, 2)) / 5
    torch.testing.assert_close(ilf.texture_loss(x, y, reduction="none"), expect, rtol=1e-10, atol=0)
    torch.testing.assert_close(quarter, expect, rtol=1e-10, atol=0)


def test_style_and_perceptual_match_johnson_formulas() -> None:
    layers = JOHNSON_STYLE_LAYERS
    x, y = _feature_dicts(1, layers)
    style = torch.zeros(2, dtype=torch.float64)
    feat = torch.zeros(2, dtype=torch.float64)
    for layer in layers:
        _, c, h, w = x[layer].shape
        style += ((_naive_gram(x[layer], "chw") - _naive_gram(y[layer], "chw")) ** 2).sum(dim=(1, 2))
        for b in range(2):
            feat[b] += ((x[layer][b] - y[layer][b]) ** 2).sum() / (c * h * w)
    torch.testing.assert_close(ilf.style_loss(x, y, layers=layers, reduction="none"), style)
    torch.testing.assert_close(ilf.perceptual_loss(x, y, layers=layers, reduction="none"), feat)
    torch.testing.assert_close(ilf.perceptual_loss(x, y, layers=layers, reduction="mean"), feat.mean())


def test_content_style_matches_gatys_formula() -> None:
    x, p = _feature_dicts(2, ("relu4_2",))
    sx, a = _feature_dicts(3, ("relu1_1", "relu2_1"))
    feats = {**x, **sx}
    content = 0.5 * ((x["relu4_2"] - p["relu4_2"]) ** 2).flatten(1).sum(1)
    style = ilf.texture_loss(sx, a, layers=("relu1_1", "relu2_1"), reduction="none")
    parts = ilf.content_style_loss(feats, p, a, style_layers=("relu1_1", "relu2_1"), content_weight=1e-3,
                                   style_weight=1.0, reduction="none", return_parts=True)
    torch.testing.assert_close(parts.content, content)
    torch.testing.assert_close(parts.style, style)
    torch.testing.assert_close(parts.total, 1e-3 * content + style)


def test_fp16_autocast_gram_stays_finite_where_a_naive_one_overflows() -> None:
    f = torch.rand(1, 8, 64, 64) * 30  # Σ over 4096 positions of values ~ 300 exceeds float16's 65504
    with torch.autocast("cpu", dtype=torch.float16):
        naive = torch.bmm(f.flatten(2), f.flatten(2).transpose(1, 2)) / (8 * 64 * 64)
        ours = il.gram_matrix(f)
        raw = il.gram_matrix(f.half(), normalize="none")
    assert naive.dtype == torch.float16 and torch.isinf(naive).any()
    assert ours.dtype == torch.float32 and torch.isfinite(ours).all() and torch.isfinite(raw).all()
    torch.testing.assert_close(ours.double(), _naive_gram(f, "chw"), rtol=1e-5, atol=0)


def test_fp16_autocast_gram_of_channels_last_vgg_maps_matches_float64() -> None:
    """Under fp16 autocast the extractor returns float16 channels-last maps (the Gram's transposed-view path);
    their Grams equal a float64 einsum of the same values where a float16 Gram overflows."""
    vgg = tiny_vgg(("relu1_2",))
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(4)) * 40  # large activations
    with torch.autocast("cpu", dtype=torch.float16):
        f = vgg(x)["relu1_2"]
        naive = torch.bmm(f.flatten(2), f.flatten(2).transpose(1, 2))
        grams = {normalize: il.gram_matrix(f, normalize=normalize) for normalize in ("chw", "none")}
    assert f.dtype == torch.float16 and f.is_contiguous(memory_format=torch.channels_last) and not f.is_contiguous()
    assert torch.isinf(naive).any()
    raw = torch.einsum("nchw,ndhw->ncd", f.double(), f.double())
    _, c, h, w = f.shape
    for normalize, expect in (("chw", raw / (c * h * w)), ("none", raw)):
        assert grams[normalize].dtype == torch.float32
        torch.testing.assert_close(grams[normalize].double(), expect, rtol=1e-5, atol=0)


def test_autocast_style_loss_on_real_sized_activations() -> None:
    vgg = tiny_vgg(("relu1_2",))
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.float16):
        value = ilf.style_loss(x * 50, torch.rand(1, 3, 32, 32) * 50, extractor=vgg, layers=("relu1_2",),
                               check_range=False)  # a target far outside [0, 1]: activations as large as real ones
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all()


def test_target_requiring_grad_gets_gradient() -> None:
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    y = torch.rand(2, 3, 8, 8, requires_grad=True)
    ilf.perceptual_loss(x, y, extractor=EXT32, layers=LAYERS).backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


# ------------------------------------------------------------------------------------------------ modules


class _CountPasses:
    """Counts backbone passes and the layers each one asked for."""

    def __init__(self, extractor: VGGFeatures) -> None:
        self.calls: list[bool] = []
        extractor.register_forward_hook(lambda m, args, out: self.calls.append(torch.is_grad_enabled()))


def test_style_loss_caches_a_fixed_style_image() -> None:
    vgg = tiny_vgg(LAYERS)
    style = torch.rand(1, 3, 8, 8)
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    loss = il.StyleLoss(extractor=vgg, layers=LAYERS).set_target(style)
    assert not loss.needs_target and all(not g.requires_grad for g in loss.target_grams.values())
    passes = _CountPasses(vgg)
    value = loss(x)
    assert len(passes.calls) == 1  # only the prediction; the style Grams come from the cache
    torch.testing.assert_close(value, ilf.style_loss(x, style, extractor=vgg, layers=LAYERS))
    tex = il.TextureLoss(extractor=vgg, layers=LAYERS).set_target(style)
    torch.testing.assert_close(tex(x), ilf.texture_loss(x, style, extractor=vgg, layers=LAYERS))
    other = torch.rand(2, 3, 8, 8)  # an explicit target wins over the cache
    torch.testing.assert_close(loss(x, other), ilf.style_loss(x, other, extractor=vgg, layers=LAYERS))
    loss.clear_target()
    with pytest.raises(ValueError, match=r"target: expected a style image or feature dict \(or call set_target"):
        loss(x)


def test_combined_runs_the_backbone_once_per_image_and_equals_the_terms() -> None:
    vgg = tiny_vgg(("relu1_2", "relu2_1", "relu2_2"))
    perceptual = il.PerceptualLoss(extractor=vgg, layers=("relu2_2",))
    style = il.StyleLoss(extractor=vgg, layers=("relu1_2", "relu2_1"))
    combined = il.CombinedFeatureLoss({"perceptual": (1.0, perceptual), "style": (1e3, style)})
    assert set(combined.layers) == {"relu1_2", "relu2_1", "relu2_2"}
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    y = torch.rand(2, 3, 8, 8)
    passes = _CountPasses(vgg)
    out = combined(x, y, return_parts=True)
    assert passes.calls == [True, False]  # prediction with grad, target without
    (grad,) = torch.autograd.grad(out.total, x)
    x2 = x.detach().clone().requires_grad_(True)
    separate = perceptual(x2, y) + 1e3 * style(x2, y)
    assert len(passes.calls) == 2 + 4  # the separate terms pay two passes each
    (grad2,) = torch.autograd.grad(separate, x2)
    torch.testing.assert_close(out.total, separate)
    torch.testing.assert_close(out.parts["perceptual"], perceptual(x, y))
    torch.testing.assert_close(grad, grad2)


def test_combined_with_cached_style_and_content_style() -> None:
    vgg = tiny_vgg(("relu1_1", "relu2_1"))
    style_image = torch.rand(1, 3, 8, 8)
    cs = il.ContentStyleLoss(extractor=vgg, content_layers=("relu2_1",), style_layers=("relu1_1", "relu2_1"))
    cs.set_style(style_image)
    tex = il.TextureLoss(extractor=vgg, layers=("relu1_1",)).set_target(style_image)
    combined = il.CombinedFeatureLoss({"cs": (1.0, cs), "texture": (2.0, tex)}, extractor=vgg)
    x, content = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    passes = _CountPasses(vgg)
    value = combined(x, content)
    assert len(passes.calls) == 2
    expect = ilf.content_style_loss(x, content, style_image, extractor=vgg, content_layers=("relu2_1",),
                                    style_layers=("relu1_1", "relu2_1")) + 2.0 * ilf.texture_loss(
        x, style_image, extractor=vgg, layers=("relu1_1",))
    torch.testing.assert_close(value, expect)
    only_style = il.CombinedFeatureLoss({"texture": (1.0, tex)})
    passes.calls.clear()
    only_style(x)  # every term has its target cached: one pass
    assert len(passes.calls) == 1


def test_module_option_errors() -> None:
    vgg = tiny_vgg(("relu1_2",))
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'weights'"):  # one backbone argument
        il.PerceptualLoss(extractor=vgg, layers=("relu1_2",), weights="oxford")
    with pytest.raises(ValueError, match=r"layers: expected layers up to 'relu1_2' \(this extractor is truncated"):
        il.PerceptualLoss(extractor=vgg)  # default relu2_2 lies past the truncation
    with pytest.raises(ValueError, match="criterion: expected one of 'mse', 'l1', got 'l2'"):
        il.PerceptualLoss(extractor=vgg, layers=("relu1_2",), criterion="l2")
    with pytest.raises(TypeError, match="extractor: expected a VGGFeatures, a preset name such as 'vgg16-oxford', "
                       "or None, got Conv2d"):
        il.StyleLoss(extractor=torch.nn.Conv2d(3, 3, 1))
    other = tiny_vgg(("relu1_2",))
    a = il.PerceptualLoss(extractor=vgg, layers=("relu1_2",))
    b = il.StyleLoss(extractor=other, layers=("relu1_2",))
    with pytest.raises(ValueError, match=r"terms\['b'\]: expected a loss built with extractor= the shared"):
        il.CombinedFeatureLoss({"a": (1.0, a), "b": (1.0, b)})
    with pytest.raises(TypeError, match=r"terms\['a'\]: expected a tuple \(weight, feature loss"):
        il.CombinedFeatureLoss({"a": a})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"target: expected an image batch \(needed by the terms \['a'\]\)"):
        il.CombinedFeatureLoss({"a": (1.0, a)})(torch.rand(1, 3, 4, 4))


def test_default_extractor_and_presets() -> None:
    """One backbone argument: None builds the documented default preset, a name builds that preset (truncated
    after the deepest layer), an unknown name lists the presets; the signature shows ``extractor``."""
    from imagelosses.backbones import PRESETS

    defaults = {il.PerceptualLoss: "vgg16-imagenet", il.StyleLoss: "vgg16-imagenet",
                il.TextureLoss: "vgg19-imagenet", il.ContentStyleLoss: "vgg19-imagenet",
                il.TopologyLoss: "vgg19-imagenet"}
    for cls, preset in defaults.items():
        assert cls.default_extractor == preset and preset in PRESETS  # type: ignore[attr-defined]
        assert next(iter(inspect.signature(cls).parameters)) == "extractor"
    assert next(iter(inspect.signature(il.TopologyAwareLoss).parameters)) == "extractor"
    loss = il.PerceptualLoss(extractor="vgg16-random")
    assert loss.extractor.arch == "vgg16" and loss.extractor.available_layers[-1] == "relu2_2"
    assert loss.extractor.weights_source is None
    tex = il.TextureLoss(extractor="vgg19-random")
    assert tex.extractor.arch == "vgg19" and tex.extractor.available_layers[-1] == "relu5_1"
    assert set(PRESETS) == {"vgg16-oxford", "vgg16-oxford-normalized", "vgg16-imagenet", "vgg19-imagenet",
                            "vgg16-random", "vgg19-random"}
    with pytest.raises(ValueError, match=r"^extractor: expected one of 'vgg16-oxford', 'vgg16-oxford-normalized', "
                       r"'vgg16-imagenet', "
                       r"'vgg19-imagenet', 'vgg16-random', 'vgg19-random', got 'resnet'$"):
        il.StyleLoss(extractor="resnet")
    x, y = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    with torch.random.fork_rng():  # a name in the function builds that preset for the call
        torch.manual_seed(0)
        by_name = ilf.perceptual_loss(x, y, extractor="vgg16-random", layers=("relu1_2",))
        torch.manual_seed(0)
        by_module = VGGFeatures("vgg16", ("relu1_2",), weights=None)
    torch.testing.assert_close(by_name, ilf.perceptual_loss(x, y, extractor=by_module, layers=("relu1_2",)))


# ------------------------------------------------------------------------------------------------ real weights


def _piq_copy(vgg: VGGFeatures) -> torch.nn.Sequential:
    """The same network for piq, which normalises RGB and knows no channel flip: fold Caffe's BGR order into
    conv1_1's input channels."""
    body = copy.deepcopy(vgg.features)
    body[0].weight.data = body[0].weight.data.flip(1)
    return body


@pytest.mark.usefixtures("oxford_cache")
def test_agrees_with_piq_after_normalisations() -> None:
    """piq's content loss is Σ_c mean_hw (Δφ)² = C_j · ours; its style loss averages the squared difference
    of raw Grams over C×C entries: (H_j W_j)² · ‖ΔG_J‖² of ours."""
    import piq
    layers = ("relu1_2", "relu2_2", "relu3_3")
    vgg = VGGFeatures("vgg16", layers, weights="oxford")
    body = _piq_copy(vgg)
    index = {name: str(i) for i, name in enumerate(vgg.available_layers)}
    mean = [123.68 / 255, 116.779 / 255, 103.939 / 255]
    std = [1 / 255] * 3
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(2, 3, 32, 32, generator=g), torch.rand(2, 3, 32, 32, generator=g)
    feats = vgg(x)
    channels = [feats[k].shape[1] for k in layers]
    positions = [feats[k].shape[2] * feats[k].shape[3] for k in layers]
    kw = {"feature_extractor": body, "layers": [index[k] for k in layers], "weights": [1.0] * 3,
          "mean": mean, "std": std, "reduction": "none"}
    piq_content = piq.ContentLoss(**kw)(x, y)
    piq_style = piq.StyleLoss(**kw)(x, y)
    ours_content = ilf.perceptual_loss(x, y, extractor=vgg, layers=layers, layer_weights=channels,
                                       reduction="none")
    ours_style = ilf.style_loss(x, y, extractor=vgg, layers=layers, layer_weights=[p**2 for p in positions],
                                reduction="none")
    torch.testing.assert_close(ours_content, piq_content, rtol=2e-4, atol=0)
    torch.testing.assert_close(ours_style, piq_style, rtol=2e-4, atol=0)


@pytest.mark.usefixtures("oxford_cache")
def test_real_weights_content_style_and_gradients() -> None:
    """Gatys's objective on the Oxford VGG16 (16 px suffice for relu5_1): matches the naive formula on the
    extracted features, and its gradient is finite and non-zero."""
    vgg = VGGFeatures("vgg16", (*GATYS_STYLE_LAYERS, "relu4_2"), weights="oxford")
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 32, 32, generator=g, requires_grad=True)
    content, style = torch.rand(1, 3, 32, 32, generator=g), torch.rand(1, 3, 48, 48, generator=g)
    parts = il.ContentStyleLoss(extractor=vgg).set_style(style)(x, content, return_parts=True)
    fx, fc, fs = vgg(x), vgg(content), vgg(style)
    content_ref = 0.5 * ((fx["relu4_2"] - fc["relu4_2"]) ** 2).sum()
    style_ref = sum(0.25 * ((il.gram_matrix(fx[k]) - il.gram_matrix(fs[k])) ** 2).sum() / 5 for k in GATYS_STYLE_LAYERS)
    torch.testing.assert_close(parts.content, content_ref, rtol=1e-4, atol=0)
    torch.testing.assert_close(parts.style, style_ref, rtol=1e-4, atol=0)
    torch.testing.assert_close(parts.total, content_ref + 1e3 * style_ref, rtol=1e-4, atol=0)
    parts.total.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_docstring_examples() -> None:
    import doctest

    import imagelosses.backbones.vgg
    import imagelosses.losses.perceptual
    import imagelosses.losses.style

    for module in (imagelosses.backbones.vgg, imagelosses.losses.style, imagelosses.losses.perceptual):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


def test_gram_is_the_same_for_channels_last_maps():
    features = torch.randn(2, 8, 5, 3, dtype=torch.float64)
    for normalize in ("chw", "none"):
        torch.testing.assert_close(
            ilf.gram_matrix(features.contiguous(memory_format=torch.channels_last), normalize=normalize),
            ilf.gram_matrix(features, normalize=normalize),
        )


def test_errors_about_the_target_image_name_the_target():
    vgg = tiny_vgg(("relu1_2", "relu2_2"))
    with pytest.raises(ValueError, match=r"^target: expected height and width >= 2 for layer 'relu2_2'"):
        ilf.style_loss(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 1, 1), extractor=vgg, layers=("relu2_2",))
    with pytest.raises(TypeError, match=r"^target: expected a floating-point tensor"):
        ilf.perceptual_loss(torch.rand(1, 3, 8, 8), torch.zeros(1, 3, 8, 8, dtype=torch.long), extractor=vgg)


# ------------------------------------------------------------------------------------------------ combined API


def test_combined_refuses_a_content_style_term_without_style_before_any_pass() -> None:
    vgg = tiny_vgg(("relu1_1", "relu2_1"))
    cs = il.ContentStyleLoss(extractor=vgg, content_layers=("relu2_1",), style_layers=("relu1_1",))
    with pytest.raises(ValueError, match=r"^terms\['cs'\]: expected a ContentStyleLoss with its style cached "
                                         r"\(call \.set_style"):
        il.CombinedFeatureLoss({"cs": (1.0, cs)})
    combined = il.CombinedFeatureLoss({"cs": (1.0, cs.set_style(torch.rand(1, 3, 8, 8)))})
    cs._style.clear_target()  # the style forgotten after combining: forward refuses before the backbone runs
    passes = _CountPasses(vgg)
    with pytest.raises(ValueError, match=r"^terms\['cs'\]: expected a ContentStyleLoss with its style cached"):
        combined(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))
    assert passes.calls == []
    with pytest.raises(ValueError, match=r"^terms: expected names that are non-empty strings without '\.'"):
        il.CombinedFeatureLoss({"a.b": (1.0, il.PerceptualLoss(extractor=vgg, layers="relu1_1"))})


def test_combined_refuses_a_target_that_no_term_uses() -> None:
    vgg = tiny_vgg(("relu1_1",))
    tex = il.TextureLoss(extractor=vgg, layers=("relu1_1",)).set_target(torch.rand(1, 3, 8, 8))
    combined = il.CombinedFeatureLoss({"texture": (1.0, tex)})
    x = torch.rand(2, 3, 8, 8)
    passes = _CountPasses(vgg)
    with pytest.raises(ValueError, match=r"^target: expected None \(every term has a fixed target\), got a tensor "
                                         r"of shape \(2, 3, 8, 8\)"):
        combined(x, torch.rand(2, 3, 8, 8))
    assert passes.calls == []
    torch.testing.assert_close(combined(x), tex(x))
    # With a term that needs it, a cached style term keeps its own style and the target serves the other.
    perceptual = il.PerceptualLoss(extractor=vgg, layers=("relu1_1",))
    both = il.CombinedFeatureLoss({"p": (1.0, perceptual), "texture": (2.0, tex)})
    y = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(both(x, y), perceptual(x, y) + 2.0 * tex(x))


def test_combined_and_functional_agree_on_target_shapes() -> None:
    """A grey target for an RGB prediction is refused by both (same message); a style image of another size
    is accepted by a style-only combination, as by the functional."""
    vgg = tiny_vgg(("relu1_1",))
    x, grey = torch.rand(2, 3, 8, 8), torch.rand(2, 1, 8, 8)
    message = r"^target: expected shape matching input \(2, 3, 8, 8\), got \(2, 1, 8, 8\)"
    with pytest.raises(ValueError, match=message):
        ilf.perceptual_loss(x, grey, extractor=vgg, layers=("relu1_1",))
    perceptual = il.PerceptualLoss(extractor=vgg, layers=("relu1_1",))
    style = il.StyleLoss(extractor=vgg, layers=("relu1_1",))
    for terms in ({"p": (1.0, perceptual)}, {"p": (1.0, perceptual), "s": (1.0, style)}):
        with pytest.raises(ValueError, match=message):
            il.CombinedFeatureLoss(terms)(x, grey)
    cs = il.ContentStyleLoss(extractor=vgg, content_layers="relu1_1", style_layers="relu1_1")
    with pytest.raises(ValueError, match=message.replace("target", "content")):
        ilf.content_style_loss(x, grey, torch.rand(1, 3, 8, 8), extractor=vgg, content_layers="relu1_1",
                               style_layers="relu1_1")
    with pytest.raises(ValueError, match=message):
        il.CombinedFeatureLoss({"cs": (1.0, cs.set_style(torch.rand(1, 3, 8, 8)))})(x, grey)
    style_image = torch.rand(1, 1, 12, 12)  # one grey style image of another size: a valid style target
    torch.testing.assert_close(il.CombinedFeatureLoss({"s": (1.0, style)})(x, style_image),
                               ilf.style_loss(x, style_image, extractor=vgg, layers=("relu1_1",)))


def test_combined_returns_the_content_and_style_parts_of_a_content_style_term() -> None:
    vgg = tiny_vgg(("relu1_1", "relu2_1"))
    style_image = torch.rand(1, 3, 8, 8)
    cs = il.ContentStyleLoss(extractor=vgg, content_layers=("relu2_1",), style_layers=("relu1_1", "relu2_1"),
                             content_weight=0.5, style_weight=7.0).set_style(style_image)
    perceptual = il.PerceptualLoss(extractor=vgg, layers=("relu2_1",))
    combined = il.CombinedFeatureLoss({"cs": (3.0, cs), "p": (1.0, perceptual)})
    x, content = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    out = combined(x, content, return_parts=True)
    assert list(out.parts) == ["cs", "cs.content", "cs.style", "p"]
    expect = ilf.content_style_loss(x, content, style_image, extractor=vgg, content_layers=("relu2_1",),
                                    style_layers=("relu1_1", "relu2_1"), content_weight=0.5, style_weight=7.0,
                                    return_parts=True)
    torch.testing.assert_close(out.parts["cs.content"], expect.content)
    torch.testing.assert_close(out.parts["cs.style"], expect.style)
    torch.testing.assert_close(out.parts["cs"], 0.5 * expect.content + 7.0 * expect.style)
    torch.testing.assert_close(out.total, 3.0 * out.parts["cs"] + out.parts["p"])
    torch.testing.assert_close(combined(x, content), out.total)


def test_texture_paper_layers_reproduce_its_loss() -> None:
    """arXiv 1505.07376 matched conv1_1 and pool1–pool4 of an average-pooling VGG19: those names work and give
    Σ_l ⅕ · 1/(4 N_l² M_l²) Σ (G^l − A^l)² with raw Grams computed here by hand."""
    layers = ("conv1_1", "pool1", "pool2", "pool3", "pool4")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        vgg = VGGFeatures("vgg19", layers, weights=None, pooling="avg").double()
    g = torch.Generator().manual_seed(2)
    x = torch.rand(1, 3, 16, 16, generator=g, dtype=torch.float64)
    texture = torch.rand(1, 3, 16, 16, generator=g, dtype=torch.float64)
    fx, ft = vgg(x), vgg(texture)
    expect = torch.zeros((), dtype=torch.float64)
    for layer in layers:
        a, b = fx[layer][0].flatten(1), ft[layer][0].flatten(1)  # N_l × M_l
        n_l, m_l = a.shape
        expect += 0.2 * ((a @ a.T - b @ b.T) ** 2).sum() / (4 * n_l**2 * m_l**2)
    torch.testing.assert_close(ilf.texture_loss(x, texture, extractor=vgg, layers=layers), expect)
    torch.testing.assert_close(il.TextureLoss(extractor=vgg, layers=layers).set_target(texture)(x), expect)
    assert (fx["conv1_1"] < 0).any()  # the pre-activation; "relu1_1" is Caffe's in-place conv1_1 blob


def test_feature_dicts_of_another_shape_name_the_layer() -> None:
    """A precomputed target (or content) feature dict is checked layer by layer against the input's maps."""
    feats = {"relu1_2": torch.rand(2, 4, 6, 6), "relu2_1": torch.rand(2, 8, 3, 3)}
    other = {**feats, "relu2_1": torch.rand(2, 8, 3, 2)}
    message = r"^target\['relu2_1'\]: expected shape matching input \(2, 8, 3, 3\), got \(2, 8, 3, 2\)$"
    with pytest.raises(ValueError, match=message):
        ilf.perceptual_loss(feats, other, layers=LAYERS)
    with pytest.raises(ValueError, match=message.replace("target", "content")):
        ilf.content_style_loss(feats, other, feats, content_layers=LAYERS, style_layers=("relu1_2",))
    assert torch.isfinite(ilf.perceptual_loss(feats, dict(feats), layers=LAYERS))
