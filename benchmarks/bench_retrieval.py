"""Retrieval benchmark: ``imagelosses.metrics.recall_at_k`` against pytorch-metric-learning's
``AccuracyCalculator(include=("precision_at_1",))`` with its torch k-NN (``CustomKNN(LpDistance)``; faiss is
not installed), on the same L2-normalised embeddings, Recall@1 = precision@1 (checked equal before timing).

Run: ``python -m benchmarks.bench_retrieval [--quick]``. Method in benchmarks/README.md.
"""

from __future__ import annotations

import torch
from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
from pytorch_metric_learning.utils.inference import CustomKNN

from benchmarks._common import Row, peak_memory_mb, quick_flag, seed_all, time_median, with_ratios, write
from imagelosses.metrics import recall_at_k

PEER = "pytorch-metric-learning AccuracyCalculator"
OURS = "imagelosses.metrics.recall_at_k"
D = 128


def bench(quick: bool) -> str:
    rows: list[Row] = []
    peer = AccuracyCalculator(include=("precision_at_1",), k=1,
                              knn_func=CustomKNN(LpDistance(normalize_embeddings=True)))
    for n in (1024,) if quick else (1024, 4096):
        seed_all(0)
        x = torch.randn(n, D)
        labels = torch.randint(0, n // 8, (n,))
        case = f"N={n}, D={D}, {n // 8} classes, Recall@1"
        fns = {PEER: lambda x=x, labels=labels: peer.get_accuracy(x, labels)["precision_at_1"],
               OURS: lambda x=x, labels=labels: recall_at_k(x, labels)}
        values = {impl: float(fn()) for impl, fn in fns.items()}
        if abs(values[PEER] - values[OURS]) > 1e-9:
            raise RuntimeError(f"{case}: not the same value: {values}")
        for impl, fn in fns.items():
            rows.append(Row("recall_at_1", case, impl, time_median(fn, warmup=1, repeats=3 if quick else 7),
                            peak_mb=peak_memory_mb(fn), extra={"value": values[impl]}))
    rows = with_ratios(rows, PEER)
    notes = (f"Same value (checked): both leave out queries whose label no other sample has. CPU threads: "
             f"{torch.get_num_threads()}. Ours: one float32 matrix product (`neighbour_scores`) and an argmin "
             "per row in blocks of 1,024 queries (a top-k for k > 1; ties go to the lower index).")
    return write("retrieval", rows, "Recall@1 of L2-normalised embeddings, CPU", PEER, notes)


def main(argv: list[str] | None = None) -> None:
    print(bench(quick_flag(__doc__, argv)))


if __name__ == "__main__":
    main()
