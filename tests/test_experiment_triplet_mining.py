"""The triplet-mining experiment: its quick run, its verdict rule and its random triplets."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from imagelosses.experiments import triplet_mining
from imagelosses.experiments.base import Summary
from tests.experiment_support import run_quick

pytestmark = pytest.mark.usefixtures("one_thread")


def test_triplet_mining_quick_runs(tmp_path: Path) -> None:
    out = run_quick(triplet_mining.EXPERIMENT, tmp_path)
    for method in triplet_mining.METHODS:
        assert 0 <= out.metrics[f"recall1_{method}"] <= 1
        assert 0 <= out.metrics[f"active_end_{method}"] <= 1



def test_triplet_mining_verdict() -> None:
    v = triplet_mining.verdict
    good = {"recall1_gain_batch-hard": [0.02, 0.03, 0.025], "recall1_gain_batch-all": [0.01, 0.02, 0.015],
            "active_drop_batch-all": [0.3, 0.4, 0.35]}
    assert v(Summary(good)).label == "holds"
    assert v(Summary({**good, "recall1_gain_batch-hard": [-0.02, -0.03, -0.025]})).label == (
        "does not hold at this scale")
    assert v(Summary({**good, "active_drop_batch-all": [0.1, -0.1, 0.0]})).label == "inconclusive"



def test_random_triplets_are_valid_and_cover_the_batch() -> None:
    labels = torch.tensor([2, 0, 1, 0, 2, 1, 1, 0, 2, 2])
    a, p, n = triplet_mining._random_triplets(labels, 2000, torch.Generator().manual_seed(0))
    assert bool((labels[a] == labels[p]).all() and (a != p).all() and (labels[a] != labels[n]).all())
    assert set(a.tolist()) == set(range(10)) and set(p.tolist()) == set(range(10))

