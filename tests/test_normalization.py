"""Gatys et al.'s normalised VGG (imagelosses.backbones.normalization): every ReLU channel averages 1 on the
photographs, the features are the unscaled ones divided per channel (the network is otherwise unchanged),
the scales are cached beside the weights and read back, and the option is checked."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from imagelosses.backbones import VGGFeatures, build_preset
from imagelosses.backbones import normalization as norm
from imagelosses.backbones.weights import CACHE_ENV
from tests.vgg_fixtures import (
    oxford_cache,  # noqa: F401  (a fixture)
    tiny_vgg,
)

pytestmark = pytest.mark.usefixtures("one_thread")

TAPS = ("conv1_1", "relu1_2", "pool2", "conv3_1", "relu3_1")


def _photographs() -> list[torch.Tensor]:
    return [norm.photograph(name, 64) for name in norm.PHOTOGRAPHS[:3]]


def test_every_relu_channel_averages_one_and_the_features_are_the_unscaled_ones_divided() -> None:
    """On random weights (no cache), measured on three 64-px photographs: after folding, each ReLU channel's
    mean over those images is 1 (up to float32), and every tap (conv, relu, pool) equals the unscaled
    network's divided by the scale of its channel, on any other image."""
    plain = tiny_vgg(("relu3_1",), seed=3)
    scaled = tiny_vgg(("relu3_1",), seed=3)
    images = _photographs()
    scales = norm.activation_scales(plain, images)
    assert set(scales) == {"relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1"}
    norm.fold_scales(scaled.features, scaled.available_layers, scales)
    for layer, mean in norm.activation_scales(scaled, images).items():
        live = scales[layer] > 0
        torch.testing.assert_close(mean[live], torch.ones_like(mean[live]), rtol=1e-4, atol=0)
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    a, b = plain(x, TAPS), scaled(x, TAPS)
    of = {"conv1_1": "relu1_1", "relu1_2": "relu1_2", "pool2": "relu2_2", "conv3_1": "relu3_1", "relu3_1": "relu3_1"}
    for tap in TAPS:
        m = scales[of[tap]]
        m = torch.where(m > 0, m, torch.ones_like(m)).view(1, -1, 1, 1)  # a dead filter keeps scale 1
        torch.testing.assert_close(b[tap] * m, a[tap], rtol=1e-4, atol=1e-5 * float(a[tap].abs().max()))


def test_a_dead_filter_keeps_scale_one() -> None:
    vgg = tiny_vgg(("relu1_1",), seed=0)
    scales = {"relu1_1": torch.zeros(64)}
    before = vgg.features[0].weight.clone()
    norm.fold_scales(vgg.features, vgg.available_layers, scales)
    assert torch.equal(vgg.features[0].weight, before)


def test_oxford_normalised_means_are_one_on_the_bundled_photographs_and_cached(oxford_cache: str) -> None:  # noqa: F811 (the fixture)
    """The real network: the documented measurement (224-px photographs) gives means of 1 for every filter of
    relu1_1 … relu2_2; the scales file lies in the cache beside the converted weights and a second extractor
    reads it (measuring again would fail here)."""
    vgg = VGGFeatures("vgg16", ("relu2_2",), weights="oxford", normalize_activations=True)
    images = [norm.photograph(name, norm.SCALE_IMAGE_SIZE) for name in norm.PHOTOGRAPHS]
    for layer, mean in norm.activation_scales(vgg, images).items():
        torch.testing.assert_close(mean, torch.ones_like(mean), rtol=1e-3, atol=0, msg=layer)
    files = sorted(p.name for p in Path(oxford_cache).glob("vgg_scales_vgg16_max_*.pt"))
    assert files, "no scales file in the cache"

    def refuse(*args: object) -> None:
        raise AssertionError("measured again instead of reading the cache")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(norm, "activation_scales", refuse)
        again = VGGFeatures("vgg16", ("relu2_2",), weights="oxford", normalize_activations=True)
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(again(x), vgg(x))
    assert "normalize_activations=True" in repr(again)
    preset = build_preset("vgg16-oxford-normalized", ("relu2_2",))
    torch.testing.assert_close(preset(x), vgg(x))


def test_an_unreadable_scales_file_is_measured_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    state = {k: v.clone() for k, v in tiny_vgg(("relu1_2",), seed=5).state_dict().items()}
    vgg = tiny_vgg(("relu1_2",), seed=5)
    first = norm.cached_activation_scales(vgg, state)
    (path,) = tmp_path.glob("vgg_scales_*.pt")
    path.write_bytes(b"not a torch file")
    torch.testing.assert_close(norm.cached_activation_scales(vgg, state), first)
    assert path.stat().st_size > 100  # rewritten


def test_normalize_activations_is_a_bool() -> None:
    with pytest.raises(TypeError, match=r"^normalize_activations: expected a bool \(True or False\), got 'yes'$"):
        VGGFeatures("vgg16", ("relu1_1",), weights=None, normalize_activations="yes")  # type: ignore[arg-type]
