"""Restoration losses (SSIM, MS-SSIM, Zhao's mix, total variation) and PSNR: the standard harness plus reference
tests against pytorch-msssim, piq, scikit-image and kornia, naive loops and closed forms."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import imagelosses as il
from imagelosses import functional as ilf
from imagelosses import metrics as ilm
from imagelosses.losses.restoration import MS_SSIM_WEIGHTS, gaussian_window
from tests._harness import BadInput, BadOption, LossCase, StandardLossTests, raises_exactly

pytestmark = pytest.mark.usefixtures("one_thread")


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def pair(n: int, c: int, side: int):
    def make(dtype: torch.dtype, seed: int, scale: float):
        g = _gen(seed)
        x = torch.rand(n, c, side, side, generator=g, dtype=dtype)
        y = (x + 0.3 * torch.randn(n, c, side, side, generator=g, dtype=dtype)).clamp(0, 1)
        return x * scale, y * scale
    return make


def single(n: int, c: int, side: int):
    def make(dtype: torch.dtype, seed: int, scale: float):
        return (torch.randn(n, c, side, side, generator=_gen(seed), dtype=dtype) * scale,)
    return make


def _peer_pair(seed: int = 0, shape: tuple[int, ...] = (2, 3, 192, 192)):
    g = _gen(seed)
    x = torch.rand(*shape, generator=g, dtype=torch.float64)
    y = (x + 0.2 * torch.randn(*shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return x, y


def _tv_mean(none, inputs):
    return none.sum() / inputs[0].numel()


SSIM_BAD = [
    BadInput("shape", lambda a: ((a[0], a[1][:, :1]), {}), ValueError,
             "target: expected shape matching input (3, 2, 13, 13), got (3, 1, 13, 13)"),
    BadInput("int input", lambda a: ((a[0].long(), a[1]), {}), TypeError,
             "input: expected a floating-point tensor, got dtype torch.int64"),
    BadInput("3-D", lambda a: ((a[0][0], a[1][0]), {}), ValueError,
             "input: expected a tensor of shape (N, C, H, W), got shape (2, 13, 13)"),
    BadInput("smaller than the window", lambda a: ((a[0][..., :6], a[1][..., :6]), {}), ValueError,
             "input: expected height and width >= kernel_size = 7 (SSIM is computed over the valid region), got "
             "shape (3, 2, 13, 6)"),
    BadInput("empty", lambda a: ((a[0][:0], a[1][:0]), {}), ValueError,
             "input: expected a non-empty tensor, got shape (0, 2, 13, 13)"),
    BadInput("nan", lambda a: ((a[0], a[1].clone().fill_(float("nan"))), {"check_finite": True}), ValueError,
             "target: expected finite values, got 1014 NaN or infinite entries"),
    BadInput("int target", lambda a: ((a[0], a[1].long()), {}), TypeError,
             "target: expected a floating-point tensor, got dtype torch.int64"),
]

MS_BAD = [
    BadInput("too small for 5 scales", lambda a: ((a[0][..., :32], a[1][..., :32]), {}), ValueError,
             "input: expected height and width > (kernel_size - 1)·2^4 = 32 for 5 scales of MS-SSIM with "
             "kernel_size = 3 (use a smaller kernel_size, larger images, or ssim), got shape (2, 1, 33, 32)"),
    BadInput("shape", lambda a: ((a[0], a[1][:1]), {}), ValueError,
             "target: expected shape matching input (2, 1, 33, 33), got (1, 1, 33, 33)"),
    BadInput("int input", lambda a: ((a[0].int(), a[1]), {}), TypeError,
             "input: expected a floating-point tensor, got dtype torch.int32"),
    BadInput("5-D", lambda a: ((a[0][None], a[1][None]), {}), ValueError,
             "input: expected a tensor of shape (N, C, H, W), got shape (1, 2, 1, 33, 33)"),
]

SSIM_OPTIONS = [
    BadOption("even window", {"kernel_size": 4}, ValueError,
              "kernel_size: expected an odd integer >= 1 (the window has a centre pixel), got 4"),
    BadOption("data_range 0", {"data_range": 0}, ValueError, "data_range: expected a finite number > 0.0, got 0"),
    BadOption("sigma str", {"sigma": "1"}, TypeError, "sigma: expected a real number, got str"),
    BadOption("k2 negative", {"k2": -0.1}, ValueError, "k2: expected a finite number > 0.0, got -0.1"),
    BadOption("kernel float", {"kernel_size": 3.0}, TypeError, "kernel_size: expected a positive integer, got float"),
    BadOption("reduction", {"reduction": "avg"}, ValueError,
              "reduction: expected one of 'none', 'mean', 'sum', got 'avg'"),
]

MIX_OPTIONS = [*SSIM_OPTIONS, BadOption("alpha", {"alpha": 1.5}, ValueError,
                                        "alpha: expected a finite number >= 0.0 and <= 1.0, got 1.5")]

TV_BAD = [
    BadInput("int input", lambda a: ((a[0].long(),), {}), TypeError,
             "input: expected a floating-point tensor, got dtype torch.int64"),
    BadInput("2-D", lambda a: ((a[0][0, 0],), {}), ValueError,
             "input: expected a tensor of shape (N, C, H, W) or (N, H, W), got shape (6, 6)"),
    BadInput("empty", lambda a: ((a[0][:0],), {}), ValueError,
             "input: expected a non-empty tensor, got shape (0, 2, 6, 6)"),
    BadInput("nan", lambda a: ((a[0].clone().fill_(float("inf")),), {"check_finite": True}), ValueError,
             "input: expected finite values, got 216 NaN or infinite entries"),
]

TV_OPTIONS = [
    BadOption("norm", {"norm": "l2"}, ValueError,
              "norm: expected one of 'anisotropic', 'isotropic', 'squared', got 'l2'"),
    BadOption("eps", {"eps": -1.0}, ValueError, "eps: expected a finite number >= 0.0, got -1.0"),
    BadOption("check_finite", {"check_finite": "no"}, TypeError,
              "check_finite: expected a bool (True or False), got 'no'"),
]


def _ssim_case(name, fn, module, make, bad, options, **kwargs):
    return LossCase(name=name, functional=fn, module=module, make_inputs=make, kwargs=kwargs, grad_argnums=(0, 1),
                    none_shape=lambda a: a[0].shape[:1], identical=lambda a: (a[0], a[0]), bad_inputs=bad,
                    bad_options=options)


class TestRestorationHarness(StandardLossTests):
    cases: ClassVar[list[LossCase]] = [
        _ssim_case("ssim", ilf.ssim_loss, il.SSIMLoss, pair(3, 2, 13), SSIM_BAD, SSIM_OPTIONS, kernel_size=7),
        _ssim_case("ssim_range255", ilf.ssim_loss, il.SSIMLoss, pair(3, 2, 13), SSIM_BAD[:3], SSIM_OPTIONS,
                   kernel_size=7, data_range=255.0, sigma=2.0),
        _ssim_case("ms_ssim", ilf.ms_ssim_loss, il.MSSSIMLoss, pair(2, 1, 33), MS_BAD, SSIM_OPTIONS, kernel_size=3),
        _ssim_case("ms_ssim_l1", ilf.ms_ssim_l1_loss, il.MSSSIML1Loss, pair(2, 1, 33), MS_BAD, MIX_OPTIONS,
                   kernel_size=3),
        LossCase(name="tv_anisotropic", functional=ilf.total_variation_loss, module=il.TotalVariationLoss,
                 make_inputs=single(3, 2, 6), none_shape=lambda a: a[0].shape[:1], mean_of=_tv_mean,
                 batch_args=(0,), bad_inputs=TV_BAD, bad_options=TV_OPTIONS),
        LossCase(name="tv_isotropic", functional=ilf.total_variation_loss, module=il.TotalVariationLoss,
                 make_inputs=single(3, 2, 6), kwargs={"norm": "isotropic", "eps": 1e-6},
                 none_shape=lambda a: a[0].shape[:1], mean_of=_tv_mean, batch_args=(0,), bad_inputs=TV_BAD,
                 bad_options=TV_OPTIONS),
        LossCase(name="tv_squared", functional=ilf.total_variation_loss, module=il.TotalVariationLoss,
                 make_inputs=single(3, 2, 6), kwargs={"norm": "squared"}, none_shape=lambda a: a[0].shape[:1],
                 mean_of=_tv_mean, batch_args=(0,), bad_inputs=TV_BAD, bad_options=TV_OPTIONS),
    ]


# ------------------------------------------------------------------------------------ peers
def test_ssim_equals_pytorch_msssim_piq_and_scikit_image():
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    piq = pytest.importorskip("piq")
    from skimage.metrics import structural_similarity

    x, y = _peer_pair()
    ours = ilf.ssim(x, y, reduction="none")
    pms = pytorch_msssim.ssim(x, y, data_range=1.0, size_average=False, win_size=11, win_sigma=1.5)
    pq = piq.ssim(x, y, data_range=1.0, downsample=False, reduction="none")
    sk = torch.tensor([np.mean([structural_similarity(x[i, c].numpy(), y[i, c].numpy(), gaussian_weights=True,
                                                      sigma=1.5, use_sample_covariance=False, data_range=1.0)
                                for c in range(3)]) for i in range(2)], dtype=torch.float64)
    for peer in (pms, pq, sk):
        torch.testing.assert_close(ours, peer, atol=1e-5, rtol=0)
    torch.testing.assert_close(pq, sk, atol=1e-7, rtol=0)  # the peers agree among themselves
    torch.testing.assert_close(ilf.ssim(x, y), ours.mean())
    torch.testing.assert_close(ilf.ssim(x * 255, y * 255, data_range=255.0), ours.mean())


def test_ssim_gradient_equals_pytorch_msssim():
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    x, y = _peer_pair(1, (1, 3, 64, 64))
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ilf.ssim_loss(a, y).backward()
    (1 - pytorch_msssim.ssim(b, y, data_range=1.0)).backward()
    torch.testing.assert_close(a.grad, b.grad, atol=1e-7, rtol=1e-4)


def test_kornia_pads_and_so_differs():
    kornia = pytest.importorskip("kornia")
    x, y = _peer_pair(2, (1, 3, 64, 64))
    theirs = kornia.metrics.ssim(x, y, 11).mean()
    assert abs(float(theirs) - float(ilf.ssim(x, y))) > 1e-4  # documented: kornia pads, we use the valid region


@pytest.mark.parametrize("shape", [(2, 3, 192, 192), (2, 2, 177, 201)])
def test_ms_ssim_equals_pytorch_msssim_and_piq(shape):
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    x, y = _peer_pair(3, shape)
    ours = ilf.ms_ssim(x, y, reduction="none")
    pms = pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False, win_size=11, win_sigma=1.5)
    torch.testing.assert_close(ours, pms, atol=1e-5, rtol=0)
    if shape[-1] == shape[-2]:
        piq = pytest.importorskip("piq")
        torch.testing.assert_close(ours, piq.multi_scale_ssim(x, y, data_range=1.0, reduction="none"), atol=1e-5,
                                   rtol=0)


def test_ms_ssim_clamps_negative_cs_without_nan():
    """Anti-correlated images have a negative contrast-structure term: clamped to 0 (relu), so MS-SSIM is 0 and
    the value and its gradient are finite, as in pytorch-msssim."""
    g = _gen(4)
    x = torch.rand(1, 1, 40, 40, generator=g, dtype=torch.float64)
    y = (1 - x).requires_grad_(True)
    value = ilf.ms_ssim(x, y, kernel_size=3)
    value.backward()
    assert float(value.detach()) == 0.0 and torch.isfinite(y.grad).all()
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    assert float(pytorch_msssim.ms_ssim(x, y.detach(), data_range=1.0, win_size=3)) == 0.0


def test_ms_ssim_is_the_weighted_product_of_the_scales():
    """Closed form from single-scale pieces: cs at each pooled scale, SSIM at the last."""
    x, y = _peer_pair(5, (1, 1, 48, 48))
    w = gaussian_window(3, 1.5, dtype=torch.float64)
    k2d = (w[:, None] * w[None])[None, None]
    c1, c2 = 0.01**2, 0.03**2

    def stats(a, b):
        m = [F.conv2d(t, k2d) for t in (a, b, a * a, b * b, a * b)]
        va, vb, cov = m[2] - m[0] ** 2, m[3] - m[1] ** 2, m[4] - m[0] * m[1]
        cs = (2 * cov + c2) / (va + vb + c2)
        return (cs * (2 * m[0] * m[1] + c1) / (m[0] ** 2 + m[1] ** 2 + c1)).mean(), cs.mean()

    value, a, b = 1.0, x, y
    for j, weight in enumerate(MS_SSIM_WEIGHTS):
        s, cs = stats(a, b)
        value *= float((s if j == len(MS_SSIM_WEIGHTS) - 1 else cs).clamp_min(0)) ** weight
        a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    assert math.isclose(float(ilf.ms_ssim(x, y, kernel_size=3)), value, rel_tol=1e-12)


def test_ssim_equals_a_naive_loop():
    x, y = _peer_pair(6, (1, 2, 9, 10))
    k = 5
    w = gaussian_window(k, 1.5, dtype=torch.float64)
    w2 = w[:, None] * w[None]
    c1, c2 = 0.01**2, 0.03**2
    per_channel = []
    for c in range(2):
        vals = []
        for i in range(9 - k + 1):
            for j in range(10 - k + 1):
                a, b = x[0, c, i:i + k, j:j + k], y[0, c, i:i + k, j:j + k]
                ma, mb = (w2 * a).sum(), (w2 * b).sum()
                va, vb = (w2 * (a - ma) ** 2).sum(), (w2 * (b - mb) ** 2).sum()
                cov = (w2 * (a - ma) * (b - mb)).sum()
                vals.append((2 * ma * mb + c1) * (2 * cov + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
        per_channel.append(torch.stack(vals).mean())
    assert math.isclose(float(ilf.ssim(x, y, kernel_size=k)), float(torch.stack(per_channel).mean()),
                        rel_tol=1e-12)


def test_one_stack_and_two_stacks_agree():
    """The fused pass splits the statistics by which image needs a gradient: the value and the gradients agree
    whichever image that is."""
    x, y = _peer_pair(7, (2, 3, 24, 24))
    a = x.clone().requires_grad_(True)
    b = y.clone().requires_grad_(True)
    both = ilf.ssim(a, b)
    ga, gb = torch.autograd.grad(both, (a, b))
    only_a = ilf.ssim(a, y)
    only_b = ilf.ssim(x, b)
    with torch.no_grad():
        none = ilf.ssim(x, y)
    for v in (only_a, only_b, none):
        torch.testing.assert_close(v, both, atol=1e-14, rtol=0)
    torch.testing.assert_close(torch.autograd.grad(only_a, a)[0], ga)
    torch.testing.assert_close(torch.autograd.grad(only_b, b)[0], gb)


# ------------------------------------------------------------------------------------ Zhao's mix
def test_mix_is_alpha_msssim_plus_gaussian_weighted_l1():
    x, y = _peer_pair(8, (2, 2, 40, 40))
    k, sigma, alpha = 3, 1.5, 0.84
    big = gaussian_window((k - 1) * 16 + 1, sigma * 16, dtype=torch.float64)
    assert math.isclose(float(big.sum()), 1.0, rel_tol=1e-12)  # normalised by the window sum
    k2d = (big[:, None] * big[None])[None, None].expand(2, 1, -1, -1)
    l1 = F.conv2d((x - y).abs(), k2d, groups=2).mean(dim=(1, 2, 3))
    expect = alpha * (1 - ilf.ms_ssim(x, y, kernel_size=k, reduction="none")) + (1 - alpha) * l1
    torch.testing.assert_close(ilf.ms_ssim_l1_loss(x, y, kernel_size=k, reduction="none"), expect)
    torch.testing.assert_close(ilf.ms_ssim_l1_loss(x, y, kernel_size=k, alpha=1.0),
                               ilf.ms_ssim_loss(x, y, kernel_size=k))
    # a constant error d gives d / L in the L1 term
    z = torch.zeros(1, 1, 40, 40, dtype=torch.float64)
    value = ilf.ms_ssim_l1_loss(z, z + 3.0, kernel_size=k, alpha=0.0, data_range=6.0)
    assert math.isclose(float(value), 0.5, rel_tol=1e-12)


# ------------------------------------------------------------------------------------ total variation
def test_total_variation_equals_kornia_sum():
    kornia = pytest.importorskip("kornia")
    x = torch.randn(3, 2, 7, 9, generator=_gen(9), dtype=torch.float64)
    theirs = kornia.losses.total_variation(x, reduction="sum")  # (N, C)
    torch.testing.assert_close(ilf.total_variation_loss(x, reduction="none"), theirs.sum(1))
    torch.testing.assert_close(ilf.total_variation_loss(x, reduction="sum"), theirs.sum())
    torch.testing.assert_close(ilf.total_variation_loss(x), theirs.sum() / x.numel())
    torch.testing.assert_close(ilf.total_variation_loss(x[:, 0], reduction="sum"), theirs[:, 0].sum())


def test_total_variation_isotropic_and_squared_naive():
    x = torch.randn(1, 1, 4, 5, generator=_gen(10), dtype=torch.float64)
    iso, sq = 0.0, 0.0
    for i in range(4):
        for j in range(5):
            dv = float(x[0, 0, i + 1, j] - x[0, 0, i, j]) if i < 3 else 0.0
            dh = float(x[0, 0, i, j + 1] - x[0, 0, i, j]) if j < 4 else 0.0
            iso += math.sqrt(dv * dv + dh * dh + 1e-4)
            sq += dv * dv + dh * dh
    assert math.isclose(float(ilf.total_variation_loss(x, norm="isotropic", eps=1e-4, reduction="sum")), iso,
                        rel_tol=1e-12)
    assert math.isclose(float(ilf.total_variation_loss(x, norm="squared", reduction="sum")), sq, rel_tol=1e-12)
    flat = torch.zeros(1, 1, 4, 4, requires_grad=True)
    out = ilf.total_variation_loss(flat, norm="isotropic")
    out.backward()
    assert torch.isfinite(flat.grad).all()


# ------------------------------------------------------------------------------------ precision, NaN
@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16])
def test_half_inputs_give_the_float32_answer(half):
    x, y = _peer_pair(11, (1, 3, 256, 256))
    xh, yh = x.to(half), y.to(half)
    ref = ilf.ssim(xh.float(), yh.float())
    out = ilf.ssim(xh, yh)
    assert out.dtype == half
    tol = 1e-3 if half == torch.float16 else 8e-3
    assert abs(float(out) - float(ref)) <= tol * abs(float(ref))
    ref_ms = ilf.ms_ssim(xh.float(), yh.float())
    assert abs(float(ilf.ms_ssim(xh, yh)) - float(ref_ms)) <= tol * abs(float(ref_ms))


@pytest.mark.parametrize("fn", [ilf.ssim, ilf.ms_ssim, ilf.ssim_loss, ilf.ms_ssim_loss, ilf.ms_ssim_l1_loss])
def test_nan_in_gives_nan_out(fn):
    x, y = _peer_pair(12, (2, 1, 36, 36))
    x[1, 0, 3, 3] = float("nan")
    y[0, 0, 30, 30] = float("inf")
    for reduction in ("none", "mean"):
        assert torch.isnan(fn(x, y, kernel_size=3, reduction=reduction)).all()
    t = torch.ones(1, 1, 5, 5)
    t[0, 0, 2, 2] = float("nan")
    assert torch.isnan(ilf.total_variation_loss(t))


def test_ssim_function_bad_inputs_match_the_loss():
    x, y = _peer_pair(13, (1, 1, 8, 8))
    raises_exactly(lambda: ilf.ssim(x, y), ValueError,
                   "input: expected height and width >= kernel_size = 11 (SSIM is computed over the valid region), "
                   "got shape (1, 1, 8, 8)")
    raises_exactly(lambda: ilf.ms_ssim(x, y, kernel_size=1.0), TypeError,
                   "kernel_size: expected a positive integer, got float")
    raises_exactly(lambda: ilf.ms_ssim(torch.zeros(1, 1, 160, 200), torch.zeros(1, 1, 160, 200)),
                   ValueError, "input: expected height and width > (kernel_size - 1)·2^4 = 160 for 5 scales of "
                   "MS-SSIM with kernel_size = 11 (use a smaller kernel_size, larger images, or ssim), got shape "
                   "(1, 1, 160, 200)")


# ------------------------------------------------------------------------------------ PSNR
def test_psnr_closed_form_peer_and_identical():
    x, y = _peer_pair(14, (2, 3, 16, 16))
    mse = (x - y).square().flatten(1).mean(1)
    torch.testing.assert_close(ilm.psnr(x, y), 10 * torch.log10(1 / mse))
    from skimage.metrics import peak_signal_noise_ratio

    for i in range(2):
        assert math.isclose(float(ilm.psnr(x * 255, y * 255, data_range=255.0)[i]),
                            peak_signal_noise_ratio(x[i].numpy(), y[i].numpy(), data_range=1.0), rel_tol=1e-10)
    assert ilm.psnr(x, x).tolist() == [math.inf, math.inf]
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    assert torch.isnan(ilm.psnr(bad, y)).all()
    assert ilm.psnr(x.half(), y.half()).dtype == torch.float32


def test_psnr_bad_inputs():
    x = torch.rand(2, 3, 4, 4)
    raises_exactly(lambda: ilm.psnr(x, x[:1]), ValueError,
                   "target: expected shape matching input (2, 3, 4, 4), got (1, 3, 4, 4)")
    raises_exactly(lambda: ilm.psnr(x, x, data_range=0), ValueError,
                   "data_range: expected a finite number > 0.0, got 0")
    raises_exactly(lambda: ilm.psnr(x.long(), x), TypeError,
                   "input: expected a floating-point tensor, got dtype torch.int64")
