"""The shared helpers of the experiments: the effect sign over seeds and the paired bootstrap."""

from __future__ import annotations

import pytest
import torch

from imagelosses.experiments.base import paired_bootstrap
from imagelosses.experiments.data import effect, gaussian_blur
from tests.experiment_support import summary


def test_effect_needs_a_consistent_sign_and_mean_above_spread() -> None:
    assert effect(summary(d=[0.2, 0.3, 0.25]), "d") == "positive"
    assert effect(summary(d=[-0.2, -0.3, -0.25]), "d") == "negative"
    assert effect(summary(d=[0.2, -0.1, 0.3]), "d") == "unclear"
    assert effect(summary(d=[0.01, 0.01, 1.0]), "d") == "unclear"  # all > 0 but mean < std
    assert effect(summary(d=[0.5]), "d") == "positive"
    with pytest.raises(ValueError, match="metric: expected one of"):
        effect(summary(d=[1.0]), "e")



def test_paired_bootstrap_brackets_the_mean_and_excludes_zero_only_for_a_real_effect() -> None:
    g = torch.Generator().manual_seed(0)
    control = torch.rand(200, generator=g)
    shifted = paired_bootstrap(control + 0.1 + 0.01 * torch.randn(200, generator=g), control)
    assert shifted.low < shifted.mean < shifted.high and shifted.low > 0.09 and shifted.excludes_zero()
    same = paired_bootstrap(control, control)
    assert same.mean == same.low == same.high == 0.0 and not same.excludes_zero()
    noise = paired_bootstrap(control + 0.2 * torch.randn(200, generator=g), control)  # no effect: zero inside
    assert noise.low < 0 < noise.high
    swapped = paired_bootstrap(control, control + 0.1)
    assert swapped.high < 0  # the null of a swapped pair reads "negative", never "positive"
    with pytest.raises(ValueError, match=r"^treatment: expected as many items as control \(200\), got 3$"):
        paired_bootstrap(control[:3], control)


def test_the_ticker_reports_every_n_steps_and_the_last() -> None:
    from pathlib import Path

    from imagelosses.experiments.base import RunContext

    calls: list[tuple[int, int]] = []
    ctx = RunContext(config={}, seed=0, device=torch.device("cpu"), out_dir=Path("."),
                     progress=lambda d, t: calls.append((d, t)))
    tick = ctx.ticker(7, every=3)
    for _ in range(7):
        tick()
    assert calls == [(3, 7), (6, 7), (7, 7)]


@pytest.mark.parametrize(("border", "mode"), [("reflect", "mirror"), ("replicate", "nearest")])
@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_gaussian_blur_matches_scipy(border: str, mode: str, sigma: float) -> None:
    """The experiments' one blur against scipy's gaussian_filter (radius 3σ; torch's "reflect" border is scipy's
    "mirror", "replicate" is "nearest"), per channel."""
    from scipy import ndimage

    x = torch.rand(2, 3, 17, 13, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ours = gaussian_blur(x, sigma, border=border)  # type: ignore[arg-type]
    theirs = ndimage.gaussian_filter(x.numpy(), sigma=(0, 0, sigma, sigma), mode=mode, truncate=3.0)
    torch.testing.assert_close(ours, torch.from_numpy(theirs), rtol=0, atol=1e-12)
