"""The ``topology`` experiment: a quick end-to-end run of one seed, part A's break and notch (same pixels, only
the break disconnects), the data generator's ground truth, the break/spurious counts, and the verdict rule on
good and null summaries."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from imagelosses.experiments.base import VERDICTS, Summary
from imagelosses.experiments.topology import (
    ARMS,
    BLUR_SIGMAS,
    EXPERIMENT,
    SCORES,
    TinyUNet,
    blurred_mse,
    components,
    fragments,
    make_break_notch,
    make_data,
    verdict,
)
from tests.experiment_support import run_quick
from tests.vgg_fixtures import oxford_cache  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_data_has_known_ground_truth_and_is_reproducible() -> None:
    images, masks, occluded = make_data(6, 48, torch.Generator().manual_seed(3))
    assert images.shape == masks.shape == occluded.shape == (6, 1, 48, 48)
    assert float(images.min()) >= 0 and float(images.max()) <= 1
    assert set(masks.unique().tolist()) <= {0.0, 1.0}
    assert bool((occluded <= (masks > 0)).all()) and int(occluded.sum()) > 0  # occluders hide mask pixels
    assert 0.02 < float(masks.mean()) < 0.4  # thin structures, not the whole image
    again = make_data(6, 48, torch.Generator().manual_seed(3))
    assert torch.equal(again[0], images) and torch.equal(again[1], masks)


def test_break_and_notch_remove_the_same_pixels_and_only_the_break_disconnects() -> None:
    masks, broken, notched, centres = make_break_notch(16, 48, torch.Generator().manual_seed(5))
    assert masks.shape == broken.shape == notched.shape == (16, 1, 48, 48) and centres.shape == (16, 2)
    for m, b, n in zip(masks[:, 0], broken[:, 0], notched[:, 0], strict=True):
        assert bool((b <= m).all()) and bool((n <= m).all())  # only removals
        removed_break, removed_notch = int((m - b).sum()), int((m - n).sum())
        assert removed_break == removed_notch > 0
        assert not torch.equal(b, n)
        assert components(m > 0) == 1
        assert components(b > 0) == 2  # the break cuts the curve in two
        assert components(n > 0) == 1  # the notch leaves it in one piece
    # any pixel loss charges both the same: the same number of wrong pixels
    assert torch.equal((broken - masks).abs().sum((1, 2, 3)), (notched - masks).abs().sum((1, 2, 3)))
    # the blurred MSE is zero for the intact mask and positive for both damages
    assert float(blurred_mse(masks, masks, 2.0).abs().max()) == 0.0
    assert bool((blurred_mse(broken, masks, 2.0) > 0).all()) and bool((blurred_mse(notched, masks, 2.0) > 0).all())
    again = make_break_notch(16, 48, torch.Generator().manual_seed(5))
    assert torch.equal(again[1], broken) and torch.equal(again[2], notched)


def test_fragments_counts_breaks_and_spurious_components() -> None:
    truth = torch.zeros(1, 1, 12, 12, dtype=torch.bool)
    truth[0, 0, 6, :] = True
    pred = truth.clone()
    pred[0, 0, 6, 3:5] = False  # two gaps: three pieces of one structure
    pred[0, 0, 6, 8] = False
    pred[0, 0, 0, 0] = True  # one blob touching no structure
    breaks, spurious = fragments(pred, truth)
    assert breaks.tolist() == [2.0] and spurious.tolist() == [1.0]
    assert [v.tolist() for v in fragments(truth, truth)] == [[0.0], [0.0]]


def test_tiny_unet_shapes_and_prior() -> None:
    net = TinyUNet(4, prior_logit=-2.0)
    out = net(torch.rand(2, 1, 48, 48))
    assert out.shape == (2, 1, 48, 48)
    assert float(net.head.bias.detach()) == -2.0
    assert TinyUNet(4, in_channels=2)(torch.rand(1, 2, 48, 48)).shape == (1, 1, 48, 48)  # image ⊕ prediction


@pytest.mark.usefixtures("oxford_cache")
def test_quick_run_end_to_end(tmp_path: Path) -> None:
    out = run_quick(EXPERIMENT, tmp_path)
    m = out.metrics
    for arm in ARMS:
        for key in (*SCORES, "occluded_recall"):
            assert math.isfinite(m[f"{arm}_{key}"]), (arm, key)
    for key in SCORES:
        low, mean, high = (m[f"topology_minus_bce_{key}{s}"] for s in ("/ci_low", "", "/ci_high"))
        assert low <= mean <= high, key
    for sigma in BLUR_SIGMAS:
        key = f"partA_gain_blur{sigma:g}"
        assert m[f"{key}/ci_low"] <= m[key] <= m[f"{key}/ci_high"] and 0 <= m[f"partA_frac_blur{sigma:g}"] <= 1
    assert m["partA_equal_counts"] == 1.0 and m["partA_removed_pixels"] > 0
    assert m["mu"] > 0 and m["cpu_time_s"] > 0
    names = sorted(f.path.name for f in out.figures)
    assert names == ["topology_partA_break_vs_notch_seed0.png", "topology_partB_predictions_seed0.png"]
    assert all(f.path.stat().st_size > 1000 for f in out.figures)
    assert len(out.tables) == 3
    result = verdict(Summary({k: [v] for k, v in out.metrics.items()}))
    assert result.label in VERDICTS and "completeness gain" in result.reason


def _good() -> dict[str, list[float]]:
    """A summary where the claim holds: part A's gain well above zero, part B's completeness gain positive with
    intervals above zero in every seed, fewer Betti-0 errors, the same pixel F1."""
    values: dict[str, list[float]] = {}
    for sigma in BLUR_SIGMAS:
        key = f"partA_gain_blur{sigma:g}"
        values[key], values[f"{key}/ci_low"], values[f"{key}/ci_high"] = [0.4] * 3, [0.3] * 3, [0.5] * 3
        values[f"partA_frac_blur{sigma:g}"] = [0.9] * 3
    part_b = {"completeness": ([0.05, 0.06, 0.04], [0.02, 0.03, 0.01], [0.08, 0.09, 0.07]),
              "betti0_error": ([-0.5, -0.7, -0.6], [-0.8, -1.0, -0.9], [-0.2, -0.4, -0.3]),
              "pixel_f1": ([0.0, -0.01, 0.01], [-0.01, -0.02, 0.0], [0.01, 0.0, 0.02]),
              "correctness": ([0.0, 0.0, 0.0], [-0.01] * 3, [0.01] * 3),
              "breaks": ([-0.3] * 3, [-0.5] * 3, [-0.1] * 3), "spurious": ([-0.2] * 3, [-0.4] * 3, [0.0] * 3)}
    for key, (mean, low, high) in part_b.items():
        name = f"topology_minus_bce_{key}"
        values[name], values[f"{name}/ci_low"], values[f"{name}/ci_high"] = mean, low, high
    return values


def _swapped(values: dict[str, list[float]]) -> dict[str, list[float]]:
    """The arms' numbers swapped: every difference and interval changes sign (low and high trade places)."""
    out: dict[str, list[float]] = {}
    for key, v in values.items():
        if key.endswith("/ci_low"):
            out[key] = [-x for x in values[key.replace("/ci_low", "/ci_high")]]
        elif key.endswith("/ci_high"):
            out[key] = [-x for x in values[key.replace("/ci_high", "/ci_low")]]
        elif "_frac_" in key:
            out[key] = [1 - x for x in v]
        else:
            out[key] = [-x for x in v]
    return out


def _equal(values: dict[str, list[float]]) -> dict[str, list[float]]:
    """The arms equal: every difference and interval bound zero, the topology ratio larger on half the curves."""
    return {key: [0.5 if "_frac_" in key else 0.0 for _ in v] for key, v in values.items()}


def test_verdict_rule_holds_on_a_good_summary() -> None:
    result = verdict(Summary(_good()))
    assert result.label == "holds", result.reason
    assert "completeness gain" in result.reason and "pixel F1" in result.reason and "part A holds" in result.reason


@pytest.mark.parametrize("null", [_swapped, _equal], ids=["swapped", "equal"])
def test_verdict_rule_does_not_hold_on_a_null_summary(null: object) -> None:
    values = null(_good())  # type: ignore[operator]
    assert verdict(Summary(values)).label == "does not hold at this scale"
    # part B null alone (part A still good) and part A null alone (part B still good) both fail too
    good = _good()
    b_only = {k: (values[k] if k.startswith("topology_minus_bce") else good[k]) for k in good}
    a_only = {k: (values[k] if k.startswith("partA") else good[k]) for k in good}
    assert verdict(Summary(b_only)).label == "does not hold at this scale"
    assert verdict(Summary(a_only)).label == "does not hold at this scale"


def test_verdict_rule_needs_intervals_in_two_seeds_and_the_f1_guard() -> None:
    one_interval = _good()
    one_interval["topology_minus_bce_completeness/ci_low"] = [0.02, -0.01, -0.01]
    result = verdict(Summary(one_interval))
    assert result.label == "does not hold at this scale" and "1/3 seeds" in result.reason
    negative_seed = _good()
    negative_seed["topology_minus_bce_completeness"] = [0.05, 0.06, -0.01]
    assert verdict(Summary(negative_seed)).label == "does not hold at this scale"
    thicker = _good()
    thicker["topology_minus_bce_pixel_f1"] = [-0.10, -0.08, -0.09]
    result = verdict(Summary(thicker))
    assert result.label == "does not hold at this scale" and "guard" in result.reason
    blur_explains = _good()
    blur_explains["partA_gain_blur4/ci_low"] = [0.1, -0.05, 0.1]  # one width, one seed: the interval reaches 0
    assert verdict(Summary(blur_explains)).label == "does not hold at this scale"


def test_experiment_declaration() -> None:
    assert EXPERIMENT.name == "topology" and EXPERIMENT.seeds >= 3
    assert set(EXPERIMENT.full) == set(EXPERIMENT.quick)  # the same code at two sizes
    assert EXPERIMENT.quick["steps"] < EXPERIMENT.full["steps"] and "1712.02190" in EXPERIMENT.paper
    assert EXPERIMENT.full["test_images"] >= 128 and EXPERIMENT.full["refine_steps"] == 3
    assert EXPERIMENT.pilot and "100" in EXPERIMENT.pilot
