"""The style-texture experiment: its quick run, its not-a-copy measure, its crops and its verdict rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from imagelosses.experiments import style_texture
from imagelosses.experiments.base import Summary
from tests.experiment_support import run_quick
from tests.vgg_fixtures import oxford_cache  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.usefixtures("oxford_cache")
def test_style_texture_quick_runs(tmp_path: Path) -> None:
    experiment = style_texture.EXPERIMENT
    assert set(experiment.quick) == set(experiment.full) and experiment.seeds >= 3 and experiment.pilot
    out = run_quick(experiment, tmp_path)
    m = out.metrics
    for name in ("texture/vs_other", "texture/vs_noise", "trade/style", "trade/content"):
        assert m[f"{name}/ci_low"] <= m[f"{name}/mean"] <= m[f"{name}/ci_high"]
    assert m["texture/optimised_drop"] < 0  # the optimiser lowered its own objective
    assert m["guard/ncc_shifted_copy"] > 0.99  # the copy measure reads ≈ 1 on a shifted crop
    assert 0 <= m["guard/ncc_synthesis"] <= 1 and 0 <= m["guard/ncc_stylised"] <= 1
    assert m["texture/chroma_source"] < 1  # grey textures
    assert len(out.figures) == 3 and len(out.tables) == 2


def _naive_max_correlation(a: np.ndarray, b: np.ndarray, min_overlap: float) -> float:
    h, w = a.shape
    best = -1.0
    for dy in range(-(h - 1), h):
        for dx in range(-(w - 1), w):
            if h - abs(dy) < min_overlap * h or w - abs(dx) < min_overlap * w:
                continue
            x = a[max(0, -dy):min(h, h - dy), max(0, -dx):min(w, w - dx)]  # a[y, x] pairs with b[y + dy, x + dx]
            y = b[max(0, dy):min(h, h + dy), max(0, dx):min(w, w + dx)]
            best = max(best, float(np.corrcoef(x.ravel(), y.ravel())[0, 1]))
    return best


def test_max_shift_correlation_matches_a_naive_loop() -> None:
    g = torch.Generator().manual_seed(3)
    image = torch.rand(3, 24, 26, generator=g)
    for a, b in [(image[:, :12, :14], image[:, 4:16, 3:17]),  # a shifted crop
                 (torch.rand(3, 11, 9, generator=g), torch.rand(3, 11, 9, generator=g)),  # unrelated noise
                 (image[:, 2:12, 5:15], image[:, 2:12, 5:15].flip(-1))]:
        for overlap in (0.5, 0.75):
            expected = _naive_max_correlation(a.double().mean(0).numpy(), b.double().mean(0).numpy(), overlap)
            assert style_texture.max_shift_correlation(a, b, min_overlap=overlap) == pytest.approx(expected, abs=1e-9)


def test_max_shift_correlation_reads_one_on_a_shifted_copy_and_low_on_noise() -> None:
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 80, 80, generator=g)
    shifted = style_texture.max_shift_correlation(image[..., :64, :64], image[..., 10:74, 7:71])
    assert shifted == pytest.approx(1.0, abs=1e-9)
    noise = style_texture.max_shift_correlation(torch.rand(1, 3, 64, 64, generator=g),
                                                torch.rand(1, 3, 64, 64, generator=g))
    assert noise < 0.2 < style_texture.COPY_THRESHOLD
    # a copy in another brightness and contrast is still a copy
    assert style_texture.max_shift_correlation(image, 0.5 * image + 0.2) == pytest.approx(1.0, abs=1e-9)
    # on the detail (each image minus its blur): still ≈ 1 for a shifted copy (the blur differs only at borders)
    detail = style_texture.max_shift_correlation(image[..., :64, :64], image[..., 10:74, 7:71],
                                                 sigma=style_texture.DETAIL_SIGMA)
    assert 0.95 < detail <= 1.0
    noise_detail = style_texture.max_shift_correlation(torch.rand(1, 3, 64, 64, generator=g),
                                                       torch.rand(1, 3, 64, 64, generator=g),
                                                       sigma=style_texture.DETAIL_SIGMA)
    assert noise_detail < 0.2
    with pytest.raises(ValueError, match="same size"):
        style_texture.max_shift_correlation(image, image[..., :60])


def test_grid_crops_do_not_overlap_and_depend_on_the_seed() -> None:
    image = torch.arange(100 * 90, dtype=torch.float32).reshape(1, 1, 100, 90).expand(1, 3, -1, -1) / 9000
    crops = style_texture.grid_crops(image, 30, 30, 6, torch.Generator().manual_seed(0))
    assert len(crops) == 6 and all(c.shape == (1, 3, 30, 30) for c in crops)
    corners = {float(c[0, 0, 0, 0]) for c in crops}
    assert len(corners) == 6  # distinct cells; each pixel value is unique, so no two crops share a pixel
    values = [set(c[0, 0].flatten().tolist()) for c in crops]
    assert all(not (values[i] & values[j]) for i in range(6) for j in range(i + 1, 6))
    other = style_texture.grid_crops(image, 30, 30, 6, torch.Generator().manual_seed(1))
    assert any(not torch.equal(a, b) for a, b in zip(crops, other, strict=True))
    with pytest.raises(ValueError, match="at most 9"):
        style_texture.grid_crops(image, 30, 30, 10, torch.Generator().manual_seed(0))


GOOD = {"texture/vs_other/mean": -0.8, "texture/vs_other/ci_low": -1.1, "texture/vs_other/ci_high": -0.5,
        "texture/vs_noise/mean": -1.5, "texture/vs_noise/ci_low": -1.9, "texture/vs_noise/ci_high": -1.1,
        "trade/style/mean": -0.9, "trade/style/ci_low": -1.1, "trade/style/ci_high": -0.7,
        "trade/content/mean": 0.4, "trade/content/ci_low": 0.3, "trade/content/ci_high": 0.5,
        "guard/ncc_synthesis": 0.5, "guard/ncc_stylised": 0.4}


def _summary(values: dict[str, float], seeds: int = 3) -> Summary:
    return Summary({k: [v] * seeds for k, v in values.items()})


def _swapped(values: dict[str, float]) -> dict[str, float]:
    """The arms' numbers swapped: every difference changes sign (and the interval's ends swap)."""
    out = dict(values)
    for name in ("texture/vs_other", "texture/vs_noise", "trade/style", "trade/content"):
        mean, low, high = values[f"{name}/mean"], values[f"{name}/ci_low"], values[f"{name}/ci_high"]
        out.update({f"{name}/mean": -mean, f"{name}/ci_low": -high, f"{name}/ci_high": -low})
    return out


def test_style_texture_verdict_holds_on_a_good_summary() -> None:
    v = style_texture.verdict(_summary(GOOD))
    assert v.label == "holds" and "met in 3/3" in v.reason


@pytest.mark.parametrize("case", ["swapped", "equal"])
def test_style_texture_verdict_does_not_hold_on_a_null_summary(case: str) -> None:
    null = _swapped(GOOD) if case == "swapped" else {
        **GOOD, **{f"{n}/{s}": (0.0 if s == "mean" else (-0.1 if s == "ci_low" else 0.1))
                   for n in ("texture/vs_other", "texture/vs_noise", "trade/style", "trade/content")
                   for s in ("mean", "ci_low", "ci_high")}}
    assert style_texture.verdict(_summary(null)).label == "does not hold at this scale"


@pytest.mark.parametrize("change", [
    {"guard/ncc_synthesis": 0.95},  # a copy of the source
    {"guard/ncc_stylised": 0.9},
    {"texture/vs_other/mean": -0.2},  # closer than a different texture, but by less than the margin
    {"texture/vs_other/ci_high": 0.05},
    {"texture/vs_noise/ci_high": 0.05},
    {"trade/style/mean": -0.1},
    {"trade/style/ci_high": 0.02},
    {"trade/content/ci_low": -0.02},
])
def test_style_texture_verdict_fails_on_any_condition(change: dict[str, float]) -> None:
    assert style_texture.verdict(_summary({**GOOD, **change})).label == "does not hold at this scale"


def test_style_texture_verdict_needs_every_seed() -> None:
    values = {k: [v, v, v] for k, v in GOOD.items()}
    values["guard/ncc_synthesis"] = [0.5, 0.85, 0.5]  # a copy in one seed
    assert style_texture.verdict(Summary(values)).label == "does not hold at this scale"
    values = {k: [v, v, v] for k, v in GOOD.items()}
    values["trade/style/ci_high"] = [-0.7, 0.1, -0.7]
    assert style_texture.verdict(Summary(values)).label == "does not hold at this scale"
