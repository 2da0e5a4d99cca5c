"""Contrastive representation losses: NT-Xent (SimCLR) and SupCon (L_out) against pytorch-metric-learning,
forward + backward, D = 128, B = 1024 and 4096 embeddings.

Peer configurations (values checked equal before timing, :func:`benchmarks._common.timed_rows`):

- supcon: ``losses.SupConLoss(temperature=0.1)`` ↔ ``SupConLoss(temperature=0.1)``; labels of B/4 classes, 4 each.
- nt-xent: B = 2N embeddings ``cat(z1, z2)`` with labels ``cat(arange(N), arange(N))``.
  ``losses.NTXentLoss(temperature=0.5)`` builds a (#positive pairs) × (#negative pairs) matrix, 2N × 2N(2N − 2)
  floats: 64 MiB at B = 256 (about 1 s a step on one CPU thread), 4 GiB at B = 1024 (several such temporaries at
  once), 256 GiB at B = 4096, so it runs at B = 256 only; at every size its ``SupConLoss`` on the same labels
  computes the same value from a (B, B) matrix and is the peer row.

Run: ``python -m benchmarks.bench_contrastive [--quick] [--threads N]`` (``--quick``: B = 256 only; CPU runs use
one thread unless ``--threads`` says otherwise, every implementation alike).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from benchmarks._common import Row, quick_and_threads, seed_all, timed_rows, with_ratios, write
from imagelosses.embedding import NTXentLoss, SupConLoss

D, K = 128, 4
OURS = "imagelosses"
PEER = "pytorch-metric-learning"
PEER_NTXENT = "pytorch-metric-learning NTXentLoss"
# pytorch-metric-learning's NTXentLoss: skip it where its (pos pairs × neg pairs) float32 matrix exceeds this
NTXENT_LIMIT = 256 * 2**20


def _cases(b: int, device: str) -> list[tuple[str, torch.Tensor, torch.Tensor, dict[str, Callable[[], torch.Tensor]],
                                           list[str]]]:
    from pytorch_metric_learning import losses

    seed_all(0)
    x = torch.randn(b, D, device=device, requires_grad=True)
    classes = torch.arange(b // K, device=device).repeat_interleave(K)
    classes = classes[torch.randperm(b, device=device)]
    ours_sc, peer_sc = SupConLoss(temperature=0.1), losses.SupConLoss(temperature=0.1)
    out = [(f"supcon, B={b}", x, classes, {OURS: lambda: ours_sc(x, classes), PEER: lambda: peer_sc(x, classes)}, [])]

    n = b // 2
    views = torch.cat([torch.arange(n, device=device)] * 2)
    ours_nt = NTXentLoss(temperature=0.5)
    peer_as_supcon = losses.SupConLoss(temperature=0.5)
    impls: dict[str, Callable[[], torch.Tensor]] = {
        OURS: lambda: ours_nt(x[:n], x[n:]), PEER: lambda: peer_as_supcon(x, views)}
    notes = []
    need = b * b * (b - 2) * 4
    if need <= NTXENT_LIMIT:
        peer_nt = losses.NTXentLoss(temperature=0.5)
        impls[PEER_NTXENT] = lambda: peer_nt(x, views)
    else:
        notes.append(f"- nt-xent, B={b}: {PEER_NTXENT} skipped: its (positive pairs × negative pairs) matrix alone "
                     f"would need {need / 2**30:.0f} GiB in float32; the {PEER} row is its SupConLoss on the same "
                     "labels (the same value).")
    out.append((f"nt-xent, B={b}", x, views, impls, notes))
    return out


def bench(quick: bool) -> tuple[list[Row], list[str]]:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows: list[Row] = []
    notes: list[str] = []
    for b in (256,) if quick else (256, 1024, 4096):
        for case, x, _, impls, case_notes in _cases(b, device):
            repeats = 3 if b >= 4096 and device == "cpu" else 5
            new = timed_rows("contrastive", case, impls, x, repeats=repeats, rounds=3)
            for r in new:
                r.extra["device"] = device
            rows.extend(new)
            values = {r.impl: r.extra["loss"] for r in new}
            notes.append(f"- {case}: |ours − peer| loss = {abs(values[OURS] - values[PEER]):.1e}"
                         + (f", |ours − NTXentLoss| = {abs(values[OURS] - values[PEER_NTXENT]):.1e}"
                            if PEER_NTXENT in values else ""))
            notes.extend(case_notes)
    return with_ratios(rows, PEER), notes


def main(argv: list[str] | None = None) -> str:
    quick = quick_and_threads(__doc__, argv, help="B = 256 only")
    rows, notes = bench(quick)
    device = rows[0].extra["device"]
    title = f"NT-Xent and SupCon, D = {D}, forward + backward, {device}"
    semantics = ("Semantics: supcon = SupCon L_out, τ = 0.1, B/4 classes of 4; nt-xent = SimCLR's loss, τ = 0.5, "
                 "B = 2N views; ratios against pytorch-metric-learning's SupConLoss (the same value for both). "
                 f"CPU threads: {torch.get_num_threads()}.")
    table = write("contrastive", rows, title, PEER, notes=semantics + "\n\n" + "\n".join(notes))
    print(table)
    return table


if __name__ == "__main__":
    main()
