"""The overlap-losses experiment: its quick run, its data (rare foreground), its measures and its verdict rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from imagelosses.experiments import overlap_losses, registry
from tests.experiment_support import run_quick, summary

pytestmark = pytest.mark.usefixtures("one_thread")


def test_overlap_losses_quick_runs_and_depends_on_the_seed(tmp_path: Path) -> None:
    a = run_quick(overlap_losses.EXPERIMENT, tmp_path)
    b = run_quick(overlap_losses.EXPERIMENT, tmp_path, seed=1, figures=False)
    assert a.metrics != b.metrics and set(a.metrics) == set(b.metrics)
    assert 0.001 <= a.metrics["foreground_fraction"] <= 0.01 and a.metrics["dice_all_background"] == 0.0
    for m in ("weighted", *overlap_losses.OVERLAP):
        name = f"dice_gain_{m}"
        assert a.metrics[f"{name}/ci_low"] <= a.metrics[name] <= a.metrics[f"{name}/ci_high"]
        assert a.metrics[name] == pytest.approx(a.metrics[f"dice_{m}"] - a.metrics["dice_ce"])
    assert a.metrics["recall_gain_tversky"] == pytest.approx(a.metrics["recall_tversky"] - a.metrics["recall_dice"])
    for m in overlap_losses.METHODS:
        assert 0.0 <= a.metrics[f"dice_{m}"] <= 1.0 and 0.0 <= a.metrics[f"precision_pooled_{m}"] <= 1.0
    assert [f.path.name for f in a.figures] == ["overlap-losses-predictions-s0.png"]
    assert a.metrics["cpu_time_s"] < 30  # the quick size is meant for ≤ 5 s a seed; generous on a busy machine


def test_quick_and_full_sizes_have_the_same_keys_the_pilot_is_disclosed_and_it_is_registered() -> None:
    e = overlap_losses.EXPERIMENT
    assert set(e.quick) == set(e.full) and e.seeds == 3
    assert "seeds 100 and 101" in e.pilot and "0, 1, 2" in e.pilot
    assert "α = 0.3, β = 0.7" in e.rule and "every seed" in e.rule
    assert registry.get("overlap-losses") is e
    names = registry.names()
    assert names.index("overlap-losses") == names.index("class-imbalance") + 1


def test_the_foreground_is_rare_small_and_present_in_every_image() -> None:
    for cfg, n in ((overlap_losses.EXPERIMENT.full, 64), (overlap_losses.EXPERIMENT.quick, 8)):
        data = overlap_losses.make_data(cfg, torch.Generator().manual_seed(7), n)
        size = cfg["size"]
        assert data.images.shape == (n, 1, size, size) and data.mask.shape == (n, size, size)
        assert data.mask.dtype == torch.int64 and bool(((data.mask == 0) | (data.mask == 1)).all())
        assert 0.001 <= float(data.mask.float().mean()) <= 0.01  # 0.1–1 % of the pixels
        assert int(data.mask.flatten(1).sum(1).min()) > 0  # every image has a lesion: all-background Dice is 0
        again = overlap_losses.make_data(cfg, torch.Generator().manual_seed(7), n)
        assert torch.equal(data.images, again.images) and torch.equal(data.mask, again.mask)
    # the lesions are brighter than their surroundings on average, but the clutter makes brightness alone ambiguous
    data = overlap_losses.make_data(overlap_losses.EXPERIMENT.full, torch.Generator().manual_seed(8), 32)
    fg = data.images[:, 0][data.mask.bool()]
    bg = data.images[:, 0][~data.mask.bool()]
    assert float(fg.mean()) > float(bg.mean()) + 0.1
    assert float((bg > float(fg.median())).float().mean() * bg.numel()) > float(fg.numel())


def test_per_image_scores() -> None:
    mask = np.zeros((3, 4, 4), dtype=np.int64)
    mask[0, :2, :2] = 1
    mask[1, 0, 0] = 1
    pred = np.zeros((3, 4, 4), dtype=bool)
    pred[0, :2, :1] = True  # tp 2, fn 2
    pred[0, 3, 3] = True  # fp 1
    s = overlap_losses.per_image_scores(pred, mask)
    assert s["dice"].tolist() == pytest.approx([4 / 7, 0.0, 1.0])  # image 2: nothing to find, nothing predicted
    assert s["recall"].tolist() == pytest.approx([0.5, 0.0, 0.0])
    # the trivial all-background predictor scores 0 on every image with a lesion
    assert overlap_losses.per_image_scores(np.zeros_like(pred), mask)["dice"][:2].tolist() == [0.0, 0.0]


def test_the_tversky_arm_differs_from_the_dice_arm_only_in_alpha_and_beta() -> None:
    arms = overlap_losses.losses()
    logits = torch.randn(2, 2, 8, 8, generator=torch.Generator().manual_seed(0))
    target = (torch.rand(2, 8, 8, generator=torch.Generator().manual_seed(1)) < 0.1).long()
    tversky = type(arms["tversky"])(alpha=0.5, beta=0.5, include_background=False)
    assert float(tversky(logits, target)) == pytest.approx(float(arms["dice"](logits, target)), abs=1e-5)
    assert float(arms["tversky"](logits, target)) != pytest.approx(float(arms["dice"](logits, target)), abs=1e-4)


def _good(**changes: list[float]) -> dict[str, list[float]]:
    """A summary in which both claims hold: every overlap loss beats CE on Dice, Tversky raises recall."""
    values: dict[str, list[float]] = {
        "dice_ce": [0.10, 0.12, 0.08], "dice_dice": [0.69, 0.70, 0.68], "dice_gdice": [0.70, 0.71, 0.69],
        "dice_tversky": [0.69, 0.70, 0.69], "recall_dice": [0.77, 0.76, 0.78], "recall_tversky": [0.80, 0.79, 0.81],
        "precision_pooled_dice": [0.69, 0.70, 0.68], "precision_pooled_tversky": [0.66, 0.67, 0.65],
        "foreground_fraction": [0.0064, 0.0062, 0.0065], "dice_all_background": [0.0, 0.0, 0.0],
        "recall_gain_tversky": [0.03, 0.03, 0.03], "recall_gain_tversky/ci_low": [0.005, 0.004, 0.006],
        "recall_gain_tversky/ci_high": [0.06, 0.06, 0.06],
    }
    for m in overlap_losses.OVERLAP:
        gains = [a - c for a, c in zip(values[f"dice_{m}"], values["dice_ce"], strict=True)]
        values[f"dice_gain_{m}"] = gains
        values[f"dice_gain_{m}/ci_low"] = [g - 0.05 for g in gains]
        values[f"dice_gain_{m}/ci_high"] = [g + 0.05 for g in gains]
    values.update(changes)
    return values


def _negated(values: dict[str, list[float]], name: str) -> dict[str, list[float]]:
    """The effect ``name`` with its arms swapped: the mean changes sign and its interval flips."""
    return {name: [-x for x in values[name]], f"{name}/ci_low": [-x for x in values[f"{name}/ci_high"]],
            f"{name}/ci_high": [-x for x in values[f"{name}/ci_low"]]}


def test_overlap_losses_verdict_holds_on_a_good_summary() -> None:
    v = overlap_losses.verdict(summary(**_good()))
    assert v.label == "holds" and "3/3 seeds" in v.reason and "0/3" not in v.reason
    assert "precision Dice 0.690 → Tversky 0.660" in v.reason and "all-background Dice 0.000" in v.reason
    assert "foreground 0.64%" in v.reason


def test_overlap_losses_verdict_does_not_hold_on_null_summaries() -> None:
    good = _good()
    swapped: dict[str, list[float]] = {}
    for name in ("recall_gain_tversky", *(f"dice_gain_{m}" for m in overlap_losses.OVERLAP)):
        swapped.update(_negated(good, name))
    equal = {k: [0.0, 0.0, 0.0] for k in good if "gain" in k}
    for changes in (swapped, equal):
        v = overlap_losses.verdict(summary(**_good(**changes)))
        assert v.label == "does not hold at this scale" and "0/3 seeds" in v.reason
    # one claim alone is not enough; nor one overlap loss that fails; nor an interval reaching 0 in one seed
    assert overlap_losses.verdict(summary(**_good(**_negated(good, "recall_gain_tversky")))).label != "holds"
    assert overlap_losses.verdict(summary(**_good(**_negated(good, "dice_gain_gdice")))).label != "holds"
    low = _good(**{"dice_gain_tversky/ci_low": [0.5, -0.01, 0.5]})
    v = overlap_losses.verdict(summary(**low))
    assert v.label == "does not hold at this scale" and "2/3 seeds" in v.reason
    low = _good(**{"recall_gain_tversky/ci_low": [0.005, 0.0, 0.006]})
    assert overlap_losses.verdict(summary(**low)).label == "does not hold at this scale"
