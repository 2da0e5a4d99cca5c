"""The restoration experiment (Zhao et al.): its quick run end to end, the Bayer mosaic and the bilinear
demosaicking against known images, and its verdict rule on good, null (swapped, equal) and partly failing
summaries."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from imagelosses.experiments import restoration as rs
from imagelosses.experiments.base import Summary
from tests.experiment_support import run_quick

pytestmark = pytest.mark.usefixtures("one_thread")


# ------------------------------------------------------------------------------------------- the run
def test_restoration_quick_runs(tmp_path: Path) -> None:
    out = run_quick(rs.EXPERIMENT, tmp_path)
    m = out.metrics
    for arm in (*rs.ARMS, "l2_l2", "l2_l1", "input"):
        assert 0 < m[f"psnr_{arm}"] < 100 and -1 <= m[f"ssim_{arm}"] <= 1 and 0 <= m[f"msssim_{arm}"] <= 1
    for name in ("l1_minus_l2_psnr", "switch_gain_psnr", "mix_minus_best_psnr", "mix_minus_best_msssim"):
        assert m[f"{name}/ci_low"] <= m[name] <= m[f"{name}/ci_high"]
    assert m["test_tiles_small"] >= 4 and m["test_tiles_large"] >= 2 and m["cpu_time_s"] > 0
    assert {f.path.name for f in out.figures} == {"restoration-crops-s0.png"}


def test_quick_and_full_have_the_same_keys() -> None:
    assert set(rs.EXPERIMENT.quick) == set(rs.EXPERIMENT.full)
    assert rs.EXPERIMENT.seeds == 3 and "100" in rs.EXPERIMENT.pilot
    assert not set(rs.TRAIN_PHOTOS) & set(rs.TEST_PHOTOS)
    assert (rs.TRAIN_MS_KERNEL - 1) * 16 < rs.EXPERIMENT.full["patch"]  # five dyadic scales fit a patch


# ------------------------------------------------------------------------------------------- Bayer data
def test_bayer_mosaic_keeps_one_colour_per_pixel() -> None:
    x = torch.stack([torch.full((4, 6), v) for v in (0.1, 0.5, 0.9)])[None]  # R, G, B constants
    mosaic = rs.bayer_mosaic(x)[0, 0]
    assert mosaic.shape == (4, 6)
    assert torch.all(mosaic[0::2, 0::2] == 0.1) and torch.all(mosaic[1::2, 1::2] == 0.9)  # R, B
    assert torch.all(mosaic[0::2, 1::2] == 0.5) and torch.all(mosaic[1::2, 0::2] == 0.5)  # G twice
    masks = rs.bayer_masks(5, 7)
    assert torch.all(masks.sum(0) == 1) and int(masks[1].sum()) == 17  # one colour per pixel; half-ish green


def test_bilinear_demosaic_reproduces_constant_and_linear_images() -> None:
    const = torch.tensor([0.2, 0.6, 0.8]).view(1, 3, 1, 1).expand(2, 3, 10, 12).double()
    torch.testing.assert_close(rs.bilinear_demosaic(rs.bayer_mosaic(const)), const)
    rows = torch.arange(10, dtype=torch.float64)[:, None]
    cols = torch.arange(12, dtype=torch.float64)[None]
    ramp = torch.stack([0.01 * rows + 0.02 * cols, 0.03 * rows - 0.01 * cols, 0.5 + 0.0 * rows * cols])[None]
    out = rs.bilinear_demosaic(rs.bayer_mosaic(ramp))
    torch.testing.assert_close(out[..., 1:-1, 1:-1], ramp[..., 1:-1, 1:-1])  # exact away from the border
    # the samples that were measured are kept
    masks = rs.bayer_masks(10, 12).double()
    torch.testing.assert_close(out * masks, ramp * masks)


def test_degrade_adds_noise_to_the_mosaic_only() -> None:
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    clean = rs.degrade(x, 0.0, torch.Generator().manual_seed(1))
    torch.testing.assert_close(clean, rs.bilinear_demosaic(rs.bayer_mosaic(x)))
    noisy = rs.degrade(x, 0.1, torch.Generator().manual_seed(1))
    assert 0.03 < float((noisy - clean).std()) < 0.2


def test_net_starts_at_its_input() -> None:
    net = rs.DemosaicNet(width=4, depth=3)
    x = torch.rand(2, 3, 9, 9)
    assert torch.equal(net(x), x)


# ------------------------------------------------------------------------------------------- the verdict
def _summary(psnr: dict[str, float], ssim: dict[str, float], msssim: dict[str, float], l1_gain: float,
             switch_gain: float, seeds: int = 3) -> Summary:
    v: dict[str, list[float]] = {}
    for m, values in (("psnr", psnr), ("ssim", ssim), ("msssim", msssim)):
        for arm, x in values.items():
            v[f"{m}_{arm}"] = [x] * seeds
    for arm in rs.ARMS:
        v[f"colour_shift_{arm}"] = [0.001] * seeds
    v["psnr_input"] = [30.0] * seeds
    for name, gain in (("l1_minus_l2_psnr", l1_gain), ("switch_gain_psnr", switch_gain)):
        v[name] = [gain] * seeds
        v[f"{name}/ci_low"] = [gain - 0.05] * seeds
        v[f"{name}/ci_high"] = [gain + 0.05] * seeds
    v["test_tiles_small"] = [101.0] * seeds
    v["test_tiles_large"] = [10.0] * seeds
    return Summary(v)


GOOD = (
    {"l2": 32.0, "l1": 32.3, "ssim": 31.5, "msssim": 32.1, "mix": 32.35},
    {"l2": 0.90, "l1": 0.905, "ssim": 0.91, "msssim": 0.909, "mix": 0.9095},
    {"l2": 0.95, "l1": 0.955, "ssim": 0.956, "msssim": 0.96, "mix": 0.961},
)


def test_verdict_holds_when_every_claim_holds() -> None:
    assert rs.verdict(_summary(*GOOD, l1_gain=0.3, switch_gain=0.2)).label == "holds"


def test_verdict_on_null_summaries_does_not_hold() -> None:
    psnr, ssim, msssim = GOOD
    swapped = _summary(psnr, ssim, msssim, l1_gain=-0.3, switch_gain=-0.2)
    assert rs.verdict(swapped).label == "does not hold at this scale"
    equal = {"l2": 32.0, "l1": 32.0, "ssim": 32.0, "msssim": 32.0, "mix": 32.0}
    flat = _summary(equal, {k: 0.9 for k in equal}, {k: 0.95 for k in equal}, l1_gain=0.0, switch_gain=0.0)
    assert rs.verdict(flat).label == "does not hold at this scale"


def test_each_claim_can_fail_alone() -> None:
    psnr, ssim, msssim = GOOD
    assert rs.verdict(_summary(*GOOD, l1_gain=0.0, switch_gain=0.2)).label != "holds"  # (1)
    assert rs.verdict(_summary(*GOOD, l1_gain=0.3, switch_gain=0.04)).label != "holds"  # (3): interval reaches 0
    worse_mix = {**msssim, "mix": 0.957}  # 0.003 below the best: beyond the 0.002 of near-best
    assert rs.verdict(_summary(psnr, ssim, worse_mix, l1_gain=0.3, switch_gain=0.2)).label != "holds"  # (2)
    near_mix = {**msssim, "mix": 0.9585}  # 0.0015 below: near-best
    assert rs.verdict(_summary(psnr, ssim, near_mix, l1_gain=0.3, switch_gain=0.2)).label == "holds"
    assert "inconclusive" not in {rs.verdict(_summary(*GOOD, l1_gain=g, switch_gain=g)).label
                                  for g in (-1.0, 0.0, 0.04, 1.0)}


def test_too_few_seeds_are_not_decided() -> None:
    assert rs.verdict(_summary(*GOOD, l1_gain=0.3, switch_gain=0.2, seeds=2)).label == "not decided"
