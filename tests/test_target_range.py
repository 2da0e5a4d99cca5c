"""The feature losses check their target image's range by default (issue 18): a target in 0..255 or [-1, 1] is
refused with a message that says how to convert it, the prediction is never checked, NaN still gives NaN, feature
dicts are not checked, ``check_range=False`` turns the check off, and the function and the module agree."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import torch

import imagelosses as il
from imagelosses import functional as ilf
from imagelosses._core.checks import check_unit_range
from tests.vgg_fixtures import tiny_vgg

pytestmark = pytest.mark.usefixtures("one_thread")

LAYERS = ("relu1_2", "relu2_1")
VGG = tiny_vgg(LAYERS)
CS = {"content_layers": ("relu2_1",), "style_layers": LAYERS}


def message(name: str, lo: str, hi: str) -> str:
    return (f"{name}: expected RGB values in [0, 1] (checked with tolerance 0.1; divide 0..255 images by 255, map "
            f"[-1, 1] images with (x + 1) / 2, or pass check_range=False), got values in [{lo}, {hi}]")


def images(n: int = 2, side: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, side, side, generator=torch.Generator().manual_seed(seed))


def pixels_255() -> torch.Tensor:
    x = (images(seed=1) * 255).round()
    x.view(-1)[:2] = torch.tensor([0.0, 255.0])
    return x


def signed() -> torch.Tensor:
    x = images(seed=2) * 2 - 1
    x.view(-1)[:2] = torch.tensor([-1.0, 1.0])
    return x


#: name -> loss(input, target, **options): every way a feature loss takes a target image
LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "perceptual_loss": lambda x, y, **o: ilf.perceptual_loss(x, y, extractor=VGG, layers=LAYERS, **o),
    "PerceptualLoss": lambda x, y, **o: il.PerceptualLoss(extractor=VGG, layers=LAYERS, **o)(x, y),
    "style_loss": lambda x, y, **o: ilf.style_loss(x, y, extractor=VGG, layers=LAYERS, **o),
    "StyleLoss": lambda x, y, **o: il.StyleLoss(extractor=VGG, layers=LAYERS, **o)(x, y),
    "StyleLoss.set_target": lambda x, y, **o: il.StyleLoss(extractor=VGG, layers=LAYERS, **o).set_target(y)(x),
    "texture_loss": lambda x, y, **o: ilf.texture_loss(x, y, extractor=VGG, layers=LAYERS, **o),
    "TextureLoss": lambda x, y, **o: il.TextureLoss(extractor=VGG, layers=LAYERS, **o)(x, y),
    "TextureLoss.set_target": lambda x, y, **o: il.TextureLoss(extractor=VGG, layers=LAYERS, **o).set_target(y)(x),
    "CombinedFeatureLoss": lambda x, y, **o: il.CombinedFeatureLoss(
        {"p": (1.0, il.PerceptualLoss(extractor=VGG, layers=LAYERS, **o)),
         "s": (1e3, il.StyleLoss(extractor=VGG, layers=LAYERS, **o))})(x, y),
}
#: name -> (loss(input, content, style, **options), the argument the bad image is given as)
CONTENT_STYLE: dict[str, Callable[..., torch.Tensor]] = {
    "content_style_loss": lambda x, c, s, **o: ilf.content_style_loss(x, c, s, extractor=VGG, **CS, **o),
    "ContentStyleLoss": lambda x, c, s, **o: il.ContentStyleLoss(extractor=VGG, **CS, **o)(x, c, s),
    "ContentStyleLoss.set_style": lambda x, c, s, **o: il.ContentStyleLoss(extractor=VGG, **CS, **o).set_style(s)(
        x, c),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize(("bad", "lo", "hi"), [(pixels_255, "0", "255"), (signed, "-1", "1")], ids=["0-255", "pm1"])
def test_a_target_outside_the_unit_range_is_refused(name: str, bad: Callable[[], torch.Tensor], lo: str,
                                                     hi: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message('target', lo, hi))}$"):
        LOSSES[name](images(), bad())
    assert torch.isfinite(LOSSES[name](images(), bad(), check_range=False))  # the option turns it off


@pytest.mark.parametrize("name", sorted(CONTENT_STYLE))
@pytest.mark.parametrize("argument", ["content", "style"])
def test_content_and_style_images_are_checked(name: str, argument: str) -> None:
    loss = CONTENT_STYLE[name]
    content, style = (pixels_255(), images()) if argument == "content" else (images(), pixels_255())
    with pytest.raises(ValueError, match=f"^{re.escape(message(argument, '0', '255'))}$"):
        loss(images(), content, style)
    assert torch.isfinite(loss(images(), content, style, check_range=False))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_the_prediction_is_not_checked(name: str) -> None:
    """A network early in training overshoots [0, 1]: its output is never refused."""
    for prediction in (pixels_255(), signed(), images() * 1.5 - 0.25):
        assert torch.isfinite(LOSSES[name](prediction, images()))
    for content_style in CONTENT_STYLE.values():
        assert torch.isfinite(content_style(pixels_255(), images(), images()))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_small_overshoot_is_tolerated(name: str) -> None:
    target = images().clamp(0.01, 0.99)
    target.view(-1)[:2] = torch.tensor([-0.09, 1.09])  # within the tolerance, 0.1, either side
    assert torch.isfinite(LOSSES[name](images(), target))
    target.view(-1)[0] = -0.11
    with pytest.raises(ValueError, match=re.escape(message("target", "-0.11", "1.09"))):
        LOSSES[name](images(), target)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_a_nan_target_gives_nan(name: str) -> None:
    """The library's rule: NaN in, NaN out (these losses have no ``check_finite``); the range check lets it pass,
    also when the rest of the target is out of range."""
    for target in (images(), pixels_255()):
        target.view(-1)[5] = float("nan")
        assert torch.isnan(LOSSES[name](images(), target))


def test_infinite_target_is_out_of_range() -> None:
    target = images()
    target.view(-1)[5] = float("inf")
    with pytest.raises(ValueError, match=r"^target: expected RGB values in \[0, 1\] .*, got values in \[0\.\d+, inf]$"):
        LOSSES["perceptual_loss"](images(), target)


def test_feature_dicts_are_not_checked() -> None:
    features = VGG(images(seed=3), layers=LAYERS)
    assert max(float(f.max()) for f in features.values()) > 1.1  # features are not images
    assert torch.isfinite(ilf.perceptual_loss(images(), features, extractor=VGG, layers=LAYERS))
    assert torch.isfinite(ilf.style_loss(images(), features, extractor=VGG, layers=LAYERS))
    assert torch.isfinite(il.StyleLoss(extractor=VGG, layers=LAYERS).set_target(features)(images()))


def test_function_and_module_give_the_same_error_and_option() -> None:
    errors = []
    for loss in (LOSSES["perceptual_loss"], LOSSES["PerceptualLoss"]):
        with pytest.raises(ValueError) as info:
            loss(images(), pixels_255())
        errors.append(str(info.value))
    assert errors[0] == errors[1]
    for cls in (il.PerceptualLoss, il.StyleLoss, il.TextureLoss, il.ContentStyleLoss):
        module = cls(extractor=VGG, **(CS if cls is il.ContentStyleLoss else {"layers": LAYERS}))
        assert module.check_range is True and "check_range=True" in repr(module)
        module.check_range = False
        assert module.options.check_range is False
        with pytest.raises(TypeError, match=r"^check_range: expected a bool \(True or False\), got 'no'$"):
            cls(extractor=VGG, check_range="no")


def test_module_option_set_later_applies() -> None:
    loss = il.ContentStyleLoss(extractor=VGG, **CS)
    loss.check_range = False
    loss.set_style(pixels_255())  # the cached style follows the module's option
    assert torch.isfinite(loss(images(), images()))
    combined = il.CombinedFeatureLoss({"p": (1.0, il.PerceptualLoss(extractor=VGG, layers=LAYERS))})
    combined.terms["p"].check_range = False
    assert torch.isfinite(combined(images(), pixels_255()))


def test_topology_mask_target_is_checked_in_combined() -> None:
    """A topology term's mask target is always checked (``check_range`` of TopologyLoss is about its input)."""
    topo = il.TopologyLoss(extractor=VGG, layers=("relu1_2",))
    combined = il.CombinedFeatureLoss({"t": (1.0, topo)})
    mask = torch.zeros(2, 1, 16, 16)
    assert torch.isfinite(combined(mask, mask))
    with pytest.raises(ValueError, match=re.escape(message("target", "0", "255"))):
        combined(mask, mask.index_fill(3, torch.tensor([0]), 255.0))


def test_compiled_module_runs_with_the_check_on() -> None:
    torch._dynamo.reset()
    loss = il.PerceptualLoss(extractor=VGG, layers=LAYERS)
    compiled = torch.compile(loss, backend="aot_eager", fullgraph=True)  # the value check is skipped, no break
    torch.testing.assert_close(compiled(images(), images(seed=4)), loss(images(), images(seed=4)))


def test_check_unit_range() -> None:
    x = torch.tensor([0.0, 1.0])
    assert check_unit_range(x, "x") is x
    check_unit_range(torch.empty(0), "x")  # nothing to check
    check_unit_range(torch.tensor([0.5, float("nan")]), "x")  # NaN passes by default...
    with pytest.raises(ValueError, match=re.escape(message("x", "nan", "nan"))):
        check_unit_range(torch.tensor([0.5, float("nan")]), "x", allow_nan=False)  # ...not when refused
    with pytest.raises(ValueError, match=r"^x: expected RGB values in \[0, 1\] \(checked with tolerance 0\.5; "):
        check_unit_range(torch.tensor([1.6]), "x", tolerance=0.5)
    check_unit_range(torch.tensor([1.5, -0.5]).half(), "x", tolerance=0.5)
    check_unit_range(torch.tensor([1.05]).bfloat16(), "x")


def test_vgg_features_uses_the_same_check() -> None:
    checked = il.VGGFeatures("vgg16", ("relu1_1",), weights=None, check_range=True)
    with pytest.raises(ValueError, match=f"^{re.escape(message('input', '0', '255'))}$"):
        checked(pixels_255())
