"""Metric-learning benchmark: TripletLoss (batch-hard, semi-hard, batch-all) against pytorch-metric-learning
configured to the same semantics, forward + backward, D = 128, P×K batches with K = 4.

Peer configurations (same distance: L2-normalised squared euclidean, ``LpDistance(normalize_embeddings=True,
p=2, power=2)``; ``TripletMarginLoss(margin=0.2)`` with a ``MeanReducer``):

- hard: ``BatchHardMiner`` ↔ ``TripletLoss(mining="hard")``; identical values.
- all: ``TripletMarginMiner(type_of_triplets="all")`` (the triplets that violate the margin) + mean ↔
  ``TripletLoss(mining="all", average_over="nonzero")`` (Hermans' mean over non-zero triplets); identical values.
- semihard: ``TripletMarginMiner(type_of_triplets="semihard")`` (every triplet with
  0 < d_an − d_ap ≤ margin) + mean ↔ ``TripletLoss(mining="semihard")`` (FaceNet/TF-Addons: one negative per
  anchor-positive pair). Same work (find the semi-hard negatives) but not the same set of triplets, so
  the values differ.

The peer's miners build B×B×B masks (``B³`` bytes as bool, more as indices): at B = 4096 that is 64 GiB,
so those rows are skipped and the table says what they would need.

Run: ``python benchmarks/bench_metric.py [--quick] [--threads N]`` (``--quick``: B = 256 only; CPU runs use one
thread unless ``--threads`` says otherwise, both implementations alike).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from benchmarks._common import Row, peak_memory_mb, quick_and_threads, seed_all, time_median, with_ratios, write
from imagelosses.embedding import TripletLoss

D, K, MARGIN = 128, 4, 0.2
PEER = "pytorch-metric-learning"
OURS = "imagelosses"
# The peer's all-triplets mask is B³ booleans; skip it where that alone exceeds this many bytes.
PEER_MASK_LIMIT = 8 * 2**30


def _peer(strategy: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    from pytorch_metric_learning import distances, losses, miners, reducers

    dist = distances.LpDistance(normalize_embeddings=True, p=2, power=2)
    loss = losses.TripletMarginLoss(margin=MARGIN, distance=dist, reducer=reducers.MeanReducer())
    if strategy == "hard":
        miner = miners.BatchHardMiner(distance=dist)
    else:
        miner = miners.TripletMarginMiner(margin=MARGIN, type_of_triplets=strategy, distance=dist)
    return lambda x, y: loss(x, y, miner(x, y))


def _ours(strategy: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    average_over = "nonzero" if strategy == "all" else "valid"
    return TripletLoss(mining=strategy, margin=MARGIN, distance="squared_euclidean", normalize=True,
                       average_over=average_over)


def _step(loss: Callable, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        x.grad = None
        loss(x, y).backward()
    return run


def bench(quick: bool) -> tuple[list[Row], list[str]]:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows, notes = [], []
    for b in (256,) if quick else (256, 1024, 4096):
        seed_all(0)
        x = torch.randn(b, D, device=device, requires_grad=True)
        y = torch.arange(b // K, device=device).repeat_interleave(K)
        y = y[torch.randperm(b, device=device)]
        for strategy in ("hard", "semihard", "all"):
            case = f"{strategy}, B={b}"
            heavy = b >= 1024 and device == "cpu"
            timing = {"warmup": 1, "repeats": 3} if heavy else {"warmup": 2, "repeats": 7}
            impls = {OURS: _ours(strategy)}
            if strategy == "hard" or b**3 <= PEER_MASK_LIMIT:
                impls[PEER] = _peer(strategy)
            else:
                notes.append(f"- {case}: {PEER} skipped: its B×B×B triplet mask alone would need "
                             f"{b**3 / 2**30:.0f} GiB (plus 3 int64 index tensors over the mined triplets).")
            values = {}
            for impl, loss in impls.items():
                values[impl] = loss(x, y).item()
                fn = _step(loss, x, y)
                rows.append(Row("triplet", case, impl, time_median(fn, **timing), peak_mb=peak_memory_mb(fn),
                                extra={"loss": values[impl], "device": device}))
            if len(values) == 2 and strategy != "semihard":
                diff = abs(values[OURS] - values[PEER])
                notes.append(f"- {case}: |ours − peer| loss = {diff:.1e}")
                if diff > 1e-4 * max(1.0, abs(values[PEER])):
                    raise RuntimeError(f"{case}: values differ: {values}")
    return with_ratios(rows, PEER), notes


def main(argv: list[str] | None = None) -> str:
    quick = quick_and_threads(__doc__, argv, help="B = 256 only")
    rows, notes = bench(quick)
    device = rows[0].extra["device"]
    title = f"Triplet loss with online mining, D = {D}, P×K batches (K = {K}), forward + backward, {device}"
    semantics = ("Semantics: hard = BatchHardMiner; all = batch-all averaged over non-zero triplets (peer: "
                 "TripletMarginMiner 'all' + MeanReducer); semihard: peer keeps every semi-hard triplet, ours one "
                 "negative per anchor-positive pair (FaceNet / TF-Addons), so those values differ. "
                 f"CPU threads: {torch.get_num_threads()}.")
    table = write("metric", rows, title, PEER, notes=semantics + "\n\n" + "\n".join(notes))
    print(table)
    return table


if __name__ == "__main__":
    main()
