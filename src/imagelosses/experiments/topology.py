"""Experiment ``topology``: does Mosinska et al.'s topology loss make a segmenter break thin structures less?

Two parts, both on generated thin curvilinear structures (random cubic Bézier curves 2-3.5 px wide, like roads
or vessels):

**Part A, the mechanism (no training).** On many single curves, remove the same number of mask pixels in two
ways: a *break* (a short cut across the curve, which splits it into two 8-connected components) and a compact
*notch* (the same number of pixels bitten out of one side of the curve at the same place, which leaves it
connected). A pixel loss charges both the same (same count of wrong pixels). Measured per curve: the break/notch
ratio of the topology loss (Oxford VGG16 conv1_2, conv2_2, conv3_3, prediction = the damaged mask, target = the
mask) and the same ratio under a *blurred MSE* (MSE between the Gaussian-blurred damaged mask and the blurred
mask, σ = 1, 2, 4 px), a loss that prefers compact errors but knows nothing of connectivity. The gain is the
per-curve log-ratio difference ``log(top_break/top_notch) − log(blur_break/blur_notch)``, with a bootstrap
interval over curves: a positive gain means the topology loss charges a break more than compactness alone
explains.

**Part B, training.** A tiny U-Net segments noisy images of 1-3 curves with clutter (blobs, short strokes that
are not structures) and occluders (patches that hide parts of the curves while the mask keeps them), with the
paper's iterative refinement (K = 3: the net sees image ⊕ its previous prediction; the step losses weighted
k/Z). Two arms train from the same initialisation on the same batches for the same steps: BCE, and
BCE + μ·topology. Held-out images (≥ 128, none seen in training) are scored per image with Wiedemann's
completeness/correctness/quality (centre lines, 2 px tolerance; completeness is the primary measure of the
verdict, pixel F1 its guard), the Betti-0/1 errors (8-connected foreground), the Betti-0 error split into
*breaks* (extra predicted pieces per true structure) and *spurious* components (touching no true pixel), the
clDice score, the pixel F1 and, pooled, the recall under the occluders; the topology − BCE differences get a
paired bootstrap interval over the test images (``<metric>/ci_low``, ``<metric>/ci_high``). Soft clDice is not
trained here (time budget: the topology arm's VGG pass through three refinement steps takes it all).

Everything runs on one thread (:func:`~imagelosses.experiments.base.single_thread`); ``cpu_time_s`` is the
process CPU time of the seed.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import Tensor, nn

from ..backbones.vgg import VGGFeatures
from ..losses.refinement import iterative_refinement, refinement_loss
from ..losses.segmentation import pixel_cross_entropy
from ..losses.topology import MOSINSKA_LAYERS, topology_loss
from ..metrics.topology import topology_scores
from .base import (
    Experiment,
    Figure,
    Interval,
    RunContext,
    RunOutput,
    Summary,
    Verdict,
    decide,
    paired_bootstrap,
    single_thread,
)
from .data import gaussian_blur
from .figures import save_pyplot_figure

ARMS: tuple[str, ...] = ("bce", "topology")
LABELS = {"bce": "BCE", "topology": "BCE + μ·topology"}
#: Per-image held-out scores (each arm's mean, and topology − BCE with a paired bootstrap interval).
SCORES: tuple[str, ...] = ("completeness", "correctness", "quality", "betti0_error", "betti1_error", "breaks",
                           "spurious", "cldice", "pixel_f1")
#: The column headings of the scores: the name, and ↑ where higher is better, ↓ where lower is.
SCORE_HEADINGS = {"completeness": "completeness ↑", "correctness": "correctness ↑", "quality": "quality ↑",
                  "betti0_error": "|Betti-0 error| ↓", "betti1_error": "|Betti-1 error| ↓", "breaks": "breaks ↓",
                  "spurious": "spurious components ↓", "cldice": "clDice ↑", "pixel_f1": "pixel F1 ↑",
                  "occluded_recall": "recall under the occluders ↑"}
#: The blurred-MSE widths (px) the topology loss must beat in part A (all of them).
BLUR_SIGMAS: tuple[float, ...] = (1.0, 2.0, 4.0)
F1_MARGIN = 0.05  # "similar pixel accuracy": the topology arm's pixel F1 at most this much below BCE's
MIN_INTERVAL_SEEDS = 2  # part B: the completeness interval excludes zero in at least this many seeds
_SQUARE = np.ones((3, 3), dtype=bool)


# ------------------------------------------------------------------------------------------------- data
def _bezier(ctrl: Tensor, n: int) -> Tensor:
    """Points of cubic Bézier curves ``ctrl`` (B, 4, 2) at ``n`` parameter values → (B, n, 2)."""
    t = torch.linspace(0, 1, n).view(1, n, 1)
    c = ctrl.unsqueeze(1)
    points: Tensor = ((1 - t) ** 3 * c[:, :, 0] + 3 * (1 - t) ** 2 * t * c[:, :, 1] + 3 * (1 - t) * t**2 * c[:, :, 2]
              + t**3 * c[:, :, 3])
    return points


def _distance(points: Tensor, size: int, supersample: int = 4) -> Tensor:
    """Distance of every pixel centre to the polyline through ``points`` (n, 2) → (size, size), from the
    Euclidean distance transform of the points drawn on a ``supersample``× finer grid (error ≲ 0.2 px)."""
    from scipy import ndimage

    fine = size * supersample
    dense = F.interpolate(points.T[None], scale_factor=4, mode="linear", align_corners=True)[0].T
    idx = ((dense + 0.5) * supersample).round().long()
    keep = ((idx >= 0) & (idx < fine)).all(1)
    grid = torch.ones(fine, fine, dtype=torch.bool)
    grid[idx[keep, 0], idx[keep, 1]] = False
    if keep.any():
        d = torch.from_numpy(ndimage.distance_transform_edt(grid.numpy())).float() / supersample
    else:
        d = torch.full((fine, fine), float(2 * size))
    centre = supersample // 2
    return d[centre::supersample, centre::supersample]


def _rand(g: torch.Generator, *shape: int, low: float = 0.0, high: float = 1.0) -> Tensor:
    return low + (high - low) * torch.rand(*shape, generator=g)


def make_data(n: int, size: int, g: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """``n`` images ``(n, 1, size, size)`` in [0, 1], their masks (the whole curves, occluded parts included)
    and the occluder masks."""
    images, masks, occluded = [], [], []
    for _ in range(n):
        curves = int(torch.randint(1, 4, (1,), generator=g))
        ends = _rand(g, curves, 2, 2, low=-0.1 * size, high=1.1 * size)
        mid = _rand(g, curves, 2, 2, low=0.15 * size, high=0.85 * size)
        ctrl = torch.stack([ends[:, 0], mid[:, 0], mid[:, 1], ends[:, 1]], 1)
        pts = _bezier(ctrl, 2 * size)
        radius = _rand(g, curves, 1, 1, low=0.75, high=1.75)  # widths 1.5 .. 3.5 px
        dist = torch.stack([_distance(p, size) for p in pts])
        mask = (dist <= radius).any(0)
        contrast = _rand(g, 1, low=0.35, high=0.6)
        signal = (contrast * (radius + 0.5 - dist).clamp(0, 1)).amax(0)
        # clutter: blobs and short strokes that are not structures
        clutter = torch.zeros(size, size)
        for _ in range(int(torch.randint(2, 6, (1,), generator=g))):
            start = _rand(g, 1, 2, high=size)
            angle = float(_rand(g, 1, high=math.pi))
            length = float(_rand(g, 1, low=2, high=7))
            seg = start + torch.linspace(0, 1, 4).view(-1, 1) * length * torch.tensor([math.cos(angle),
                                                                                      math.sin(angle)])
            d = _distance(seg, size)
            r = float(_rand(g, 1, low=0.75, high=2.5))
            clutter = torch.maximum(clutter, float(_rand(g, 1, low=0.3, high=0.6)) * (r + 0.5 - d).clamp(0, 1))
        # occluders: patches centred on the curves, the background shows through
        hide = torch.zeros(size, size, dtype=torch.bool)
        for _ in range(int(torch.randint(1, 4, (1,), generator=g))):
            k = int(torch.randint(0, curves, (1,), generator=g))
            centre = pts[k, int(torch.randint(size // 3, 5 * size // 3, (1,), generator=g))]
            half = _rand(g, 2, low=1.5, high=3.0)
            ax = torch.arange(size, dtype=torch.float32)
            box = ((ax.view(-1, 1) - centre[0]).abs() <= half[0]) & ((ax.view(1, -1) - centre[1]).abs() <= half[1])
            hide |= box
        background = F.avg_pool2d(torch.rand(1, 1, size + 6, size + 6, generator=g), 7, 1).view(size, size)
        image = 0.25 + 0.3 * background + torch.where(hide, torch.zeros(()), torch.maximum(signal, clutter))
        image = image + 0.06 * torch.randn(size, size, generator=g)
        images.append(image.clamp(0, 1))
        masks.append(mask.float())
        occluded.append(hide & mask)
    return torch.stack(images)[:, None], torch.stack(masks)[:, None], torch.stack(occluded)[:, None]


def components(mask: Tensor) -> int:
    """The number of 8-connected foreground components of a 2-D mask."""
    return int(ndimage.label(mask.detach().cpu().numpy().astype(bool), structure=_SQUARE)[1])


def make_break_notch(n: int, size: int, g: torch.Generator, *, gap: float = 3.0
                     ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``n`` single-curve masks ``(n, 1, size, size)``, each with a *break* and a *notch* of the same pixel count.

    The curve (one cubic Bézier, radius 1-1.75 px, i.e. 2-3.5 px wide) crosses the image; a point ``c`` in its
    central part is drawn, with tangent ``t`` and normal ``n``. The break removes the mask pixels within
    ``gap/2`` of ``c`` along ``t`` (a cut across the curve); the notch removes as many mask pixels, those on
    one side of the centre line (offset along ``n`` > 0.5 px) closest to the curve's edge point ``c + r·n``
    (a compact bite that keeps the centre line). A curve is redrawn unless the mask is one 8-connected
    component, the break leaves two and the notch one. Returns the masks, the broken masks, the notched masks
    (all float 0/1) and the cut centres ``(n, 2)`` (row, column)."""
    ax = torch.arange(size, dtype=torch.float32)
    grid = torch.stack(torch.meshgrid(ax, ax, indexing="ij"), -1)
    masks, broken, notched, centres = [], [], [], []
    for _ in range(n):
        for _attempt in range(200):
            ends = _rand(g, 2, 2, low=-0.1 * size, high=1.1 * size)
            mid = _rand(g, 2, 2, low=0.2 * size, high=0.8 * size)
            pts = _bezier(torch.stack([ends[0], mid[0], mid[1], ends[1]])[None], 4 * size)[0]
            radius = float(_rand(g, 1, low=1.0, high=1.75))
            mask = _distance(pts, size) <= radius
            central = ((pts > 0.3 * size) & (pts < 0.7 * size)).all(1).nonzero().flatten()
            if central.numel() == 0 or components(mask) != 1:
                continue
            k = int(central[int(torch.randint(0, central.numel(), (1,), generator=g))])
            c = pts[k]
            tangent = pts[min(k + 2, len(pts) - 1)] - pts[max(k - 2, 0)]
            tangent = tangent / tangent.norm()
            normal = torch.stack([-tangent[1], tangent[0]])
            rel = grid - c
            along, across = rel @ tangent, rel @ normal
            cut = mask & (along.abs() <= gap / 2) & (across.abs() <= radius + 1.5)
            count = int(cut.sum())
            side = mask & (across > 0.5)
            if int(side.sum()) < count:
                continue
            to_edge = torch.where(side, (rel - radius * normal).norm(dim=-1), torch.full((size, size), math.inf))
            bite = torch.zeros(size * size, dtype=torch.bool)
            bite[to_edge.flatten().argsort()[:count]] = True
            bite = bite.view(size, size)
            if components(mask & ~cut) != 2 or components(mask & ~bite) != 1:
                continue
            masks.append(mask)
            broken.append(mask & ~cut)
            notched.append(mask & ~bite)
            centres.append(c)
            break
        else:  # pragma: no cover - never seen: a valid curve comes within a few attempts
            raise RuntimeError("make_break_notch: no valid curve in 200 attempts")
    return (torch.stack(masks)[:, None].float(), torch.stack(broken)[:, None].float(),
            torch.stack(notched)[:, None].float(), torch.stack(centres))


def blurred_mse(pred: Tensor, target: Tensor, sigma: float) -> Tensor:
    """Per-image MSE between the Gaussian-blurred (σ px) prediction and mask → ``(N,)``: the part-A control,
    a loss that prefers compact errors (blurring concentrates them) but knows nothing of connectivity."""
    difference = gaussian_blur(pred, sigma, border="replicate") - gaussian_blur(target, sigma, border="replicate")
    return difference.square().flatten(1).mean(1)


def part_a(cfg: Any, vgg: VGGFeatures, g: torch.Generator, seed: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Part A's numbers for one seed, and what its figure needs (the first curve and its losses)."""
    masks, broken, notched, centres = make_break_notch(int(cfg["partA_curves"]), int(cfg["size"]), g)
    with torch.no_grad():
        top_b = topology_loss(broken, masks, extractor=vgg, reduction="none").double()
        top_n = topology_loss(notched, masks, extractor=vgg, reduction="none").double()
    log_top = (top_b / top_n).log()
    removed = (masks - broken).flatten(1).sum(1)
    out = {"partA_removed_pixels": float(removed.mean()),
           "partA_equal_counts": float(((masks - notched).flatten(1).sum(1) == removed).double().mean()),
           "partA_topology_ratio_median": float(log_top.exp().median()),
           "partA_bce_ratio_median": 1.0}  # same pixels wrong, same count: any pixel loss gives 1
    figure: dict[str, Any] = {"mask": masks[0, 0], "broken": broken[0, 0], "notched": notched[0, 0],
                              "centre": centres[0], "top": (float(top_b[0]), float(top_n[0])), "blur": {}}
    for sigma in BLUR_SIGMAS:
        blur_b, blur_n = blurred_mse(broken, masks, sigma).double(), blurred_mse(notched, masks, sigma).double()
        log_blur = (blur_b / blur_n).log()
        key = f"partA_gain_blur{sigma:g}"
        interval = paired_bootstrap(log_top, log_blur, seed=seed)
        out[f"partA_blur{sigma:g}_ratio_median"] = float(log_blur.exp().median())
        out[key] = interval.mean
        out[f"{key}/ci_low"], out[f"{key}/ci_high"] = interval.low, interval.high
        out[f"partA_frac_blur{sigma:g}"] = float((log_top > log_blur).double().mean())
        figure["blur"][sigma] = (float(blur_b[0]), float(blur_n[0]))
    return out, figure


# ------------------------------------------------------------------------------------------------ model
def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.GroupNorm(4, c_out), nn.ReLU(),
                         nn.Conv2d(c_out, c_out, 3, padding=1), nn.GroupNorm(4, c_out), nn.ReLU())


class TinyUNet(nn.Module):
    """A three-level U-Net (``w``, ``2w``, ``4w`` channels, group norm) from ``in_channels`` (the grey image, plus
    the previous prediction under iterative refinement) to one logit per pixel; the output bias starts at
    ``prior_logit`` (the logit of the foreground fraction), so training does not first have to learn the class
    balance."""

    def __init__(self, width: int = 8, prior_logit: float = 0.0, in_channels: int = 1) -> None:
        super().__init__()
        self.enc1, self.enc2 = _block(in_channels, width), _block(width, 2 * width)
        self.mid = _block(2 * width, 4 * width)
        self.up2, self.dec2 = nn.ConvTranspose2d(4 * width, 2 * width, 2, 2), _block(4 * width, 2 * width)
        self.up1, self.dec1 = nn.ConvTranspose2d(2 * width, width, 2, 2), _block(2 * width, width)
        self.head = nn.Conv2d(width, 1, 1)
        if self.head.bias is not None:
            nn.init.constant_(self.head.bias, prior_logit)

    def forward(self, x: Tensor) -> Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        m = self.mid(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        out: Tensor = self.head(d1)
        return out


def predict(model: nn.Module, images: Tensor, refine_steps: int) -> Tensor:
    """The logits of the last refinement step (``refine_steps`` = 1: one plain pass)."""
    if refine_steps == 1:
        out: Tensor = model(images)
        return out
    return iterative_refinement(model, images, refine_steps)[-1]


# -------------------------------------------------------------------------------------------------- run
def fragments(pred: Tensor, truth: Tensor) -> tuple[Tensor, Tensor]:
    """Per image ``(N,)``: ``breaks``, the predicted 8-connected components beyond the first that overlap each
    true component (summed over the true components: a structure predicted in three pieces counts 2), and
    ``spurious``, the predicted components that touch no true pixel (clutter taken for structure). The Betti-0
    error mixes the two; these say which one changed."""
    breaks, spurious = [], []
    for p, t in zip(pred.detach().cpu().numpy().astype(bool), truth.detach().cpu().numpy().astype(bool),
                    strict=True):
        p_lab, n_p = ndimage.label(p.reshape(p.shape[-2:]), structure=_SQUARE)
        t_lab, n_t = ndimage.label(t.reshape(t.shape[-2:]), structure=_SQUARE)
        pairs = {(int(a), int(b)) for a, b in zip(t_lab[(t_lab > 0) & (p_lab > 0)], p_lab[(t_lab > 0) & (p_lab > 0)],
                                                   strict=True)}
        per_true = np.bincount([a for a, _ in pairs], minlength=n_t + 1)[1:]
        breaks.append(float(np.clip(per_true - 1, 0, None).sum()))
        spurious.append(float(n_p - len({b for _, b in pairs})))
    return torch.tensor(breaks, dtype=torch.float64), torch.tensor(spurious, dtype=torch.float64)


def per_image_scores(logits: Tensor, masks: Tensor) -> dict[str, Tensor]:
    """Each :data:`SCORES` measure per held-out image ``(N,)`` (float64) of the prediction ``logits > 0``."""
    pred, truth = logits > 0, masks > 0.5
    out = {k: torch.from_numpy(np.asarray(v, dtype=np.float64))
           for k, v in topology_scores(pred, truth, tolerance=2.0).items()}
    tp = (pred & truth).flatten(1).sum(1).double()
    out["breaks"], out["spurious"] = fragments(pred, truth)
    out["pixel_f1"] = 2 * tp / (pred.flatten(1).sum(1) + truth.flatten(1).sum(1)).double().clamp(min=1)
    return {k: out[k] for k in SCORES}


def train_arms(cfg: Any, seed_generator: torch.Generator, train: tuple[Tensor, Tensor, Tensor], vgg: VGGFeatures,
               device: torch.device, progress: Any = None) -> tuple[dict[str, nn.Module], float]:
    """Train both arms from one initialisation on the same batches; returns the models and μ.

    μ is set so that μ·L_top = ``balance``·L_bce for the initial network on the first batch (the Oxford
    features' scale differs from the torchvision features μ = 0.1 was tuned for). The mask's VGG features
    are computed once for the whole training set (the target of the topology term never changes)."""
    steps, batch, k_ref = int(cfg["steps"]), int(cfg["batch"]), int(cfg["refine_steps"])
    init_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=seed_generator))
    order = torch.randint(0, train[0].shape[0], (steps, batch), generator=seed_generator)
    x_all, y_all = train[0].to(device), train[1].to(device)
    with torch.no_grad():
        y_feats = {k: v.detach() for k, v in vgg(y_all).items()}
    prior = float(train[1].mean().clamp(1e-3, 1 - 1e-3))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        start = TinyUNet(int(cfg["width"]), math.log(prior / (1 - prior)), 1 if k_ref == 1 else 2).to(device)
    with torch.no_grad():
        first = predict(start, x_all[order[0]], k_ref)
        bce0 = pixel_cross_entropy(first, y_all[order[0]])
        top0 = topology_loss(torch.sigmoid(first), {k: v[order[0]] for k, v in y_feats.items()}, extractor=vgg)
    mu = float(cfg["balance"]) * float(bce0) / float(top0)

    models: dict[str, nn.Module] = {}
    for a, arm in enumerate(ARMS):
        model = TinyUNet(int(cfg["width"]), in_channels=1 if k_ref == 1 else 2).to(device)
        model.load_state_dict(start.state_dict())
        opt = torch.optim.Adam(model.parameters(), lr=float(cfg["lr"]))
        for step in range(steps):
            idx = order[step]
            y, feats = y_all[idx], {k: v[idx] for k, v in y_feats.items()}

            def objective(logits: Tensor, target: Tensor, arm: str = arm, feats: dict[str, Tensor] = feats
                          ) -> Tensor:
                bce = pixel_cross_entropy(logits, target)
                if arm == "topology":
                    return bce + mu * topology_loss(torch.sigmoid(logits), feats, extractor=vgg)
                return bce

            if k_ref == 1:
                loss = objective(model(x_all[idx]), y)
            else:
                refined = refinement_loss(model, x_all[idx], y, objective, steps=k_ref)
                loss = refined if isinstance(refined, Tensor) else refined.total
            opt.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            opt.step()
            if progress is not None and (step % 10 == 0 or step == steps - 1):
                progress(a * steps + step + 1, len(ARMS) * steps)
        models[arm] = model.eval()
    return models, mu


def interval_metrics(name: str, interval: Interval) -> dict[str, float]:
    return {name: interval.mean, f"{name}/ci_low": interval.low, f"{name}/ci_high": interval.high}


def run(ctx: RunContext) -> RunOutput:
    with single_thread():
        return _run(ctx)


def _run(ctx: RunContext) -> RunOutput:
    t0 = time.process_time()
    cfg = ctx.config
    g = ctx.generator()
    size, k_ref = int(cfg["size"]), int(cfg["refine_steps"])
    vgg = VGGFeatures("vgg16", MOSINSKA_LAYERS["vgg16"], weights="oxford").to(ctx.device)
    metrics, part_a_figure = part_a(cfg, vgg, g, ctx.seed)

    train = make_data(int(cfg["train_images"]), size, g)
    test = make_data(int(cfg["test_images"]), size, g)
    models, mu = train_arms(cfg, g, train, vgg, ctx.device, ctx.progress)
    metrics["mu"] = mu
    metrics["mu_log10"] = math.log10(mu)  # μ is ~1e-7 with the Oxford features: a table would round it to 0
    logits: dict[str, Tensor] = {}
    scores: dict[str, dict[str, Tensor]] = {}
    with torch.no_grad():
        for arm, model in models.items():
            logits[arm] = predict(model, test[0].to(ctx.device), k_ref).cpu()
            scores[arm] = per_image_scores(logits[arm], test[1])
            for key, values in scores[arm].items():
                metrics[f"{arm}_{key}"] = float(values.mean())
            hidden = test[2] > 0
            metrics[f"{arm}_occluded_recall"] = float(((logits[arm] > 0) & hidden).sum()) / max(float(hidden.sum()), 1)
    for key in SCORES:
        metrics.update(interval_metrics(f"topology_minus_bce_{key}",
                                        paired_bootstrap(scores["topology"][key], scores["bce"][key], seed=ctx.seed)))
    metrics["topology_minus_bce_occluded_recall"] = metrics["topology_occluded_recall"] - metrics["bce_occluded_recall"]
    figures = [_figure_part_a(ctx, part_a_figure), _figure_part_b(ctx, test, logits)] if ctx.make_figures else []
    metrics["cpu_time_s"] = time.process_time() - t0  # process CPU time of this seed, figures included
    return RunOutput(metrics=metrics, figures=figures, tables=_tables(metrics))


def _tables(metrics: dict[str, float]) -> dict[str, list[list[Any]]]:
    """Part A's break-vs-notch table and part B's held-out scores and paired differences."""
    header: list[Any] = ["arm", *(SCORE_HEADINGS[k] for k in (*SCORES, "occluded_recall"))]
    table = [header] + [[LABELS[arm], *[round(metrics[f"{arm}_{k}"], 3) for k in (*SCORES, "occluded_recall")]]
                        for arm in ARMS]
    diff: list[list[Any]] = [["topology − BCE", "mean", "95% interval low", "95% interval high"]]
    diff += [[SCORE_HEADINGS[k], round(metrics[f"topology_minus_bce_{k}"], 4),
              round(metrics[f"topology_minus_bce_{k}/ci_low"], 4), round(metrics[f"topology_minus_bce_{k}/ci_high"], 4)]
             for k in SCORES]
    part_a_table: list[list[Any]] = [["blurred-MSE σ (px)", "median break/notch ratio (blurred MSE)",
                                      "topology ratio (median, ↑)", "mean log-ratio gain (natural log, ↑)",
                                      "95% interval low", "95% interval high",
                                      "curves where topology's ratio is larger (fraction, ↑)"]]
    for s in BLUR_SIGMAS:
        key = f"partA_gain_blur{s:g}"
        part_a_table.append([s, round(metrics[f"partA_blur{s:g}_ratio_median"], 3),
                             round(metrics["partA_topology_ratio_median"], 3), round(metrics[key], 3),
                             round(metrics[f"{key}/ci_low"], 3), round(metrics[f"{key}/ci_high"], 3),
                             round(metrics[f"partA_frac_blur{s:g}"], 3)])
    return {"part A: break vs notch (same pixels removed)": part_a_table,
            "part B: held-out scores (mean over test images; scores 0–1, errors counted per image)": table,
            "part B: topology − BCE (paired over test images, bootstrap interval)": diff}


# ---------------------------------------------------------------------------------------------- figures
def _figure_part_a(ctx: RunContext, fig_data: dict[str, Any]) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mask, centre = fig_data["mask"], fig_data["centre"]
    blur: dict[float, tuple[float, float]] = fig_data["blur"]
    Panel = tuple[str, Tensor, float | None, dict[float, float] | None]
    panels: list[Panel] = [
              ("intact curve (the target)", mask, None, None),
              ("break: cut across", fig_data["broken"], fig_data["top"][0], {s: v[0] for s, v in blur.items()}),
              ("notch: same pixels, one side", fig_data["notched"], fig_data["top"][1],
               {s: v[1] for s, v in blur.items()})]
    r0, c0 = (int(v) for v in centre.round())
    half = 10
    rows = slice(max(r0 - half, 0), r0 + half + 1)
    cols = slice(max(c0 - half, 0), c0 + half + 1)
    fig, axes = plt.subplots(2, 3, figsize=(7.8, 6.2))
    for col, (title, image, top, blurs) in enumerate(panels):
        removed = (mask > 0.5) & (image < 0.5)
        rgb = torch.stack([image, image, image], -1).clone()
        rgb[removed] = torch.tensor([0.85, 0.1, 0.1])
        for row, view in enumerate((rgb, rgb[rows, cols])):
            ax = axes[row][col]
            ax.imshow(view.numpy(), interpolation="nearest", aspect="equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(title, fontsize=8)
            elif top is None:
                ax.set_xlabel("zoom on the cut (21×21 px)", fontsize=7)
            else:
                ax.set_xlabel(f"zoom; {int(removed.sum())} px removed\ntopology loss {top:.3g}\n"
                              + "\n".join(f"blurred MSE σ={s:g} px: {v:.3g}" for s, v in (blurs or {}).items()),
                              fontsize=7)
    size = int(ctx.config["size"])
    return save_pyplot_figure(fig, ctx.out_dir / f"topology_partA_break_vs_notch_seed{ctx.seed}.png", dpi=90,
                              title_size=9, title="Part A: a break and a notch remove the same pixels (red); the "
                                                  "topology loss charges the break more",
                              caption=f"Part A, one generated curve ({size}×{size} px): the mask, the same mask with a "
                                      "break (a cut across the curve) and with a notch (as many pixels bitten from one "
                                      "side, the curve stays connected); removed pixels in red; bottom row zooms on "
                                      "the cut. A thin curve leaves no room for a rounder notch that keeps it "
                                      "connected, so the notch is a shallow bite along one side. Under each zoom: the "
                                      "topology loss (Oxford VGG16 conv1_2+conv2_2+conv3_3, mean squared feature "
                                      "difference) and the blurred-MSE control (σ in px) of each "
                                      "damaged mask against the intact one.")


def _figure_part_b(ctx: RunContext, test: tuple[Tensor, Tensor, Tensor], logits: dict[str, Tensor]) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images, masks, occluded = test
    rows = occluded.flatten(1).sum(1).argsort(descending=True)[:3].tolist()
    cols = [("image", None), ("ground truth", None), *[(LABELS[a], a) for a in ARMS]]
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(2.0 * len(cols), 2.1 * len(rows)), squeeze=False)
    for r, i in enumerate(rows):
        for c, (title, arm) in enumerate(cols):
            ax = axes[r][c]
            if arm is None and c == 0:
                ax.imshow(images[i, 0].numpy(), cmap="gray", vmin=0, vmax=1)
            elif arm is None:
                ax.imshow(masks[i, 0].numpy(), cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(torch.sigmoid(logits[arm][i, 0]).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.contour(occluded[i, 0].float().numpy(), levels=[0.5], colors="tab:red", linewidths=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=8)
        axes[r][0].set_ylabel(f"held-out #{i}", fontsize=8)
    size = int(ctx.config["size"])
    return save_pyplot_figure(fig, ctx.out_dir / f"topology_partB_predictions_seed{ctx.seed}.png", dpi=90,
                              title_size=9,
                              title="Part B: predicted probability (0–1, same scale); red: structure hidden by an "
                                    "occluder",
                              caption="Part B, held-out images with the most occluded structure (red outline: mask "
                                      "pixels an occluder hides), the true mask and each arm's predicted probability "
                                      f"map, all on the same 0–1 grey scale; {size}×{size} px.")


# ---------------------------------------------------------------------------------------------- verdict
def part_a_holds(summary: Summary) -> tuple[bool, str]:
    """Part A holds when, in every seed and against every blurred-MSE width, the mean log-ratio gain's interval
    lies above zero and the topology loss's break/notch ratio is the larger on more than half of the curves."""
    lows = [min(summary.values[f"partA_gain_blur{s:g}/ci_low"]) for s in BLUR_SIGMAS]
    fracs = [min(summary.values[f"partA_frac_blur{s:g}"]) for s in BLUR_SIGMAS]
    gains = [summary.mean(f"partA_gain_blur{s:g}") for s in BLUR_SIGMAS]
    ok = all(low > 0 for low in lows) and all(f > 0.5 for f in fracs)
    text = "; ".join(f"σ={s:g} px: gain {gain:+.2f} (lowest interval bound {low:+.2f}, topology ratio larger on "
                     f"≥ {frac:.0%} of curves)" for s, gain, low, frac in zip(BLUR_SIGMAS, gains, lows, fracs,
                                                                               strict=True))
    return ok, text


def verdict(summary: Summary) -> Verdict:
    """Holds when part A holds (:func:`part_a_holds`) and, in part B, the completeness gain (topology − BCE) is
    positive in every seed with its paired bootstrap interval above zero in at least :data:`MIN_INTERVAL_SEEDS`
    seeds, at a mean pixel F1 no more than :data:`F1_MARGIN` below BCE's; otherwise does not hold at this scale.
    The Betti-0 error reduction, correctness and quality are reported next to it."""
    a_ok, a_text = part_a_holds(summary)
    dc = summary.values["topology_minus_bce_completeness"]
    dc_low = summary.values["topology_minus_bce_completeness/ci_low"]
    dc_high = summary.values["topology_minus_bce_completeness/ci_high"]
    db = summary.values["topology_minus_bce_betti0_error"]
    db_low = summary.values["topology_minus_bce_betti0_error/ci_low"]
    db_high = summary.values["topology_minus_bce_betti0_error/ci_high"]
    df1 = summary.mean("topology_minus_bce_pixel_f1")
    dcorr = summary.mean("topology_minus_bce_correctness")
    dbreaks, dspur = summary.mean("topology_minus_bce_breaks"), summary.mean("topology_minus_bce_spurious")
    excluding = sum(low > 0 for low in dc_low)
    b_ok = all(d > 0 for d in dc) and excluding >= MIN_INTERVAL_SEEDS
    guard_ok = df1 >= -F1_MARGIN
    per_seed = ", ".join(f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]" for d, lo, hi in zip(dc, dc_low, dc_high, strict=True))
    betti = ", ".join(f"{-d:+.2f} [{-hi:+.2f}, {-lo:+.2f}]" for d, lo, hi in zip(db, db_low, db_high, strict=True))
    reason = (f"part A {'holds' if a_ok else 'fails'} ({a_text}); part B completeness gain (topology − BCE) per seed "
              f"{per_seed} (interval above zero in {excluding}/{len(dc)} seeds); descriptive: Betti-0 error reduction "
              f"per seed {betti}, of which breaks {-dbreaks:+.2f} and spurious components {-dspur:+.2f} per image "
              f"(mean over seeds); guard: pixel F1 change {df1:+.3f} (must be ≥ −{F1_MARGIN}), correctness change "
              f"{dcorr:+.3f}")
    if not a_ok:
        reason += "; fails because part A does"
    elif not b_ok:
        reason += "; fails because the completeness gain is not positive in every seed with its interval above " \
                  f"zero in ≥ {MIN_INTERVAL_SEEDS} seeds"
    elif not guard_ok:
        reason += f"; fails the guard: pixel F1 fell by more than {F1_MARGIN}"
    holds = a_ok and b_ok and guard_ok
    return decide(reason, holds=holds, fails=not holds)


def _config(**kw: Any) -> dict[str, Any]:
    base = {"size": 48, "width": 8, "batch": 8, "lr": 3e-3, "balance": 1.0, "refine_steps": 3}
    return {**base, **kw}


EXPERIMENT = Experiment(
    name="topology",
    title="Topology-aware loss: fewer breaks in thin structures",
    claim="Adding Mosinska et al.'s topology loss (VGG feature maps of the predicted probability map vs the mask) to "
          "BCE, with the paper's iterative refinement, gives fewer breaks in thin structures: higher completeness at "
          "similar pixel accuracy. Its mechanism: the loss charges a break more than the same number of wrong "
          "pixels that leave the structure connected.",
    paper="Mosinska et al., Beyond the Pixel-Wise Loss for Topology-Aware Delineation, CVPR 2018, arXiv 1712.02190 "
          "(Section 3: the loss and the iterative refinement, K = 3; Section 4, Table 1: higher completeness and "
          "quality and better topology than the pixel-wise loss)",
    setup="Part A (no training): 64 generated single curves (cubic Bézier, 2-3.5 px wide, 48×48 px); at one point "
          "of each, a break (the mask pixels within 1.5 px along the curve, cut across it: 2 components) and a notch "
          "(as many pixels, the ones on one side of the centre line nearest the edge point: still 1 component). "
          "Per curve, the break/notch ratio of the topology loss (Oxford VGG16 conv1_2, conv2_2, conv3_3, the "
          "offline analogue of the paper's VGG19 layers; the damaged mask is the prediction) against the same ratio "
          "of a blurred MSE (Gaussian σ = 1, 2, 4 px; it prefers compact errors but ignores connectivity); any "
          "pixel loss gives ratio 1. Part B (training): tiny U-Net (8-16-32 channels, group norm, output bias at "
          "the foreground prior, input image ⊕ previous prediction) with the paper's iterative refinement, K = 3 "
          "steps from an empty map, loss (1/Z)Σ k·L_k; 48×48 images of 1-3 curves with clutter (blobs, short "
          "strokes) and occluding patches (the mask keeps the hidden parts); 256 training and 128 held-out images "
          "per seed. Arms: BCE, and BCE + μ·topology with μ set so that μ·L_top = L_bce for the initial network on "
          "the first batch (the Oxford features are ~255× larger than the torchvision ones μ = 0.1 was tuned for); "
          "same initialisation, batches and 150 Adam steps (lr 3e-3, batch 8). Scores on the last refinement step "
          "of held-out images: centre-line completeness/correctness/quality (2 px tolerance), Betti-0/1 errors "
          "(8-connected foreground) split into breaks (extra predicted pieces per true structure) and spurious "
          "components (touching no true pixel), clDice, pixel F1, pooled recall under the occluders; topology − BCE "
          "with a paired bootstrap (2000 resamples) over the 128 test images. Soft clDice is not trained (the "
          "topology arm's VGG pass through three refinement steps takes the whole budget: about 50 s of one CPU "
          "core per seed). Everything on one thread.",
    rule="holds if (A) in every seed and against every blurred-MSE width (σ = 1, 2, 4 px) the mean log-ratio gain "
         "log(top_break/top_notch) − log(blur_break/blur_notch) has its 95% bootstrap interval over curves above "
         "zero and the topology ratio is the larger on more than half of the curves, and (B) the completeness gain "
         "(topology − BCE, chosen as the primary measure before the evaluation runs because completeness is the "
         "fraction of the true centre line recovered, which breaks lower) is positive in every seed with its "
         "paired bootstrap interval over test images above zero in at least 2 of 3 seeds (each seed is an "
         "independent replicate: data, initialisation and batches; a sign in every seed plus two significant seeds "
         "keeps one lucky seed from deciding), at a mean pixel F1 at most 0.05 below BCE's (the guard: a loss "
         "that thickens everything raises completeness); otherwise does not hold at this scale. Betti-0 error, "
         "breaks, spurious components, correctness and quality are reported, not decided on.",
    full=_config(steps=150, train_images=256, test_images=128, partA_curves=64),
    quick=_config(steps=4, train_images=16, test_images=8, partA_curves=12),
    run=run,
    verdict=verdict,
    seeds=3,
    pilot="Settings chosen by a pilot on seeds 100 and 101 (never 0-2), training on 256 generated images and "
          "scoring on 128 further images drawn from the training distribution of the same pilot seed (not the "
          "evaluation data). Without refinement (K = 1, 300 steps, seed 100) the completeness gain over BCE was "
          "-0.006, +0.039, +0.017, -0.028 for balance μ·L_top/L_bce = 0.1, 0.3, 1, 3 (no consistent sign) and the "
          "Betti-0 error did not fall. With the paper's refinement (K = 3, 150 steps, the most the 3-minute budget "
          "allows) balance 1 gave completeness -0.014 and -0.017, Betti-0 error reduction +1.42 and +1.18 "
          "(seeds 100, 101), pixel F1 -0.001 and +0.014; balance 0.3 (seed 100) completeness -0.030, Betti-0 "
          "+1.08, F1 -0.010. K = 3, balance 1, 150 steps were fixed from this. The pilot also showed (seed 101) "
          "that the Betti-0 reduction is nearly all fewer spurious components (-1.13 per image) rather than fewer "
          "breaks (-0.06), which is why breaks and spurious components are reported separately. The primary "
          "measure (completeness) and the thresholds were fixed before the pilot. After the evaluation, a "
          "diagnostic on pilot seed 100 only (it changed nothing here) asked whether more training would show the "
          "claim: with 450 steps (3× the budget), K = 3, BCE itself reached Betti-0 error 1.07, 0.60 breaks per "
          "image and 42% recall under the occluders, and the topology arm gained nothing: completeness -0.028 "
          "[-0.050, -0.008], breaks +0.11 [-0.04, +0.27], occluded recall 37% at balance 1; completeness -0.007 "
          "[-0.020, +0.007], breaks +0.05 [-0.11, +0.20], occluded recall 35% at balance 3. A further check: a "
          "3 px break of one curve lowers its completeness (2 px tolerance) from 1.00 to 0.91, so the measure does "
          "see breaks.",
)
