"""The triplet-mining experiment: its quick run, its patch-matching data, its verdict rule and its random triplets."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from imagelosses.experiments import triplet_mining
from imagelosses.experiments.base import Summary
from imagelosses.experiments.triplet_patches import make_patches, standardise
from imagelosses.metrics.retrieval import recall_at_k
from tests.experiment_support import run_quick

pytestmark = pytest.mark.usefixtures("one_thread")


def test_triplet_mining_quick_runs(tmp_path: Path) -> None:
    start = time.process_time()
    out = run_quick(triplet_mining.EXPERIMENT, tmp_path)
    assert time.process_time() - start < 15.0  # the quick size is a few seconds of one CPU thread
    for method in triplet_mining.METHODS:
        assert 0 <= out.metrics[f"recall1_{method}"] <= 1
    for method in triplet_mining.METHODS[1:]:
        gain = out.metrics[f"recall1_gain_{method}"]
        assert out.metrics[f"recall1_gain_{method}/ci_low"] <= gain <= out.metrics[f"recall1_gain_{method}/ci_high"]
        assert gain == pytest.approx(out.metrics[f"recall1_{method}"] - out.metrics["recall1_offline-random"])
    assert 0 <= out.metrics["active_end_batch-all"] <= 1
    assert 0 < out.metrics["recall1_raw_pixels"] < 1
    assert {f.path.name for f in out.figures} == {"triplet-mining-patches-s0.png", "triplet-mining-curves-s0.png"}


def test_quick_and_full_have_the_same_keys() -> None:
    assert set(triplet_mining.EXPERIMENT.quick) == set(triplet_mining.EXPERIMENT.full)


def test_train_and_test_identities_are_disjoint_with_k_views_each() -> None:
    cfg = triplet_mining.EXPERIMENT.quick
    assert not set(cfg["train_photos"]) & set(cfg["test_photos"])  # test photographs no arm trains on
    x_train, y_train, x_test, y_test = triplet_mining.load_data(cfg, seed=3)
    assert x_train.shape[1:] == x_test.shape[1:] == (1, cfg["patch"], cfg["patch"])
    assert not set(y_train.tolist()) & set(y_test.tolist())
    for labels, views in ((y_train, cfg["views"]), (y_test, cfg["k"])):
        _, counts = torch.unique(labels, return_counts=True)
        assert bool((counts == views).all())
        grouped = labels.view(-1, views)  # an identity's views are consecutive
        assert bool((grouped == grouped[:, :1]).all())
    assert int(y_test.unique().numel()) == cfg["max_test_ids"]
    assert 0 <= float(x_train.min()) and float(x_train.max()) <= 1


def test_views_differ_but_come_from_the_same_point() -> None:
    """The views of an identity are distinct (a nuisance was applied) yet closer to each other than to other
    identities' views on average (they show the same point)."""
    cfg = {**triplet_mining.EXPERIMENT.quick, "max_ids_per_photo": 30}
    x, y, source = make_patches(("camera",), 4, cfg, torch.Generator().manual_seed(0))
    assert source.numel() == 30 and bool((source == 0).all())
    z = standardise(x).flatten(1)
    d = torch.cdist(z, z)
    same = (y[:, None] == y[None, :]) & ~torch.eye(y.numel(), dtype=torch.bool)
    other = y[:, None] != y[None, :]
    assert float(d[same].min()) > 0
    assert float(d[same].mean()) < float(d[other].mean())


def test_query_hits_is_recall_at_1() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 5, generator=g)
    y = torch.arange(15).repeat_interleave(4)
    hits = triplet_mining.query_hits(x, y)
    assert hits.shape == (60,)
    assert float(hits.mean()) == pytest.approx(recall_at_k(x, y, normalize=False))


def _summary(hard: list[float], all_: list[float], width: float = 0.02) -> Summary:
    values: dict[str, list[float]] = {}
    for method, gains in (("batch-hard", hard), ("batch-all", all_)):
        values[f"recall1_gain_{method}"] = gains
        values[f"recall1_gain_{method}/ci_low"] = [g - width for g in gains]
        values[f"recall1_gain_{method}/ci_high"] = [g + width for g in gains]
    return Summary(values)


def test_triplet_mining_verdict() -> None:
    v = triplet_mining.verdict
    assert v(_summary([0.08, 0.10, 0.06], [0.05, 0.07, 0.04])).label == "holds"
    # Null summaries: the arms' numbers swapped (every gain and interval negated), and equal arms.
    assert v(_summary([-0.08, -0.10, -0.06], [-0.05, -0.07, -0.04])).label == "does not hold at this scale"
    assert v(_summary([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], width=0.0)).label == "does not hold at this scale"
    assert v(_summary([0.0, 0.0, 0.0], [0.0, 0.0, 0.0])).label == "does not hold at this scale"
    # Positive in every seed but one interval reaching zero, or one arm failing: does not hold.
    assert v(_summary([0.08, 0.10, 0.01], [0.05, 0.07, 0.04])).label == "does not hold at this scale"
    assert v(_summary([0.08, 0.10, 0.06], [0.05, -0.07, 0.04])).label == "does not hold at this scale"
    assert "batch-hard − offline" in v(_summary([0.08, 0.10, 0.06], [0.05, 0.07, 0.04])).reason


def test_random_triplets_are_valid_and_cover_the_batch() -> None:
    labels = torch.tensor([2, 0, 1, 0, 2, 1, 1, 0, 2, 2])
    a, p, n = triplet_mining._random_triplets(labels, 2000, torch.Generator().manual_seed(0))
    assert bool((labels[a] == labels[p]).all() and (a != p).all() and (labels[a] != labels[n]).all())
    assert set(a.tolist()) == set(range(10)) and set(p.tolist()) == set(range(10))
