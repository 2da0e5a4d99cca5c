"""The pixel-vs-perceptual experiment: its quick run, its verdict rule and its measures."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from imagelosses.experiments import pixel_vs_perceptual
from imagelosses.experiments.base import Summary
from imagelosses.experiments.models import TinySR, TinyUNet, seeded
from tests.experiment_support import run_quick
from tests.vgg_fixtures import oxford_cache  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.usefixtures("oxford_cache")
def test_pixel_vs_perceptual_quick_runs(tmp_path: Path) -> None:
    out = run_quick(pixel_vs_perceptual.EXPERIMENT, tmp_path)
    assert out.metrics["blur_sigma_mean"] > 0
    assert 0 <= out.metrics["shift_closest_deep"] <= 1



def test_pixel_vs_perceptual_verdict() -> None:
    v = pixel_vs_perceptual.verdict
    good = {"shift_closest_deep": [1.0, 1.0, 1.0], "hf_gap_advantage": [0.5, 0.6, 0.55],
            "perceptual_advantage": [0.2, 0.25, 0.3], "psnr_drop": [1.0, 1.2, 0.9]}
    assert v(Summary(good)).label == "holds"
    assert v(Summary({**good, "shift_closest_deep": [0.25, 0.25, 0.25]})).label == "does not hold at this scale"
    assert v(Summary({**good, "perceptual_advantage": [-0.2, -0.25, -0.3]})).label == "does not hold at this scale"
    assert v(Summary({**good, "shift_closest_deep": [1.0, 0.75, 1.0]})).label == "inconclusive"
    assert v(Summary({**good, "hf_gap_advantage": [0.5, -0.6, 0.55]})).label == "inconclusive"


def test_high_frequency_energy_and_psnr() -> None:
    n = torch.arange(32, dtype=torch.float32)
    low = (0.5 + 0.4 * torch.cos(2 * math.pi * 0.1 * n)).expand(1, 3, 32, 32)
    high = (0.5 + 0.4 * torch.cos(2 * math.pi * 0.4 * n)).expand(1, 3, 32, 32)
    e_low, e_high = (pixel_vs_perceptual.high_frequency_energy(x) for x in (low, high))
    assert e_high > 1e3 * e_low
    target = torch.full((1, 3, 8, 8), 0.5)
    y_scale = (65.481 + 128.553 + 24.966) / 255  # the luma of a grey offset d is y_scale · d
    assert pixel_vs_perceptual.psnr_y(target + 0.1, target, shave=0) == pytest.approx(
        -20 * math.log10(0.1 * y_scale), rel=1e-5)


def test_models_shapes_and_seeding() -> None:
    a = seeded(3, lambda: TinyUNet(1, 2, width=4, depth=2))
    b = seeded(3, lambda: TinyUNet(1, 2, width=4, depth=2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert a(torch.zeros(2, 1, 20, 20)).shape == (2, 2, 20, 20)  # sides not divisible by 4 still work
    lr = torch.rand(1, 3, 6, 6)
    assert torch.equal(TinySR(scale=4, width=4)(lr), TinySR(scale=4, width=4).upsample(lr))  # starts at bicubic
    with pytest.raises(ValueError, match="scale: expected a power of two, got 3"):
        TinySR(scale=3)
    assert np.isfinite(a(torch.rand(1, 1, 16, 16)).detach().numpy()).all()
