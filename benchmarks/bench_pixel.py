"""Pixel-wise benchmarks: the U-Net weight map against the naive per-instance loop, and weighted pixel
cross-entropy against F.cross_entropy with manual weighting.

Run: ``python benchmarks/bench_pixel.py [--quick]``. Method in benchmarks/README.md.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks._common import Row, quick_flag, seed_all, time_median, timed_rows, with_ratios, write
from imagelosses import PixelCrossEntropyLoss, unet_weight_map
from tests.references import make_cells, naive_unet_weight_map

BASELINE_CE = "F.cross_entropy + manual weighting"


def bench_weight_map(quick: bool) -> str:
    rows = []
    counts = (50,) if quick else (50, 200)
    for count in counts:
        instances = make_cells(512, count, seed=0)
        case = f"512×512, {count} cells"
        exact = naive_unet_weight_map(instances)
        fast = unet_weight_map(instances).numpy()
        err = float(np.abs(fast - exact).max())
        repeats = 3 if quick else 5
        rows.append(Row("unet_weight_map", case, "naive per-instance EDT",
                        time_median(lambda inst=instances: naive_unet_weight_map(inst), warmup=1, repeats=repeats)))
        rows.append(Row("unet_weight_map", case, "imagelosses.unet_weight_map",
                        time_median(lambda inst=instances: unet_weight_map(inst), warmup=1, repeats=repeats),
                        extra={"max_abs_diff": err, "max_abs_diff_over_w0": err / 10.0}))
    rows = with_ratios(rows, "naive per-instance EDT")
    errors = "\n".join(f"- {r.case}: max |ours − naive| = {r.extra['max_abs_diff']:.2e} "
                       f"({r.extra['max_abs_diff_over_w0']:.1e}·w0; the bound is rel_tol·w0 = 1e-4·w0)"
                       for r in rows if r.extra)
    return write("weightmap", rows, "U-Net weight map (w0 = 10, σ = 5), CPU", "naive per-instance EDT", errors)


def _cross_entropy_rows(shape: tuple[int, int, int, int], repeats: int) -> list[Row]:
    n, c, h, w = shape
    seed_all(0)
    logits = torch.randn(n, c, h, w, requires_grad=True)
    target = torch.randint(0, c, (n, h, w))
    target[:, :8] = -100
    class_weight = torch.rand(c) + 0.5
    pixel_map = torch.rand(n, h, w) + 0.5
    ours = PixelCrossEntropyLoss(class_weight=class_weight)

    def manual_loss() -> torch.Tensor:
        per = F.cross_entropy(logits, target, weight=class_weight, reduction="none")
        denom = (class_weight[target.clamp_min(0)] * pixel_map * (target != -100)).sum()
        return (per * pixel_map).sum() / denom

    torch.testing.assert_close(ours(logits, target, pixel_map), manual_loss())
    case = f"{n}×{c}×{h}×{w}, fwd+bwd"
    losses = {BASELINE_CE: manual_loss, "imagelosses.PixelCrossEntropyLoss": lambda: ours(logits, target, pixel_map)}
    return timed_rows("weighted_cross_entropy", case, losses, logits, repeats=repeats)


def bench_cross_entropy(quick: bool) -> str:
    shapes = [(8, 5, 128, 128)] if quick else [(8, 5, 128, 128), (4, 21, 256, 256)]
    rows = [row for shape in shapes for row in _cross_entropy_rows(shape, 5 if quick else 9)]
    rows = with_ratios(rows, BASELINE_CE)
    notes = ("Both compute the same value (checked); ours also validates the class indices (one aminmax pass), "
             "which is most of the difference at the small size. Median of three interleaved medians per "
             f"implementation. CPU threads: {torch.get_num_threads()}.")
    return write("cross_entropy", rows, "Class-weighted + pixel-weighted cross-entropy, CPU", BASELINE_CE, notes)


def main(argv: list[str] | None = None) -> None:
    quick = quick_flag(__doc__, argv)
    print(bench_weight_map(quick))
    print(bench_cross_entropy(quick))


if __name__ == "__main__":
    main()
