"""Measures of a synthesis against its source (imagelosses.metrics.synthesis): each against a naive loop or
numpy, closed forms, and the cases that make them useful (grey → 0 chroma, a crop is a copy, noise is not)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imagelosses.metrics import channel_histogram_distance, copied_fraction, high_frequency_energy, mean_chroma


def _images(n: int = 2, h: int = 12, w: int = 10, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_mean_chroma_matches_a_naive_loop_and_is_zero_for_grey() -> None:
    x = _images()
    for n in range(2):
        naive = np.mean([[max(x[n, :, i, j].tolist()) - min(x[n, :, i, j].tolist()) for j in range(10)]
                         for i in range(12)])
        assert float(mean_chroma(x)[n]) == pytest.approx(naive, rel=1e-12)
    assert float(mean_chroma(x[:, :1].expand(-1, 3, -1, -1)).abs().max()) == 0.0


def test_high_frequency_energy_matches_a_naive_loop_and_the_closed_form_of_uniform_noise() -> None:
    x = _images()
    for n in range(2):
        a = x[n].numpy()
        naive = 0.5 * (np.mean((a[:, 1:, :] - a[:, :-1, :]) ** 2) + np.mean((a[:, :, 1:] - a[:, :, :-1]) ** 2))
        assert float(high_frequency_energy(x)[n]) == pytest.approx(naive, rel=1e-12)
    noise = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert float(high_frequency_energy(noise)) == pytest.approx(1 / 6, rel=0.01)  # E(u − v)² for u, v ~ U[0, 1]
    assert float(high_frequency_energy(torch.full((1, 3, 5, 5), 0.3))) == 0.0


def test_channel_histogram_distance_matches_numpy_histograms() -> None:
    x, s = _images(seed=2), _images(n=1, h=7, w=9, seed=3) ** 2  # another size and distribution
    for n in range(2):
        per_channel = []
        for c in range(3):
            p = np.histogram(x[n, c].numpy(), bins=8, range=(0, 1))[0] / x[n, c].numel()
            q = np.histogram(s[0, c].numpy(), bins=8, range=(0, 1))[0] / s[0, c].numel()
            per_channel.append(0.5 * np.abs(p - q).sum())
        assert float(channel_histogram_distance(x, s, bins=8)[n]) == pytest.approx(np.mean(per_channel), rel=1e-12)
    assert float(channel_histogram_distance(x[:1], x[:1]).abs().max()) == 0.0


def test_copied_fraction_finds_crops_and_tilings_not_new_images() -> None:
    source = _images(n=1, h=40, w=40, seed=4).float()
    crop = source[..., 5:37, 3:35]
    tiled = torch.cat([source[..., :20, :20], source[..., 20:, 20:]], dim=-1)  # two pieces side by side
    other = _images(n=1, h=32, w=32, seed=5).float()
    result = copied_fraction(torch.cat([crop, other]), source, patch=8)
    assert result.tolist() == [1.0, 0.0]
    assert float(copied_fraction(tiled, source, patch=8)) >= 0.6  # every patch within one piece is found
    shifted_noise = (crop + 0.2 * torch.randn(crop.shape, generator=torch.Generator().manual_seed(6))).clamp(0, 1)
    assert float(copied_fraction(shifted_noise, source, patch=8)) == 0.0  # RMS 0.2 ≫ 8 levels


@pytest.mark.parametrize(("call", "message"), [
    (lambda: mean_chroma(torch.rand(1, 1, 4, 4)), r"^image: expected RGB images \(N, 3, H, W\), got shape"),
    (lambda: copied_fraction(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 16, 16), patch=8),
     r"^image: expected height and width >= patch \(8\), got shape \(1, 3, 4, 4\)$"),
    (lambda: copied_fraction(torch.rand(1, 3, 16, 16), torch.rand(2, 3, 16, 16), patch=8),
     r"^source: expected one image \(1, 3, H, W\), got shape \(2, 3, 16, 16\)$"),
    (lambda: channel_histogram_distance(torch.rand(2, 3, 4, 4), torch.rand(3, 3, 4, 4)),
     r"^source: expected one image or 2 \(one per image\), got shape \(3, 3, 4, 4\)$"),
])
def test_bad_input_is_named(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_nan_gives_nan() -> None:
    x = torch.rand(2, 3, 16, 16)
    x[1, 0, 3, 3] = float("nan")
    for value in (mean_chroma(x), high_frequency_energy(x), channel_histogram_distance(x, x[:1]),
                  copied_fraction(x, x[:1], patch=4)):
        assert torch.isnan(value[1]) or torch.isnan(value).all()
