"""Two gloo processes on CPU: with ``gather=True`` the loss and each rank's gradient equal the
single-process result on the concatenated batch (unequal batch sizes across ranks included): triplet,
contrastive, SupCon and NT-Xent (both views of each rank's images)."""

from __future__ import annotations

import os
import re
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from imagelosses.embedding import (
    ContrastiveLoss,
    NTXentLoss,
    SupConLoss,
    TripletLoss,
    contrastive_loss,
    gather_batch,
    is_distributed,
    nt_xent_loss,
)

SIZES = (7, 5)  # rank 0 holds 7 rows, rank 1 holds 5


def _global_batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(sum(SIZES), 6, generator=g, dtype=torch.float64), torch.randint(0, 3, (sum(SIZES),),
                                                                                       generator=g)


def _losses() -> list[tuple[str, torch.nn.Module, torch.nn.Module]]:
    out = []
    for mining in ("all", "hard", "semihard"):
        for kw in ({}, {"average_over": "nonzero", "distance": "euclidean"}):
            out.append((f"triplet-{mining}-{kw}", TripletLoss(mining=mining, gather=True, **kw),
                        TripletLoss(mining=mining, **kw)))
    out.append(("contrastive", ContrastiveLoss(gather=True), ContrastiveLoss()))
    for tau in (0.1, 0.01):
        out.append((f"supcon-{tau}", SupConLoss(temperature=tau, gather=True), SupConLoss(temperature=tau)))
    return out


def _worker(rank: int, world: int, port: int) -> None:
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        assert is_distributed()
        x, y = _global_batch()
        start, stop = sum(SIZES[:rank]), sum(SIZES[: rank + 1])
        for name, gathered, single in _losses():
            mine = x[start:stop].clone().requires_grad_()
            loss = gathered(mine, y[start:stop])
            loss.backward()
            full = x.clone().requires_grad_()
            ref = single(full, y)
            ref.backward()
            torch.testing.assert_close(loss, ref, msg=lambda m, n=name: f"rank {rank} {n} value: {m}")
            torch.testing.assert_close(mine.grad, full.grad[start:stop],
                                       msg=lambda m, n=name: f"rank {rank} {n} gradient: {m}")
        # NT-Xent: each rank holds both views of its own images; the similarity matrix spans every rank's views
        z2_global = x.flip(0) + 0.3 * x
        for name, kw in (("nt_xent", {}), ("nt_xent-module-none", {"reduction": "none"})):
            a, b = x[start:stop].clone().requires_grad_(), z2_global[start:stop].clone().requires_grad_()
            loss = NTXentLoss(gather=True, temperature=0.2, **kw)(a, b)
            loss.sum().backward()
            fa, fb = x.clone().requires_grad_(), z2_global.clone().requires_grad_()
            ref = nt_xent_loss(fa, fb, temperature=0.2, **kw)
            ref.sum().backward()
            torch.testing.assert_close(loss, ref, msg=lambda m, n=name: f"rank {rank} {n} value: {m}")
            torch.testing.assert_close(a.grad, fa.grad[start:stop], msg=lambda m, n=name: f"rank {rank} {n} z1: {m}")
            torch.testing.assert_close(b.grad, fb.grad[start:stop], msg=lambda m, n=name: f"rank {rank} {n} z2: {m}")
        # labels gathered in rank order; an empty rank works; ranks with different label dtypes agree on long
        e = x[start:stop] if rank == 0 else x[:0]
        ge, gl = gather_batch(e, y[start:stop] if rank == 0 else y[:0].int())
        torch.testing.assert_close(ge, x[: SIZES[0]])
        assert torch.equal(gl, y[: SIZES[0]]) and gl.dtype == torch.long
        _, gl = gather_batch(x[start:stop], y[start:stop].int() if rank else y[start:stop].to(torch.int16))
        assert torch.equal(gl, y) and gl.dtype == torch.long
        # pair-form contrastive (bool target) and batch-hard triplet with gather, rank 1 empty
        keep = slice(0, sum(SIZES)) if rank == 0 else slice(0, 0)
        t = (y % 2).bool()
        for name, fn in (("pairs", lambda a, b, lab: contrastive_loss(a, b, (lab % 2).bool(), gather=True)),
                         ("hard", lambda a, b, lab: TripletLoss(mining="hard", gather=True)(a, lab))):
            a, b = x[keep].clone().requires_grad_(), x.flip(0)[keep].clone().requires_grad_()
            loss = fn(a, b, y[keep])
            loss.backward()
            fa, fb = x.clone().requires_grad_(), x.flip(0).clone().requires_grad_()
            ref = contrastive_loss(fa, fb, t) if name == "pairs" else TripletLoss(mining="hard")(fa, y)
            ref.backward()
            torch.testing.assert_close(loss, ref, msg=lambda m, n=name: f"rank {rank} empty-rank {n}: {m}")
            grad = a.grad if a.grad is not None else torch.zeros_like(a)
            torch.testing.assert_close(grad, fa.grad[keep], msg=lambda m, n=name: f"rank {rank} {n} grad: {m}")
        dist.barrier()  # no rank tears its group down while the other still talks to it (gloo aborts the process)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_gloo_matches_single_process():
    mp.spawn(_worker, args=(2, _free_port()), nprocs=2, join=True)


def test_labels_on_the_meta_device():
    """Meta is the only other device a CPU machine has: it is refused as a tensor without data, by name."""
    x, y = _global_batch()
    meta = "expected a tensor with data (meta tensors carry only a shape), got a tensor on the meta device"
    with pytest.raises(ValueError, match=re.escape("labels: " + meta)):
        TripletLoss()(x, y.to("meta"))
    with pytest.raises(ValueError, match=re.escape("target: " + meta)):
        contrastive_loss(x, x, y.to("meta"))


def test_single_process_is_a_no_op():
    x, y = _global_batch()
    assert not is_distributed()
    ge, gl = gather_batch(x, y)
    assert ge is x and gl is y
