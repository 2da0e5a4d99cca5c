"""The class-imbalance experiment: its quick run, its verdict rule, the cells data and the separation count."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from imagelosses.experiments import class_imbalance
from imagelosses.experiments.data import Cells, make_cells
from tests.experiment_support import run_quick, summary

pytestmark = pytest.mark.usefixtures("one_thread")


def test_class_imbalance_quick_runs_and_depends_on_the_seed(tmp_path: Path) -> None:
    a = run_quick(class_imbalance.EXPERIMENT, tmp_path)
    b = run_quick(class_imbalance.EXPERIMENT, tmp_path, seed=1, figures=False)
    assert a.metrics["touching_pairs_test"] > 0 and 0 < a.metrics["foreground_fraction"] < 0.3
    assert a.metrics != b.metrics



def test_class_imbalance_verdict() -> None:
    v = class_imbalance.verdict
    assert v(summary(separated_gain_border=[0.3, 0.4, 0.35], recall_gain_weighted=[0.05, 0.04, 0.06])).label == "holds"
    assert v(summary(separated_gain_border=[-0.3, -0.4, -0.35],
                     recall_gain_weighted=[0.05, 0.04, 0.06])).label == "does not hold at this scale"
    assert v(summary(separated_gain_border=[0.3, -0.1, 0.2],
                     recall_gain_weighted=[0.05, 0.04, 0.06])).label == "inconclusive"



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

