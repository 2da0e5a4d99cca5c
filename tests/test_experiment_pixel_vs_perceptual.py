"""The pixel-vs-perceptual experiment: its quick run, its measures (the lattice-artefact share against known
inputs and a naive computation), its verdict rule on good, null and guard-failing summaries, and the train/test
split."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from imagelosses.experiments import pixel_vs_perceptual as pvp
from imagelosses.experiments.base import Summary
from imagelosses.experiments.data import luminance, photograph
from imagelosses.experiments.models import TinySR, TinyUNet, seeded
from tests.experiment_support import run_quick
from tests.vgg_fixtures import oxford_cache  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


# ------------------------------------------------------------------------------------------- the run
@pytest.mark.usefixtures("oxford_cache")
def test_pixel_vs_perceptual_quick_runs(tmp_path: Path) -> None:
    out = run_quick(pvp.EXPERIMENT, tmp_path)
    m = out.metrics
    assert m["blur_sigma_mean"] > 0
    assert 0 <= m["shift_closest_deep"] <= 1
    assert m["test_tiles"] >= 2
    for who in ("gt", "bicubic", "pixel", "perceptual"):
        assert 0 <= m[f"lattice_share_{who}"] <= 1
    assert m["lattice_limit"] == pytest.approx(pvp.lattice_limit(m["lattice_share_gt"], m["lattice_share_bicubic"]))
    for name in ("psnr_tile_drop", "hf_gap_advantage", "relu2_2_advantage", "relu3_3_advantage", "relu4_3_advantage"):
        assert m[f"{name}/ci_low"] <= m[name] <= m[f"{name}/ci_high"]
    assert m["cpu_time_s"] > 0
    assert {f.path.name for f in out.figures} >= {"pixel-vs-perceptual-sr-s0.png",
                                                 "pixel-vs-perceptual-spectrum-s0.png"}


def test_quick_and_full_have_the_same_keys() -> None:
    assert set(pvp.EXPERIMENT.quick) == set(pvp.EXPERIMENT.full)
    assert pvp.EXPERIMENT.seeds == 3
    assert "100" in pvp.EXPERIMENT.pilot and "training part" in pvp.EXPERIMENT.pilot
    assert pvp.RULE_LAYER in pvp.EXPERIMENT.rule and "descriptive" in pvp.EXPERIMENT.rule


# ------------------------------------------------------------------------------------------- the split
@pytest.mark.parametrize("width", [180, 300, 451, 512, 600, 741])
@pytest.mark.parametrize("fraction", [0.5, 0.6])
def test_split_columns_do_not_overlap(width: int, fraction: float) -> None:
    train, test = pvp.split_columns(width, fraction)
    assert not set(train) & set(test)
    assert train.start == 0 and train.stop == test.start and test.stop <= width
    assert len(train) % 4 == 0 and len(test) % 4 == 0 and len(test) > 0
    assert abs(len(train) - fraction * width) < 4


def test_training_patches_and_held_out_parts_share_no_pixel(monkeypatch: pytest.MonkeyPatch) -> None:
    # A photograph whose every pixel holds its own column index: any pixel's origin can be read back.
    def columns(name: str, rows: int) -> torch.Tensor:
        width = {"astronaut": 200, "chelsea": 151}[name]
        return torch.arange(width, dtype=torch.float64).expand(1, 3, rows, width).clone()

    monkeypatch.setattr(pvp, "_load_photo", columns)
    cfg = {**pvp.EXPERIMENT.quick, "sr_photos": ("astronaut", "chelsea"), "rows": 70}
    train, test = pvp._parts(cfg)
    for name, tr, te in zip(cfg["sr_photos"], train, test, strict=True):
        cut, _ = pvp.split_columns({"astronaut": 200, "chelsea": 151}[name], cfg["train_fraction"])
        assert float(tr.max()) < cut.stop <= float(te.min())
        assert te.shape[-2] % 4 == 0 and te.shape[-1] % 4 == 0
    patches = pvp._patches(train, 40, 32, torch.Generator().manual_seed(0))
    for i, patch in enumerate(patches):  # patch i comes from photograph i mod 2
        assert float(patch.max()) < float(test[i % 2].min())


def test_tiles_lie_inside_the_region_without_overlap() -> None:
    corners = pvp._tiles(300, 180, 64, 4)
    assert len(corners) == 4 * 2
    cover = torch.zeros(300, 180)
    for top, left in corners:
        assert top >= 4 and left >= 4 and top + 64 <= 296 and left + 64 <= 176
        cover[top:top + 64, left:left + 64] += 1
    assert float(cover.max()) == 1


# ------------------------------------------------------------------------------------------- the measures
def _checkerboard(side: int, period: int = 4) -> torch.Tensor:
    i = torch.arange(side)
    board = ((i[:, None] // (period // 2) + i[None] // (period // 2)) % 2).float()
    return (0.3 + 0.4 * board).expand(1, 3, side, side)


def test_lattice_share_of_known_inputs() -> None:
    assert pvp.lattice_share(_checkerboard(64)) == pytest.approx(1.0, abs=1e-3)
    n = torch.arange(64.0)
    smooth = 0.5 + 0.3 * torch.cos(2 * math.pi * 0.05 * n)[:, None] * torch.cos(2 * math.pi * 0.08 * n)[None]
    assert pvp.lattice_share(smooth.expand(1, 3, 64, 64)) < 1e-3
    photo = photograph("chelsea")[..., :256, :256]
    assert pvp.lattice_share(photo) < 0.01
    # A faint checkerboard (± 0.032, 8 grey levels) on the photograph takes over its high frequencies.
    assert pvp.lattice_share(photo + 0.2 * (_checkerboard(256) - 0.5)) > 0.5


def test_lattice_mask_bins() -> None:
    mask = pvp.lattice_mask(64, 32)
    rows = {int(k) for k in torch.nonzero(mask[:, 0]).flatten()}
    cols = {int(k) for k in torch.nonzero(mask[0]).flatten()}
    assert rows == {63, 0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 49}
    assert cols == {31, 0, 1, 7, 8, 9, 15, 16, 17, 23, 24, 25}
    assert int(mask.sum()) == len(rows) * len(cols)


def test_lattice_share_against_a_naive_computation() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 24, 16, generator=g, dtype=torch.float64)
    on = high = 0.0
    for img in x:
        y = luminance(img[None])[0].numpy()
        y = y - y.mean()
        h, w = y.shape
        power = np.abs(np.fft.fft2(y * np.outer(np.hanning(h), np.hanning(w)))) ** 2
        for ky in range(h):
            for kx in range(w):
                fy = (ky if ky < h / 2 else ky - h) / h
                fx = (kx if kx < w / 2 else kx - w) / w
                if math.hypot(fy, fx) <= 0.25:
                    continue
                high += power[ky, kx]
                if ky % (h // 4) in (0, 1, h // 4 - 1) and kx % (w // 4) in (0, 1, w // 4 - 1):
                    on += power[ky, kx]
    assert pvp.lattice_share(x) == pytest.approx(on / high, rel=1e-9)
    assert pvp.high_frequency_energy(x) == pytest.approx(high, rel=1e-9)


def test_high_frequency_energy_and_psnr() -> None:
    n = torch.arange(32, dtype=torch.float32)
    low = (0.5 + 0.4 * torch.cos(2 * math.pi * 0.1 * n)).expand(1, 3, 32, 32)
    high = (0.5 + 0.4 * torch.cos(2 * math.pi * 0.4 * n)).expand(1, 3, 32, 32)
    e_low, e_high = (pvp.high_frequency_energy(x) for x in (low, high))
    assert e_high > 1e3 * e_low
    target = torch.full((1, 3, 8, 8), 0.5)
    y_scale = (65.481 + 128.553 + 24.966) / 255  # the luma of a grey offset d is y_scale · d
    assert pvp.psnr_y(target + 0.1, target, shave=0) == pytest.approx(-20 * math.log10(0.1 * y_scale), rel=1e-5)


# ------------------------------------------------------------------------------------------- the nets
def test_resize_convolution_draws_no_checkerboard() -> None:
    # With a random (not zero) last layer, a constant low-resolution input gives a constant interior through
    # resize-convolution, and a 4-px periodic one through sub-pixel convolution (PixelShuffle).
    lr = torch.full((1, 3, 24, 24), 0.5)
    for build, periodic in ((lambda: pvp.ResizeConvSR(width=8), False), (lambda: TinySR(scale=4, width=8), True)):
        net = seeded(0, build)
        last = net.residual[-1]
        assert isinstance(last, torch.nn.Conv2d)
        torch.nn.init.normal_(last.weight, std=0.1, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            interior = net(lr)[..., 24:-24, 24:-24]
        assert (float(interior.std(dim=(-2, -1)).max()) > 1e-3) is periodic


def test_resize_conv_net_starts_at_bicubic() -> None:
    lr = torch.rand(1, 3, 6, 6)
    net = pvp.ResizeConvSR(scale=4, width=4)
    assert torch.equal(net(lr), net.upsample(lr))
    with pytest.raises(ValueError, match="scale: expected a power of two, got 3"):
        pvp.ResizeConvSR(scale=3)


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


# ------------------------------------------------------------------------------------------- the verdict
def _good() -> dict[str, list[float]]:
    return {"psnr_y_pixel": [26.7, 26.8, 26.6], "psnr_y_perceptual": [26.3, 26.2, 26.4],
            "hf_gap_advantage": [1.2, 1.4, 1.3], "hf_gap_advantage/ci_low": [1.0, 1.2, 1.1],
            "hf_gap_advantage/ci_high": [1.4, 1.6, 1.5],
            "relu3_3_advantage": [6e3, 9e3, 8e3], "relu3_3_advantage/ci_low": [3e3, 5e3, 4e3],
            "relu3_3_advantage/ci_high": [9e3, 1.3e4, 1.2e4],
            "relu2_2_advantage": [4e3, 5e3, 3e3], "relu2_2_advantage/ci_low": [2e3, 3e3, -1e2],
            "relu2_2_advantage/ci_high": [6e3, 7e3, 6e3],
            "lattice_share_gt": [0.005] * 3, "lattice_share_bicubic": [0.03] * 3,
            "lattice_share_pixel": [0.02, 0.025, 0.02], "lattice_share_perceptual": [0.008, 0.009, 0.007]}


def _swapped(s: dict[str, list[float]]) -> dict[str, list[float]]:
    out = dict(s)
    out["psnr_y_pixel"], out["psnr_y_perceptual"] = s["psnr_y_perceptual"], s["psnr_y_pixel"]
    out["lattice_share_pixel"], out["lattice_share_perceptual"] = s["lattice_share_perceptual"], \
        s["lattice_share_pixel"]
    for name in ("hf_gap_advantage", "relu3_3_advantage", "relu2_2_advantage"):
        out[name] = [-v for v in s[name]]
        out[f"{name}/ci_low"] = [-v for v in s[f"{name}/ci_high"]]
        out[f"{name}/ci_high"] = [-v for v in s[f"{name}/ci_low"]]
    return out


def _equal(s: dict[str, list[float]]) -> dict[str, list[float]]:
    out = dict(s)
    out["psnr_y_perceptual"] = s["psnr_y_pixel"]
    out["lattice_share_perceptual"] = s["lattice_share_pixel"]
    for name in ("hf_gap_advantage", "relu3_3_advantage", "relu2_2_advantage"):
        out[name] = [0.0] * 3
        out[f"{name}/ci_low"] = [-abs(v) for v in s[f"{name}/ci_low"]]
        out[f"{name}/ci_high"] = [abs(v) for v in s[f"{name}/ci_low"]]
    return out


def test_verdict_holds_on_a_good_summary() -> None:
    v = pvp.verdict(Summary(_good()))
    assert v.label == "holds", v.reason
    assert "every part passes" in v.reason and "relu3_3" in v.reason and "lattice" in v.reason


@pytest.mark.parametrize("case", ["swapped", "equal", "guard", "guard_mse", "one_seed_psnr", "one_seed_hf",
                                  "one_seed_deep"])
def test_verdict_does_not_hold_otherwise(case: str) -> None:
    good = _good()
    summary = {
        "swapped": _swapped(good),
        "equal": _equal(good),
        "guard": {**good, "lattice_share_perceptual": [0.008, 0.5, 0.007]},  # a checkerboard in one seed
        "guard_mse": {**good, "lattice_share_pixel": [0.3, 0.02, 0.02]},
        "one_seed_psnr": {**good, "psnr_y_perceptual": [26.3, 26.9, 26.4]},
        "one_seed_hf": {**good, "hf_gap_advantage/ci_low": [1.0, -0.1, 1.1]},
        "one_seed_deep": {**good, "relu3_3_advantage/ci_low": [3e3, 5e3, -10.0]},
    }[case]
    v = pvp.verdict(Summary(summary))
    assert v.label == "does not hold at this scale", (case, v.reason)
    assert "fails:" in v.reason


def test_the_descriptive_training_layer_is_not_in_the_rule() -> None:
    good = _good()
    worse = {**good, "relu2_2_advantage/ci_low": [-5e3] * 3, "relu2_2_advantage": [-1e3] * 3}
    assert pvp.verdict(Summary(worse)).label == "holds"


def test_guard_threshold() -> None:
    assert pvp.lattice_limit(0.001, 0.04) == pytest.approx(2 * 0.04 + 0.01)
    assert pvp.lattice_limit(0.05, 0.01) == pytest.approx(2 * 0.05 + 0.01)
    good = _good()
    at_limit = pvp.lattice_limit(0.005, 0.03)
    assert pvp.verdict(Summary({**good, "lattice_share_perceptual": [at_limit] * 3})).label == "holds"
    assert pvp.verdict(Summary({**good, "lattice_share_perceptual": [at_limit + 1e-6] * 3})).label != "holds"
