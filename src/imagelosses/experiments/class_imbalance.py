"""``class-imbalance``: class-weighted and U-Net border-weighted cross-entropy on touching cells.

A small U-Net segments generated images of touching cells (about 10 % foreground, uneven illumination,
noise) with three losses that differ only in their per-pixel weights: plain cross-entropy, class-weighted
("balanced") cross-entropy, and the U-Net weight map ``w = w_c + w0·exp(−(d1 + d2)²/(2σ²))`` with the same
balanced ``w_c``. The claims (REFERENCES.md): class weighting raises the recall of the rare class (at some
cost of precision); the border term separates touching cells (fewer merged instances), not a higher IoU.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from ..losses.segmentation import PixelCrossEntropyLoss
from ..losses.weightmaps import unet_weight_map
from .base import Experiment, Figure, RunContext, RunOutput, Summary, Verdict, decide
from .data import Cells, describe_effect, effect, make_cells, new_figure, save_figure, show_image
from .models import TinyUNet, seeded

__all__ = ["EXPERIMENT", "METHODS", "separation", "verdict"]

#: The three losses, in the order of the tables and figures.
METHODS: tuple[str, ...] = ("plain", "weighted", "border")
LABELS = {"plain": "plain CE", "weighted": "class-weighted CE", "border": "CE + U-Net border weights"}
_EIGHT = np.ones((3, 3), dtype=bool)


def separation(pred: np.ndarray, cells: Cells) -> dict[str, float]:
    """Fractions of the true touching pairs that the prediction separates, merges, or misses.

    The prediction's foreground ``(N, S, S)`` (bool) is split into 8-connected components. A true cell is
    found when at least half its pixels are predicted foreground; it then belongs to the component that
    covers most of them. A touching pair is *separated* when both cells are found in different components,
    *merged* when both are found in the same one, and *missed* otherwise.
    """
    components = [ndimage.label(p, structure=_EIGHT)[0] for p in pred]
    owner: dict[tuple[int, int], int] = {}
    instances = cells.instances.numpy()
    for i, (inst, comp) in enumerate(zip(instances, components, strict=True)):
        for cell in np.unique(inst[inst > 0]).tolist():
            hits = comp[inst == cell]
            found = hits[hits > 0]
            if found.size * 2 >= hits.size:
                owner[(i, cell)] = int(np.bincount(found).argmax())
    counts = {"separated": 0, "merged": 0, "missed": 0}
    for i, a, b in cells.pairs:
        ca, cb = owner.get((i, a)), owner.get((i, b))
        counts["missed" if ca is None or cb is None else "merged" if ca == cb else "separated"] += 1
    total = max(1, len(cells.pairs))
    return {k: v / total for k, v in counts.items()}


def _pixel_scores(pred: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    t, p = mask.astype(bool), pred.astype(bool)
    tp, fp, fn = float((t & p).sum()), float((~t & p).sum()), float((t & ~p).sum())
    tn = float((~t & ~p).sum())
    return {"iou_fg": tp / max(1.0, tp + fp + fn), "iou_bg": tn / max(1.0, tn + fp + fn),
            "recall_fg": tp / max(1.0, tp + fn), "precision_fg": tp / max(1.0, tp + fp)}


def _train(method: str, train: Cells, weight_map: Tensor, ctx: RunContext, offset: int, total: int) -> TinyUNet:
    cfg = ctx.config
    net = seeded(ctx.seed, lambda: TinyUNet(1, 2, width=cfg["width"], depth=2)).to(ctx.device)
    loss_fn = PixelCrossEntropyLoss(class_weight="balanced" if method == "weighted" else None)
    opt = torch.optim.Adam(net.parameters(), lr=cfg["lr"])
    gen = torch.Generator().manual_seed(ctx.seed + 1)  # the same batches for every method
    images, mask = train.images.to(ctx.device), train.mask.to(ctx.device)
    weight_map = weight_map.to(ctx.device)
    net.train()
    for step in range(cfg["steps"]):
        idx = torch.randint(0, images.shape[0], (cfg["batch"],), generator=gen).to(ctx.device)
        logits = net(images[idx])
        loss = loss_fn(logits, mask[idx], weight_map[idx] if method == "border" else None)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ctx.progress(offset + step + 1, total)
    return net.eval()


def run(ctx: RunContext) -> RunOutput:
    cfg = ctx.config
    gen = ctx.generator()
    train = make_cells(cfg["train_images"], gen, size=cfg["size"])
    test = make_cells(cfg["test_images"], gen, size=cfg["size"])
    border_map = unet_weight_map(train.instances, w0=10.0, sigma=5.0, class_weight="balanced")
    total = cfg["steps"] * len(METHODS)
    metrics: dict[str, float] = {"foreground_fraction": float(train.mask.float().mean()),
                                 "touching_pairs_test": float(len(test.pairs))}
    preds: dict[str, np.ndarray] = {}
    for k, method in enumerate(METHODS):
        net = _train(method, train, border_map, ctx, k * cfg["steps"], total)
        with torch.no_grad():
            pred = net(test.images.to(ctx.device)).argmax(1).cpu().numpy().astype(bool)
        preds[method] = pred
        for key, value in {**_pixel_scores(pred, test.mask.numpy()), **separation(pred, test)}.items():
            metrics[f"{key}_{method}"] = value
    metrics["separated_gain_border"] = metrics["separated_border"] - metrics["separated_weighted"]
    metrics["separated_gain_border_vs_plain"] = metrics["separated_border"] - metrics["separated_plain"]
    metrics["recall_gain_weighted"] = metrics["recall_fg_weighted"] - metrics["recall_fg_plain"]
    metrics["precision_change_weighted"] = metrics["precision_fg_weighted"] - metrics["precision_fg_plain"]
    figures = _figures(ctx, test, preds, border_map[0], train) if ctx.make_figures else []
    header = ["loss", "IoU bg", "IoU fg", "recall fg", "precision fg", "pairs separated", "merged", "missed"]
    rows: list[list[Any]] = [header] + [
        [LABELS[m]] + [round(metrics[f"{k}_{m}"], 3) for k in ("iou_bg", "iou_fg", "recall_fg", "precision_fg",
                                                               "separated", "merged", "missed")]
        for m in METHODS]
    return RunOutput(metrics=metrics, figures=figures, tables={f"Test set (seed {ctx.seed})": rows})


def _figures(ctx: RunContext, test: Cells, preds: dict[str, np.ndarray], weight: Tensor, train: Cells) -> list[Figure]:
    shown = min(3, test.images.shape[0])
    fig = new_figure(1.6 * (2 + len(METHODS)), 1.7 * shown)
    axes = fig.subplots(shown, 2 + len(METHODS), squeeze=False)
    for r in range(shown):
        show_image(axes[r][0], test.images[r, 0], "image" if r == 0 else "")
        show_image(axes[r][1], test.mask[r].float(), "true mask (carved)" if r == 0 else "")
        for c, m in enumerate(METHODS):
            show_image(axes[r][2 + c], torch.from_numpy(preds[m][r]).float(), LABELS[m] if r == 0 else "")
    first = save_figure(fig, ctx.out_dir / f"class-imbalance-predictions-s{ctx.seed}.png")
    fig = new_figure(7.0, 3.0)
    ax_img, ax_w = fig.subplots(1, 2)
    show_image(ax_img, train.images[0, 0], "training image")
    im = ax_w.imshow(weight.numpy(), cmap="magma", interpolation="nearest")
    ax_w.set_title("U-Net weight map w(x) (w0 = 10, σ = 5 px)", fontsize=8)
    ax_w.set_xticks([])
    ax_w.set_yticks([])
    fig.colorbar(im, ax=ax_w, label="pixel weight")
    second = save_figure(fig, ctx.out_dir / f"class-imbalance-weightmap-s{ctx.seed}.png")
    return [Figure(first, "Held-out images (64 px), the true foreground with the carved one-pixel lines between "
                          "touching cells, and each loss's prediction (argmax, white = cell)."),
            Figure(second, "A training image and its U-Net weight map: balanced class weights plus the border "
                           "term, largest in the narrow gaps between touching cells (colour = weight).")]


RULE = ("Two per-seed differences, each 'positive' when > 0 in every seed and its mean exceeds its standard "
        "deviation, 'negative' when < 0 in every seed with |mean| > std: (a) border effect = fraction of touching "
        "pairs separated with border weights − with class weights alone (same balanced w_c, so only the border "
        "term differs); (b) class-weight effect = foreground recall with class-weighted CE − with plain CE. "
        "Holds if both are positive; does not hold at this scale if either is negative; inconclusive otherwise. "
        "Precision and IoU are reported, not judged.")


def verdict(summary: Summary) -> Verdict:
    border, recall = effect(summary, "separated_gain_border"), effect(summary, "recall_gain_weighted")
    reason = "; ".join([describe_effect(summary, "separated_gain_border", "border effect on pairs separated", border),
                        describe_effect(summary, "recall_gain_weighted", "class-weight effect on foreground recall",
                                        recall)])
    return decide(reason, holds=border == "positive" and recall == "positive", fails="negative" in (border, recall))


EXPERIMENT = Experiment(
    name="class-imbalance",
    title="Class weights and U-Net border weights on touching cells",
    claim=("Weighting the cross-entropy by inverse class frequency raises the recall of a rare foreground class "
           "(at some cost of precision); adding the U-Net border term w0·exp(−(d1+d2)²/2σ²) makes the network "
           "separate touching cells (fewer merged instances)."),
    paper="Ronneberger, Fischer, Brox, \"U-Net: Convolutional Networks for Biomedical Image Segmentation\", "
          "MICCAI 2015, arXiv 1505.04597",
    setup=("Generated 64-px images of elliptical cells (radius 3.5–5.5 px, about 10 % foreground, 3 touching pairs "
           "and 2 lone cells per image, darker rims, σ = 1 px blur, a random illumination gradient, Gaussian noise "
           "σ = 0.06); the true foreground has a one-pixel background line carved between touching cells. A "
           "TinyUNet (depth 2) trained with Adam from the same initialisation and batches for each loss; "
           "w0 = 10, σ = 5 px (the paper's constants); predictions by argmax on held-out images. A cell counts as "
           "found when half of it is predicted; pairs are judged on the 8-connected components of the prediction."),
    rule=RULE,
    full={"size": 64, "train_images": 96, "test_images": 48, "steps": 250, "batch": 8, "width": 8, "lr": 3e-3},
    quick={"size": 64, "train_images": 16, "test_images": 8, "steps": 20, "batch": 4, "width": 8, "lr": 3e-3},
    run=run,
    verdict=verdict,
    seeds=3,
)
