"""``pixel-vs-perceptual``: what pixel and perceptual distances see, and what they train.

Part A, distances: on bundled photographs, a 1-pixel shift, a Gaussian blur and additive Gaussian noise,
the last two scaled to the *same pixel MSE* as the shift (the blur's σ by bisection, the noise exactly), so
MSE ties them by construction; L1 and the perceptual loss at relu1_2 … relu4_3 of the Oxford VGG16 then
rank them. Part B, Johnson et al.'s use: a small ×4 super-resolution net trained on patches with the pixel
loss (MSE) or the perceptual loss (relu2_2), from the same initialisation and batches, evaluated on a
held-out photograph: PSNR (Y channel), high-frequency energy against the ground truth's, and each output's
distance to the ground truth under each loss.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..backbones.vgg import VGGFeatures
from ..losses.perceptual import perceptual_loss
from ..losses.regression import l1_loss, mse_loss
from .base import Experiment, Figure, RunContext, RunOutput, Summary, Verdict, decide
from .data import effect, gaussian_blur, luminance, new_figure, photograph, save_figure, show_image
from .models import TinySR, seeded

__all__ = ["EXPERIMENT", "LAYERS", "high_frequency_energy", "psnr_y", "radial_spectrum", "verdict"]

#: The VGG16 layers at which perceptual distances are measured (Johnson et al.'s).
LAYERS: tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
DEEP: tuple[str, ...] = ("relu3_3", "relu4_3")
DISTORTIONS: tuple[str, ...] = ("shift", "blur", "noise")
SR_METHODS: tuple[str, ...] = ("bicubic", "pixel", "perceptual")


def _spectrum(x: Tensor) -> tuple[Tensor, Tensor]:
    """Power spectrum of the Hann-windowed, mean-free luminance of ``(N, 3, H, W)`` and each frequency's radius
    in cycles per pixel (Nyquist = 0.5)."""
    y = luminance(x)
    y = y - y.mean(dim=(-2, -1), keepdim=True)
    h, w = y.shape[-2:]
    window = torch.hann_window(h, periodic=False, dtype=y.dtype)[:, None] * torch.hann_window(w, periodic=False,
                                                                                           dtype=y.dtype)[None]
    power = torch.fft.fft2(y * window.to(y.device)).abs().square().sum(0)
    fy, fx = torch.fft.fftfreq(h).to(y.device), torch.fft.fftfreq(w).to(y.device)
    return power, torch.sqrt(fy[:, None] ** 2 + fx[None] ** 2)


def high_frequency_energy(x: Tensor, cutoff: float = 0.25) -> float:
    """Spectral energy of the luminance above ``cutoff`` cycles/pixel (default half Nyquist)."""
    power, radius = _spectrum(x)
    return float(power[radius > cutoff].sum())


def radial_spectrum(x: Tensor, bins: int = 32) -> tuple[list[float], list[float]]:
    """Mean spectral power of the luminance in ``bins`` rings from 0 to 0.5 cycles/pixel: (centres, power)."""
    power, radius = _spectrum(x)
    edges = torch.linspace(0, 0.5, bins + 1, device=power.device)
    idx = torch.bucketize(radius.flatten(), edges[1:-1])
    keep = radius.flatten() <= 0.5
    sums = torch.zeros(bins, device=power.device).index_add(0, idx[keep], power.flatten()[keep].float())
    counts = torch.zeros(bins, device=power.device).index_add(0, idx[keep], torch.ones_like(sums[idx[keep]]))
    return ((edges[:-1] + edges[1:]) / 2).tolist(), (sums / counts.clamp_min(1)).tolist()


def psnr_y(x: Tensor, target: Tensor, shave: int) -> float:
    """PSNR in dB of the BT.601 luma, ``shave`` border pixels excluded (the SR convention)."""
    a, b = luminance(x), luminance(target)
    if shave:
        a, b = a[..., shave:-shave, shave:-shave], b[..., shave:-shave, shave:-shave]
    return float(10 * torch.log10(1.0 / F.mse_loss(a, b)))


def _match_blur(ref: Tensor, target_mse: float) -> tuple[Tensor, float]:
    """The Gaussian blur of ``ref`` whose MSE to ``ref`` equals ``target_mse`` (bisection on σ in [0, 8] px)."""
    lo, hi = 0.0, 8.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if float(mse_loss(gaussian_blur(ref, mid), ref)) < target_mse:
            lo = mid
        else:
            hi = mid
    sigma = (lo + hi) / 2
    return gaussian_blur(ref, sigma), sigma


def _distances(x: Tensor, ref: Tensor, vgg: VGGFeatures, ref_features: dict[str, Tensor] | None = None
               ) -> dict[str, float]:
    """MSE, L1 and the perceptual loss at each of :data:`LAYERS` (one backbone pass per image)."""
    out = {"mse": float(mse_loss(x, ref)), "l1": float(l1_loss(x, ref))}
    with torch.no_grad():
        fx = vgg(x)
        fr = vgg(ref, name="target") if ref_features is None else ref_features
        for layer in LAYERS:
            out[layer] = float(perceptual_loss(fx, fr, layers=(layer,)))
    return out


def _part_a(ctx: RunContext, vgg: VGGFeatures, gen: torch.Generator) -> tuple[dict[str, float], dict[str, Any]]:
    cfg = ctx.config
    size = cfg["distance_size"]
    per: dict[str, dict[str, list[float]]] = {d: {} for d in DISTORTIONS}
    shown: dict[str, Tensor] = {}
    sigmas = []
    for k, name in enumerate(cfg["photos"]):
        big = photograph(name, size + 1).to(ctx.device)
        ref = big[..., :size, :size]
        shifted = big[..., :size, 1:size + 1]
        target = float(mse_loss(shifted, ref))
        blurred, sigma = _match_blur(ref, target)
        eps = torch.randn(ref.shape, generator=gen).to(ctx.device)
        noisy = ref + eps * math.sqrt(target / float(eps.square().mean()))
        sigmas.append(sigma)
        with torch.no_grad():
            ref_features = vgg(ref)
        for d, x in zip(DISTORTIONS, (shifted, blurred, noisy), strict=True):
            for measure, value in _distances(x, ref, vgg, ref_features).items():
                per[d].setdefault(measure, []).append(value)
        if k == 0:
            shown = {"original": ref, "shift": shifted, "blur": blurred, "noise": noisy}
    metrics: dict[str, float] = {"blur_sigma_mean": sum(sigmas) / len(sigmas)}
    for measure in ("l1", *LAYERS):
        closest = [float(s < min(b, n)) for s, b, n in zip(per["shift"][measure], per["blur"][measure],
                                                           per["noise"][measure], strict=True)]
        metrics[f"shift_closest_{measure}"] = sum(closest) / len(closest)
        for other in ("blur", "noise"):
            logs = [math.log10(o / s) for s, o in zip(per["shift"][measure], per[other][measure], strict=True)]
            metrics[f"log10_{other}_over_shift_{measure}"] = sum(logs) / len(logs)
    metrics["shift_closest_deep"] = sum(metrics[f"shift_closest_{m}"] for m in DEEP) / len(DEEP)
    return metrics, {"per": per, "shown": shown}


def _patches(ctx: RunContext, gen: torch.Generator) -> Tensor:
    cfg = ctx.config
    p = cfg["patch"]
    out = []
    photos = [photograph(name) for name in cfg["train_photos"]]
    for i in range(cfg["num_patches"]):
        img = photos[i % len(photos)]
        h, w = img.shape[-2:]
        top = int(torch.randint(0, h - p + 1, (1,), generator=gen))
        left = int(torch.randint(0, w - p + 1, (1,), generator=gen))
        out.append(img[..., top:top + p, left:left + p])
    return torch.cat(out)


def _downscale(hr: Tensor, scale: int) -> Tensor:
    return F.interpolate(hr, scale_factor=1 / scale, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def _train_sr(method: str, hr: Tensor, ctx: RunContext, vgg: VGGFeatures, offset: int, total: int) -> TinySR:
    cfg = ctx.config
    net = seeded(ctx.seed, lambda: TinySR(scale=4, width=cfg["width"], blocks=cfg["blocks"])).to(ctx.device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg["lr"])
    lr_all = _downscale(hr, 4)
    gen = torch.Generator().manual_seed(ctx.seed + 3)  # the same batches for both losses
    for step in range(cfg["steps"]):
        idx = torch.randint(0, hr.shape[0], (cfg["batch"],), generator=gen).to(hr.device)
        out = net(lr_all[idx])
        if method == "pixel":
            loss = mse_loss(out, hr[idx])
        else:
            loss = perceptual_loss(out, hr[idx], extractor=vgg, layers=("relu2_2",))
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        ctx.progress(offset + step + 1, total)
    return net.eval()


def _part_b(ctx: RunContext, vgg: VGGFeatures, gen: torch.Generator) -> tuple[dict[str, float], dict[str, Any]]:
    cfg = ctx.config
    hr_train = _patches(ctx, gen).to(ctx.device)
    test = photograph(cfg["test_photo"])
    if cfg["test_size"]:
        test = test[..., : cfg["test_size"], : cfg["test_size"]]
    h, w = (s // 4 * 4 for s in test.shape[-2:])
    gt = test[..., :h, :w].to(ctx.device)
    lr = _downscale(gt, 4)
    outputs: dict[str, Tensor] = {}
    with torch.no_grad():
        outputs["bicubic"] = F.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False).clamp(0, 1)
    total = 2 * cfg["steps"]
    for k, method in enumerate(("pixel", "perceptual")):
        net = _train_sr(method, hr_train, ctx, vgg, k * cfg["steps"], total)
        with torch.no_grad():
            outputs[method] = net(lr).clamp(0, 1)
    metrics: dict[str, float] = {}
    hf_gt = high_frequency_energy(gt)
    with torch.no_grad():
        gt_features = vgg(gt)
    for method, out in outputs.items():
        metrics[f"psnr_y_{method}"] = psnr_y(out, gt, shave=4)
        metrics[f"log10_hf_ratio_{method}"] = math.log10(max(high_frequency_energy(out), 1e-30) / hf_gt)
        for measure, value in _distances(out, gt, vgg, gt_features).items():
            metrics[f"{measure}_{method}"] = value
    metrics["hf_gap_advantage"] = abs(metrics["log10_hf_ratio_pixel"]) - abs(metrics["log10_hf_ratio_perceptual"])
    metrics["perceptual_advantage"] = 1 - metrics["relu2_2_perceptual"] / metrics["relu2_2_pixel"]
    metrics["psnr_drop"] = metrics["psnr_y_pixel"] - metrics["psnr_y_perceptual"]
    return metrics, {"outputs": outputs, "gt": gt}


def run(ctx: RunContext) -> RunOutput:
    gen = ctx.generator()
    vgg = VGGFeatures("vgg16", LAYERS, weights="oxford").to(ctx.device)
    metrics_a, extra_a = _part_a(ctx, vgg, gen)
    metrics_b, extra_b = _part_b(ctx, vgg, gen)
    metrics = {**metrics_a, **metrics_b}
    per = extra_a["per"]
    rows_a: list[list[Any]] = [["distortion", "MSE", "L1", *LAYERS]]
    for d in DISTORTIONS:
        rows_a.append([d] + [f"{sum(v) / len(v):.4g}" for v in (per[d][m] for m in ("mse", "l1", *LAYERS))])
    rows_b: list[list[Any]] = [["output", "PSNR-Y (dB)", "log10 HF energy / ground truth's", "MSE", "L1",
                                *(f"perceptual {m}" for m in LAYERS)]]
    for m in SR_METHODS:
        rows_b.append([m, round(metrics[f"psnr_y_{m}"], 2), round(metrics[f"log10_hf_ratio_{m}"], 3)]
                      + [f"{metrics[f'{k}_{m}']:.4g}" for k in ("mse", "l1", *LAYERS)])
    figures = _figures(ctx, extra_a, extra_b) if ctx.make_figures else []
    return RunOutput(metrics=metrics, figures=figures,
                     tables={f"A. Distances to the original, mean over {len(ctx.config['photos'])} photographs "
                             f"(seed {ctx.seed})": rows_a,
                             f"B. ×4 super-resolution of {ctx.config['test_photo']} (seed {ctx.seed})": rows_b})


def _figures(ctx: RunContext, extra_a: dict[str, Any], extra_b: dict[str, Any]) -> list[Figure]:
    crop = slice(None, min(64, ctx.config["distance_size"]))
    fig = new_figure(8.0, 2.4)
    axes = fig.subplots(1, 4)
    for ax, (label, x) in zip(axes, extra_a["shown"].items(), strict=True):
        show_image(ax, x[0, :, crop, crop], label)
    images_png = save_figure(fig, ctx.out_dir / f"pixel-vs-perceptual-distortions-s{ctx.seed}.png")

    per = extra_a["per"]
    measures = ("mse", "l1", *LAYERS)
    fig = new_figure(7.0, 3.2)
    ax = fig.subplots()
    for k, other in enumerate(("blur", "noise")):
        ratios = [sum(math.log10(o / s) for s, o in zip(per["shift"][m], per[other][m], strict=True))
                  / len(per["shift"][m]) for m in measures]
        ax.bar([i + (k - 0.5) * 0.38 for i in range(len(measures))], ratios, width=0.38, label=f"{other} vs shift")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(measures)), ["MSE", "L1", *LAYERS])
    ax.set_ylabel("log10(distance / shift's distance)")
    ax.set_xlabel("distance measure (perceptual: VGG16 layer)")
    ax.legend(fontsize=8)
    bars_png = save_figure(fig, ctx.out_dir / f"pixel-vs-perceptual-distances-s{ctx.seed}.png")

    outputs, gt = extra_b["outputs"], extra_b["gt"]
    h, w = gt.shape[-2:]
    top, left, side = h // 3, w // 3, min(96, h // 2, w // 2)
    fig = new_figure(8.0, 2.4)
    axes = fig.subplots(1, 4)
    for ax, (label, x) in zip(axes, [*outputs.items(), ("ground truth", gt)], strict=True):
        show_image(ax, x[0, :, top:top + side, left:left + side], label)
    sr_png = save_figure(fig, ctx.out_dir / f"pixel-vs-perceptual-sr-s{ctx.seed}.png")

    fig = new_figure(5.5, 3.4)
    ax = fig.subplots()
    for label, x in [*outputs.items(), ("ground truth", gt)]:
        f, p = radial_spectrum(x)
        ax.semilogy(f, p, label=label)
    ax.axvline(0.25, color="gray", linestyle="--", linewidth=0.8)
    ax.set_xlabel("spatial frequency (cycles/pixel; Nyquist 0.5, dashed: half Nyquist)")
    ax.set_ylabel("mean power of the luminance")
    ax.legend(fontsize=8)
    spectrum_png = save_figure(fig, ctx.out_dir / f"pixel-vs-perceptual-spectrum-s{ctx.seed}.png")
    return [Figure(images_png, "A 64-px corner of a photograph, its 1-pixel shift, and a blur and Gaussian noise "
                               "scaled to the shift's pixel MSE (same scale)."),
            Figure(bars_png, "How much farther the blur and the noise are than the shifted copy under each measure "
                             "(log10 of the ratio, mean over photographs; 0 for MSE by construction; above 0: the "
                             "shift ranks closest)."),
            Figure(sr_png, "×4 super-resolution of a held-out photograph (a crop, same scale): bicubic, the net "
                           "trained with MSE, the net trained with the relu2_2 perceptual loss, the ground truth."),
            Figure(spectrum_png, "Radial power spectrum of each output's luminance against the ground truth's; "
                                 "the energy right of the dashed line is the high-frequency energy compared.")]


RULE = ("Part A: shift_closest_deep = the fraction of (photograph, layer in relu3_3, relu4_3) where the shifted "
        "copy has a smaller perceptual distance than both the blur and the noise of equal MSE; it passes when it "
        "is 1 in every seed and fails when its mean is < 0.5. Part B, per-seed differences judged 'positive' when > 0 "
        "in every seed with mean > std ('negative' when < 0 in every seed with |mean| > std): (a) |log10 HF ratio| "
        "of the pixel-loss output − that of the perceptual-loss output (HF = luminance spectrum above half Nyquist, "
        "ratio to the ground truth's); (b) 1 − perceptual (relu2_2) distance of the perceptual-loss output / that of "
        "the pixel-loss output. Holds if A passes and (a), (b) are positive; does not hold at this scale if A fails "
        "or (a) or (b) is negative; inconclusive otherwise. PSNR is reported (expected lower for the perceptual "
        "loss), not judged.")


def verdict(summary: Summary) -> Verdict:
    deep = summary.values["shift_closest_deep"]
    part_a = "passes" if all(v == 1 for v in deep) else "fails" if summary.mean("shift_closest_deep") < 0.5 else (
        "partial")
    hf = effect(summary, "hf_gap_advantage")
    perc = effect(summary, "perceptual_advantage")
    reason = (f"A: shift closest at relu3_3/relu4_3 in {summary.mean('shift_closest_deep'):.0%} of cases ({part_a}); "
              f"B: HF-gap advantage of the perceptual loss {summary.mean('hf_gap_advantage'):+.3f} ± "
              f"{summary.std('hf_gap_advantage'):.3f} decades ({hf}), relative relu2_2 advantage "
              f"{summary.mean('perceptual_advantage'):+.3f} ± {summary.std('perceptual_advantage'):.3f} ({perc}); "
              f"PSNR-Y pixel − perceptual {summary.mean('psnr_drop'):+.2f} dB")
    return decide(reason, holds=part_a == "passes" and hf == "positive" and perc == "positive",
                  fails=part_a == "fails" or "negative" in (hf, perc))


EXPERIMENT = Experiment(
    name="pixel-vs-perceptual",
    title="Pixel against perceptual distances, and super-resolution trained with each",
    claim=("A perceptual (VGG feature) distance ranks a 1-pixel shift as close while MSE ranks it as far as blur or "
           "noise of the same MSE; trained for ×4 super-resolution, the perceptual loss gives a lower PSNR than the "
           "pixel loss but high-frequency detail closer to the ground truth's and a lower perceptual distance."),
    paper="Johnson, Alahi, Fei-Fei, \"Perceptual Losses for Real-Time Style Transfer and Super-Resolution\", "
          "ECCV 2016, arXiv 1603.08155",
    setup=("Oxford VGG16 (real ImageNet weights). A: central squares of scikit-image's astronaut, chelsea, coffee "
           "and rocket; the shifted copy is the same photograph one pixel to the right; the blur's σ is found by "
           "bisection and the noise scaled exactly so that both have the shift's MSE (noise not clipped). "
           "B: TinySR (bicubic ×4 plus a learnt residual, ESPCN-style sub-pixel upsampling, zero-initialised last "
           "layer) trained with Adam on random HR patches of astronaut, coffee, rocket and motorcycle, LR = "
           "antialiased bicubic ×1/4; the same initialisation and batches for both losses; evaluated on the whole "
           "held-out chelsea photograph. PSNR on the BT.601 luma with a 4-px border shaved."),
    rule=RULE,
    full={"photos": ("astronaut", "chelsea", "coffee", "rocket"), "distance_size": 192,
          "train_photos": ("astronaut", "coffee", "rocket", "motorcycle"), "test_photo": "chelsea",
          "test_size": 0, "num_patches": 1024, "patch": 32, "batch": 16, "steps": 200, "width": 32, "blocks": 3,
          "lr": 1e-3},
    quick={"photos": ("astronaut", "chelsea"), "distance_size": 64,
           "train_photos": ("astronaut", "coffee"), "test_photo": "chelsea",
           "test_size": 96, "num_patches": 64, "patch": 32, "batch": 4, "steps": 10, "width": 16, "blocks": 2,
           "lr": 1e-3},
    run=run,
    verdict=verdict,
    seeds=3,
)
