"""The ``topology`` experiment: a quick end-to-end run of one seed, the data generator's ground truth, and the
verdict rule on synthetic summaries."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from imagelosses.experiments.base import VERDICTS, RunContext, Summary
from imagelosses.experiments.topology import ARMS, EXPERIMENT, SCORES, TinyUNet, make_data, verdict
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


def test_tiny_unet_shapes_and_prior() -> None:
    net = TinyUNet(4, prior_logit=-2.0)
    out = net(torch.rand(2, 1, 48, 48))
    assert out.shape == (2, 1, 48, 48)
    assert float(net.head.bias.detach()) == -2.0


@pytest.mark.usefixtures("oxford_cache")
def test_quick_run_end_to_end(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    ctx = RunContext(config=EXPERIMENT.quick, seed=0, device=torch.device("cpu"), out_dir=tmp_path,
                     progress=lambda done, total: seen.append((done, total)))
    out = EXPERIMENT.run(ctx)
    for arm in ARMS:
        for key in SCORES:
            assert math.isfinite(out.metrics[f"{arm}_{key}"]), (arm, key)
    assert math.isfinite(out.metrics["topology_minus_bce_completeness"]) and out.metrics["mu"] > 0
    assert seen[-1][0] == seen[-1][1] == 3 * EXPERIMENT.quick["steps"]
    assert len(out.figures) == 1 and out.figures[0].path.exists() and out.figures[0].path.stat().st_size > 1000
    table = next(iter(out.tables.values()))
    assert table[0][0] == "arm" and len(table) == 1 + len(ARMS)
    result = verdict(Summary({k: [v] for k, v in out.metrics.items()}))
    assert result.label in VERDICTS and "completeness gain" in result.reason


def _summary(dc: list[float], db: list[float], df1: list[float]) -> Summary:
    return Summary({"topology_minus_bce_completeness": dc, "topology_minus_bce_betti0_error": db,
                    "topology_minus_bce_pixel_f1": df1})


def test_verdict_rule() -> None:
    # better completeness and fewer components than BCE in every seed, same pixel F1: holds
    assert verdict(_summary([0.05, 0.06, 0.04], [-0.5, -0.7, -0.6], [0.0, -0.01, 0.01])).label == "holds"
    # completeness worse on average: does not hold
    assert verdict(_summary([-0.02, -0.01, 0.0], [-0.5, -0.7, -0.6], [0.0, 0.0, 0.0])).label == (
        "does not hold at this scale")
    # more broken components than BCE: does not hold, whatever the completeness
    assert verdict(_summary([0.05, 0.06, 0.04], [0.3, 0.1, 0.2], [0.0, 0.0, 0.0])).label == (
        "does not hold at this scale")
    # gains smaller than their spread over seeds: inconclusive
    noisy = verdict(_summary([0.10, -0.05, 0.01], [-1.0, 0.4, -0.1], [0.0, 0.0, 0.0]))
    assert noisy.label == "inconclusive" and "spread" in noisy.reason
    # clear gains bought with a much lower pixel F1: inconclusive
    worse = verdict(_summary([0.05, 0.06, 0.04], [-0.5, -0.7, -0.6], [-0.10, -0.08, -0.09]))
    assert worse.label == "inconclusive" and "pixel F1" in worse.reason


def test_experiment_declaration() -> None:
    assert EXPERIMENT.name == "topology" and EXPERIMENT.seeds >= 2
    assert set(EXPERIMENT.full) == set(EXPERIMENT.quick)  # the same code at two sizes
    assert EXPERIMENT.quick["steps"] < EXPERIMENT.full["steps"] and "1712.02190" in EXPERIMENT.paper
