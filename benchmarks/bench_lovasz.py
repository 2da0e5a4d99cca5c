"""Lovász-softmax: ``imagelosses.LovaszSoftmaxLoss(per_image=True, classes="all")`` against kornia's
``lovasz_softmax_loss`` (the same loss: per-image sort, mean over all classes), forward + backward from logits.

Run: ``python -m benchmarks.bench_lovasz [--quick] [--threads N]`` (CPU runs use one thread unless ``--threads``
says otherwise, both implementations alike). Method in benchmarks/README.md. Writes results/lovasz.{json,md}.
"""

from __future__ import annotations

import torch

from benchmarks._common import Row, quick_and_threads, seed_all, timed_rows, with_ratios, write
from imagelosses import LovaszSoftmaxLoss

BASELINE = "kornia.losses.lovasz_softmax_loss"


def _rows(shape: tuple[int, int, int, int], repeats: int) -> list[Row]:
    from kornia.losses import lovasz_softmax_loss

    n, c, h, w = shape
    seed_all(0)
    logits = torch.randn(n, c, h, w, requires_grad=True)
    target = torch.randint(0, c, (n, h, w))
    ours = LovaszSoftmaxLoss(per_image=True, classes="all")
    losses = {BASELINE: lambda: lovasz_softmax_loss(logits, target),
              "imagelosses.LovaszSoftmaxLoss": lambda: ours(logits, target)}
    return timed_rows("lovasz_softmax", f"{n}×{c}×{h}×{w}, fwd+bwd", losses, logits, repeats=repeats, rtol=1e-5)


def main(argv: list[str] | None = None) -> None:
    quick = quick_and_threads(__doc__, argv, help="the smallest shape only")
    shapes = [(4, 5, 64, 64)] if quick else [(4, 5, 64, 64), (8, 5, 128, 128), (4, 21, 256, 256)]
    rows = with_ratios([row for shape in shapes for row in _rows(shape, 3 if quick else 5)], BASELINE)
    notes = ("Both compute the same value (checked to 1e-5 before timing); both sort each image's and class's "
             "errors, which is most of the time. On the CPU ours sorts all rows as one 1-D int64 key (row, float32 "
             "bits of the error), which torch sorts by radix sort, then takes the Jaccard weights in closed form "
             "from exact counts; it also checks the class indices (one aminmax pass). Median of three interleaved "
             f"medians per implementation. CPU threads: {torch.get_num_threads()}.")
    print(write("lovasz", rows, "Lovász-softmax, per image, all classes, forward + backward, CPU", BASELINE, notes))


if __name__ == "__main__":
    main()
