"""The class-imbalance experiment: its quick run, its verdict rule, the cells data and the separation count."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage

from imagelosses.experiments import class_imbalance
from tests.experiment_support import run_quick, summary

pytestmark = pytest.mark.usefixtures("one_thread")


def test_class_imbalance_quick_runs_and_depends_on_the_seed(tmp_path: Path) -> None:
    a = run_quick(class_imbalance.EXPERIMENT, tmp_path)
    b = run_quick(class_imbalance.EXPERIMENT, tmp_path, seed=1, figures=False)
    assert a.metrics["touching_pairs_test"] > 0 and 0 < a.metrics["foreground_fraction"] < 0.3
    assert a.metrics != b.metrics
    assert set(a.metrics) == set(b.metrics)
    for name in ("recall_gain_weighted", "separated_gain_border"):
        assert a.metrics[f"{name}/ci_low"] <= a.metrics[name] <= a.metrics[f"{name}/ci_high"]
    for m in class_imbalance.METHODS:
        assert a.metrics[f"f1_fg_{m}"] == pytest.approx(class_imbalance.f1(a.metrics[f"precision_fg_{m}"],
                                                                           a.metrics[f"recall_fg_{m}"]))
        assert sum(a.metrics[f"{k}_{m}"] for k in ("separated", "merged", "missed")) == pytest.approx(1.0)
    names = sorted(f.path.name for f in a.figures)
    assert names == ["class-imbalance-predictions-s0.png", "class-imbalance-weightmap-s0.png"]


def test_quick_and_full_sizes_have_the_same_keys_and_the_pilot_is_disclosed() -> None:
    e = class_imbalance.EXPERIMENT
    assert set(e.quick) == set(e.full) and e.seeds == 3
    assert "100, 101 and 102" in e.pilot and "PILOT_RESULTS" not in e.pilot
    assert "σ" in e.setup and f"{class_imbalance.F1_MARGIN:.2f}" in e.rule


def _good(**changes: list[float]) -> dict[str, list[float]]:
    """A summary in which both claims hold: recall up, precision a little down, pairs separated up."""
    values = {
        "recall_fg_plain": [0.96, 0.97, 0.96], "precision_fg_plain": [0.94, 0.93, 0.94],
        "recall_fg_weighted": [0.99, 0.99, 0.99], "precision_fg_weighted": [0.89, 0.88, 0.89],
        "recall_fg_border": [0.99, 0.99, 0.99], "precision_fg_border": [0.90, 0.89, 0.90],
        "recall_gain_weighted": [0.03, 0.02, 0.03], "recall_gain_weighted/ci_low": [0.02, 0.015, 0.02],
        "recall_gain_weighted/ci_high": [0.04, 0.03, 0.04],
        "separated_gain_border": [0.12, 0.13, 0.10], "separated_gain_border/ci_low": [0.07, 0.08, 0.05],
        "separated_gain_border/ci_high": [0.17, 0.18, 0.15],
    }
    values.update(changes)
    return values


def test_class_imbalance_verdict_holds_on_a_good_summary() -> None:
    v = class_imbalance.verdict(summary(**_good()))
    assert v.label == "holds" and "3/3 seeds" in v.reason


def test_class_imbalance_verdict_does_not_hold_on_null_summaries() -> None:
    good = _good()
    swapped = _good(**{  # the arms' numbers swapped: every difference changes sign and its interval flips
        "recall_fg_plain": good["recall_fg_weighted"], "precision_fg_plain": good["precision_fg_weighted"],
        "recall_fg_weighted": good["recall_fg_plain"], "precision_fg_weighted": good["precision_fg_plain"],
        "recall_gain_weighted": [-x for x in good["recall_gain_weighted"]],
        "recall_gain_weighted/ci_low": [-x for x in good["recall_gain_weighted/ci_high"]],
        "recall_gain_weighted/ci_high": [-x for x in good["recall_gain_weighted/ci_low"]],
        "separated_gain_border": [-x for x in good["separated_gain_border"]],
        "separated_gain_border/ci_low": [-x for x in good["separated_gain_border/ci_high"]],
        "separated_gain_border/ci_high": [-x for x in good["separated_gain_border/ci_low"]]})
    equal = _good(**{"recall_fg_weighted": good["recall_fg_plain"], "precision_fg_weighted": good["precision_fg_plain"],
                     "recall_fg_border": good["recall_fg_plain"], "precision_fg_border": good["precision_fg_plain"],
                     **{k: [0.0, 0.0, 0.0] for k in ("recall_gain_weighted", "recall_gain_weighted/ci_low",
                                                     "recall_gain_weighted/ci_high", "separated_gain_border",
                                                     "separated_gain_border/ci_low", "separated_gain_border/ci_high")}})
    for values in (swapped, equal):
        assert class_imbalance.verdict(summary(**values)).label == "does not hold at this scale"
    # one claim alone is not enough, nor an interval that reaches 0 in one seed
    assert class_imbalance.verdict(summary(**_good(separated_gain_border=[0.1, 0.0, 0.1]))).label != "holds"
    assert class_imbalance.verdict(summary(**_good(**{"recall_gain_weighted/ci_low": [0.02, -0.01, 0.02]}))
                                   ).label != "holds"


def test_class_imbalance_verdict_guards_catch_everything_foreground_and_eroded_cells() -> None:
    fraction = 0.087  # predicting every pixel as foreground: recall 1, precision = the foreground fraction
    everything = _good(recall_fg_weighted=[1.0] * 3, precision_fg_weighted=[fraction] * 3,
                       recall_fg_border=[1.0] * 3, precision_fg_border=[fraction] * 3)
    v = class_imbalance.verdict(summary(**everything))
    assert v.label == "does not hold at this scale" and "class-weighted F1 ≥ plain F1 − 0.10: 0/3" in v.reason
    # the border arm separates pairs by eroding the cells: recall falls, its F1 drops well below the weighted arm's
    eroded = _good(recall_fg_border=[0.60, 0.62, 0.61], precision_fg_border=[1.0, 1.0, 1.0])
    v = class_imbalance.verdict(summary(**eroded))
    assert v.label == "does not hold at this scale" and "border F1 ≥ class-weighted F1 − 0.10: 0/3" in v.reason
    # a cost of precision within the margin passes
    costly = _good(precision_fg_weighted=[0.85, 0.84, 0.85])
    assert class_imbalance.verdict(summary(**costly)).label == "holds"


def test_the_border_weight_map_is_scaled_to_the_cells() -> None:
    cells = class_imbalance.make_data(class_imbalance.EXPERIMENT.quick, torch.Generator().manual_seed(3), 2)
    maps = class_imbalance.weight_maps(cells)
    border = maps["border"] - maps["weighted"]
    assert torch.all(border >= 0) and torch.all(border[cells.mask.bool()] == 0)  # on background pixels only
    assert float(border.max()) > 3.0  # high on the carved lines between touching cells
    # the border term stays near the cells: background pixels 2σ + 4 px from every cell get (almost) nothing
    far = np.stack([ndimage.distance_transform_edt(~m) > 2 * class_imbalance.SIGMA + 4
                    for m in cells.mask.numpy().astype(bool)])
    assert float(border[torch.from_numpy(far)].max()) < 0.05
    # the class weights balance the classes: both carry half the total weight in each image
    w = maps["weighted"]
    for i in range(2):
        fg = cells.mask[i].bool()
        assert float(w[i][fg].sum()) == pytest.approx(float(w[i][~fg].sum()), rel=1e-4)


def test_experiment_cells_are_consistent_and_show_a_membrane() -> None:
    cfg = class_imbalance.EXPERIMENT.quick
    cells = class_imbalance.make_data(cfg, torch.Generator().manual_seed(0), 4)
    size = cfg["size"]
    assert cells.images.shape == (4, 1, size, size) and torch.equal(cells.mask, (cells.instances > 0).long())
    assert cells.pairs and all(a != b for _, a, b in cells.pairs)
    assert 0.04 < float(cells.mask.float().mean()) < 0.15
    again = class_imbalance.make_data(cfg, torch.Generator().manual_seed(0), 4)
    assert torch.equal(cells.images, again.images)  # a function of the generator only
    # every touching pair is split by the carved line: the true foreground separates it under 8-connectivity
    assert class_imbalance.separation(cells.mask.numpy().astype(bool), cells)["separated"] == 1.0


def _two_cells() -> class_imbalance.Cells:
    inst = torch.zeros(1, 8, 12, dtype=torch.long)
    inst[0, 2:6, 1:5] = 1
    inst[0, 2:6, 6:10] = 2  # one background column (5) between them
    return class_imbalance.Cells(torch.zeros(1, 1, 8, 12), inst, (inst > 0).long(), ((0, 1, 2),))


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

