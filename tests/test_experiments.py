"""The experiments pixel-vs-perceptual, class-imbalance, style-texture and triplet-mining: each quick
configuration runs end to end (finite metrics, PNG figures), each verdict rule gives the right label on
synthetic summaries, and the helpers they rest on do what they say."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from imagelosses.experiments import class_imbalance, pixel_vs_perceptual, style_texture, triplet_mining
from imagelosses.experiments.base import VERDICTS, Experiment, RunContext, RunOutput, Summary
from imagelosses.experiments.data import Cells, effect, make_cells
from imagelosses.experiments.models import TinySR, TinyUNet, seeded
from imagelosses.losses.style import gram_matrix
from tests.vgg_fixtures import oxford_cache  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("one_thread")

PNG = b"\x89PNG\r\n\x1a\n"




def run_quick(experiment: Experiment, out: Path, seed: int = 0, figures: bool = True) -> RunOutput:
    calls: list[tuple[int, int]] = []
    ctx = RunContext(config=experiment.quick, seed=seed, device=torch.device("cpu"), out_dir=out,
                     make_figures=figures, progress=lambda d, t: calls.append((d, t)))
    output = experiment.run(ctx)
    assert calls and calls[-1][0] == calls[-1][1]  # the progress reached its total
    assert output.metrics and all(isinstance(v, float) and math.isfinite(v) for v in output.metrics.values())
    if figures:
        assert output.figures
        for figure in output.figures:
            assert figure.path.parent == out and figure.path.read_bytes()[:8] == PNG and figure.caption
        assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))  # atomic writes left nothing behind
    summary = Summary({k: [v] for k, v in output.metrics.items()})
    assert experiment.verdict(summary).label in VERDICTS
    return output


def test_class_imbalance_quick_runs_and_depends_on_the_seed(tmp_path: Path) -> None:
    a = run_quick(class_imbalance.EXPERIMENT, tmp_path)
    b = run_quick(class_imbalance.EXPERIMENT, tmp_path, seed=1, figures=False)
    assert a.metrics["touching_pairs_test"] > 0 and 0 < a.metrics["foreground_fraction"] < 0.3
    assert a.metrics != b.metrics


def test_triplet_mining_quick_runs(tmp_path: Path) -> None:
    out = run_quick(triplet_mining.EXPERIMENT, tmp_path)
    for method in triplet_mining.METHODS:
        assert 0 <= out.metrics[f"recall1_{method}"] <= 1
        assert 0 <= out.metrics[f"active_end_{method}"] <= 1


@pytest.mark.usefixtures("oxford_cache")
def test_pixel_vs_perceptual_quick_runs(tmp_path: Path) -> None:
    out = run_quick(pixel_vs_perceptual.EXPERIMENT, tmp_path)
    assert out.metrics["blur_sigma_mean"] > 0
    assert 0 <= out.metrics["shift_closest_deep"] <= 1


@pytest.mark.usefixtures("oxford_cache")
def test_style_texture_quick_runs(tmp_path: Path) -> None:
    out = run_quick(style_texture.EXPERIMENT, tmp_path)
    assert out.metrics["worst_style_end_log10_gram"] < 0  # the optimisation lowered the Gram distance
    # a larger β trades content for style even after 8 steps
    assert out.metrics["log10_gram_ratio_chelsea_brick_b100"] < out.metrics["log10_gram_ratio_chelsea_brick_b1"]
    assert out.metrics["content_ratio_chelsea_brick_b100"] > out.metrics["content_ratio_chelsea_brick_b1"]


# ------------------------------------------------------------------------------------------ verdicts
def summary(**values: list[float]) -> Summary:
    return Summary(values)


def test_effect_needs_a_consistent_sign_and_mean_above_spread() -> None:
    assert effect(summary(d=[0.2, 0.3, 0.25]), "d") == "positive"
    assert effect(summary(d=[-0.2, -0.3, -0.25]), "d") == "negative"
    assert effect(summary(d=[0.2, -0.1, 0.3]), "d") == "unclear"
    assert effect(summary(d=[0.01, 0.01, 1.0]), "d") == "unclear"  # all > 0 but mean < std
    assert effect(summary(d=[0.5]), "d") == "positive"
    with pytest.raises(ValueError, match="metric: expected one of"):
        effect(summary(d=[1.0]), "e")


def test_class_imbalance_verdict() -> None:
    v = class_imbalance.verdict
    assert v(summary(separated_gain_border=[0.3, 0.4, 0.35], recall_gain_weighted=[0.05, 0.04, 0.06])).label == "holds"
    assert v(summary(separated_gain_border=[-0.3, -0.4, -0.35],
                     recall_gain_weighted=[0.05, 0.04, 0.06])).label == "does not hold at this scale"
    assert v(summary(separated_gain_border=[0.3, -0.1, 0.2],
                     recall_gain_weighted=[0.05, 0.04, 0.06])).label == "inconclusive"


def test_triplet_mining_verdict() -> None:
    v = triplet_mining.verdict
    good = {"recall1_gain_batch-hard": [0.02, 0.03, 0.025], "recall1_gain_batch-all": [0.01, 0.02, 0.015],
            "active_drop_batch-all": [0.3, 0.4, 0.35]}
    assert v(Summary(good)).label == "holds"
    assert v(Summary({**good, "recall1_gain_batch-hard": [-0.02, -0.03, -0.025]})).label == (
        "does not hold at this scale")
    assert v(Summary({**good, "active_drop_batch-all": [0.1, -0.1, 0.0]})).label == "inconclusive"


def test_pixel_vs_perceptual_verdict() -> None:
    v = pixel_vs_perceptual.verdict
    good = {"shift_closest_deep": [1.0, 1.0, 1.0], "hf_gap_advantage": [0.5, 0.6, 0.55],
            "perceptual_advantage": [0.2, 0.25, 0.3], "psnr_drop": [1.0, 1.2, 0.9]}
    assert v(Summary(good)).label == "holds"
    assert v(Summary({**good, "shift_closest_deep": [0.25, 0.25, 0.25]})).label == "does not hold at this scale"
    assert v(Summary({**good, "perceptual_advantage": [-0.2, -0.25, -0.3]})).label == "does not hold at this scale"
    assert v(Summary({**good, "shift_closest_deep": [1.0, 0.75, 1.0]})).label == "inconclusive"
    assert v(Summary({**good, "hf_gap_advantage": [0.5, -0.6, 0.55]})).label == "inconclusive"


def test_style_texture_verdict() -> None:
    v = style_texture.verdict
    good = {"monotone_pairs": [1.0], "worst_style_end_log10_gram": [-2.5], "worst_content_end_ratio": [0.2],
            "log10_gram_ratio_texture": [-3.0]}
    assert v(Summary(good)).label == "holds"
    assert v(Summary({**good, "monotone_pairs": [0.25]})).label == "does not hold at this scale"
    assert v(Summary({**good, "worst_style_end_log10_gram": [-0.5]})).label == "does not hold at this scale"
    assert v(Summary({**good, "log10_gram_ratio_texture": [-0.5]})).label == "does not hold at this scale"
    assert v(Summary({**good, "worst_content_end_ratio": [1.5]})).label == "does not hold at this scale"
    assert v(Summary({**good, "monotone_pairs": [0.75]})).label == "inconclusive"
    assert v(Summary({**good, "worst_style_end_log10_gram": [-1.5]})).label == "inconclusive"
    assert v(Summary({**good, "worst_content_end_ratio": [0.4]})).label == "inconclusive"


# ------------------------------------------------------------------------------------------- helpers
def test_cells_ground_truth_is_consistent() -> None:
    cells = make_cells(4, torch.Generator().manual_seed(0), size=48)
    assert cells.images.shape == (4, 1, 48, 48) and cells.mask.shape == (4, 48, 48)
    assert torch.equal(cells.mask, (cells.instances > 0).long())
    assert cells.pairs and all(a != b for _, a, b in cells.pairs)
    again = make_cells(4, torch.Generator().manual_seed(0), size=48)
    assert torch.equal(cells.images, again.images)  # a function of the generator only


def _two_cells() -> Cells:
    inst = torch.zeros(1, 8, 12, dtype=torch.long)
    inst[0, 2:6, 1:5] = 1
    inst[0, 2:6, 6:10] = 2  # one background column (5) between them
    return Cells(torch.zeros(1, 1, 8, 12), inst, (inst > 0).long(), ((0, 1, 2),))


def test_separation_counts_separated_merged_and_missed_pairs() -> None:
    cells = _two_cells()
    pred = cells.mask.numpy().astype(bool)
    assert class_imbalance.separation(pred, cells)["separated"] == 1.0
    merged = pred.copy()
    merged[0, 3, 5] = True  # a bridge across the gap
    assert class_imbalance.separation(merged, cells)["merged"] == 1.0
    missed = pred.copy()
    missed[0, :, 6:] = False
    assert class_imbalance.separation(missed, cells)["missed"] == 1.0


def test_random_triplets_are_valid_and_cover_the_batch() -> None:
    labels = torch.tensor([2, 0, 1, 0, 2, 1, 1, 0, 2, 2])
    a, p, n = triplet_mining._random_triplets(labels, 2000, torch.Generator().manual_seed(0))
    assert bool((labels[a] == labels[p]).all() and (a != p).all() and (labels[a] != labels[n]).all())
    assert set(a.tolist()) == set(range(10)) and set(p.tolist()) == set(range(10))


def test_shuffle_tiles_keeps_the_pixels_and_the_gram_of_pixels() -> None:
    x = torch.rand(1, 3, 16, 16)
    y = style_texture.shuffle_tiles(x, 4, torch.Generator().manual_seed(1))
    assert not torch.equal(x, y)
    assert torch.equal(x.flatten(2).sort(dim=2).values, y.flatten(2).sort(dim=2).values)
    torch.testing.assert_close(gram_matrix(x), gram_matrix(y))  # a Gram ignores where the values are
    tiles = {tuple(y[0, :, i:i + 4, j:j + 4].flatten().tolist()) for i in range(0, 16, 4) for j in range(0, 16, 4)}
    assert tiles == {tuple(x[0, :, i:i + 4, j:j + 4].flatten().tolist()) for i in range(0, 16, 4)
                     for j in range(0, 16, 4)}


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
