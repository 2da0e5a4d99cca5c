"""ContrastiveLoss (Hadsell 2006): harness for pairs and for a labelled batch, naive loops, closed forms."""

from __future__ import annotations

import math
from typing import ClassVar

import pytest
import torch

from imagelosses.embedding import ContrastiveLoss, batch_contrastive_loss, contrastive_loss
from tests._harness import BadInput, BadOption, LossCase, StandardLossTests


def _pairs(dtype, seed, scale):
    g = torch.Generator().manual_seed(seed)
    x1, x2 = ((torch.randn(8, 5, generator=g, dtype=torch.float64) * scale).to(dtype) for _ in range(2))
    return x1, x2, torch.randint(0, 2, (8,), generator=g)


def _batch(dtype, seed, scale):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(10, 5, generator=g, dtype=torch.float64) * scale).to(dtype), torch.randint(0, 3, (10,),
                                                                                                    generator=g)


_OPTIONS = [
    BadOption("margin", {"margin": float("nan")}, ValueError, "margin: expected a finite number > 0.0, got nan"),
    BadOption("gather as string", {"gather": "False"}, TypeError,
              "gather: expected a bool (True or False), got 'False'"),
    BadOption("distance", {"distance": "l1"}, ValueError,
              "distance: expected one of 'euclidean', 'squared_euclidean', 'cosine', got 'l1'"),
]
_BATCH_BAD = [
    BadInput("float labels", lambda i: ((i[0], i[1].float()), {}), TypeError,
             "labels: expected an integer tensor (torch.long), got dtype torch.float32"),
    BadInput("embeddings 1-D", lambda i: ((i[0][:, 0], i[1]), {}), ValueError,
             "embeddings: expected a tensor of shape (B, D), got shape (10,)"),
    BadInput("labels short", lambda i: ((i[0], i[1][:4]), {}), ValueError,
             "labels: expected shape (B,) with B = 10 as in embeddings (10, 5), got shape (4,)"),
]


class TestContrastiveStandard(StandardLossTests):
    cases: ClassVar[list[LossCase]] = [
        LossCase(name="pairs", functional=contrastive_loss, module=ContrastiveLoss, make_inputs=_pairs,
                 grad_argnums=(0, 1), batch_args=(0, 1, 2), none_shape=lambda i: (i[0].shape[0],),
                 identical=lambda i: (i[0], i[0], torch.ones_like(i[2])),
                 bad_inputs=[
                     BadInput("float target", lambda i: ((i[0], i[1], i[2].float()), {}), TypeError,
                              "target: expected a bool or integer tensor (1 = similar, 0 = dissimilar), "
                              "got dtype torch.float32"),
                     BadInput("target shape", lambda i: ((i[0], i[1], i[2][:3]), {}), ValueError,
                              "target: expected shape (N,) with N = 8 as in x1 (8, 5), got shape (3,)"),
                     BadInput("x2 shape", lambda i: ((i[0], i[1][:, :2], i[2]), {}), ValueError,
                              "x2: expected shape matching x1 (8, 5), got (8, 2)"),
                     BadInput("margin", lambda i: (i, {"margin": 0.0}), ValueError,
                              "margin: expected a finite number > 0.0, got 0.0"),
                 ], bad_options=_OPTIONS),
        LossCase(name="batch", functional=batch_contrastive_loss, module=ContrastiveLoss, make_inputs=_batch,
                 batch_args=(0, 1), none_shape=lambda i: (i[0].shape[0] * (i[0].shape[0] - 1) // 2,),
                 bad_inputs=_BATCH_BAD, bad_options=_OPTIONS),
        LossCase(name="batch-sq-normalized", functional=batch_contrastive_loss, module=ContrastiveLoss,
                 make_inputs=_batch, kwargs={"distance": "squared_euclidean", "normalize": True, "margin": 0.5},
                 bad_inputs=_BATCH_BAD, bad_options=_OPTIONS),
    ]


@pytest.mark.parametrize("margin", [1.0, 2.5])
def test_batch_against_naive_loop(margin):
    x, y = _batch(torch.float64, 3, 1.0)
    expect = []
    for i in range(10):
        for j in range(i + 1, 10):
            d = math.sqrt(sum((u - v) ** 2 for u, v in zip(x[i].tolist(), x[j].tolist(), strict=True)))
            sim = int(y[i]) == int(y[j])
            expect.append(0.5 * d * d if sim else 0.5 * max(0.0, margin - d) ** 2)
    none = batch_contrastive_loss(x, y, margin=margin, reduction="none")
    torch.testing.assert_close(none, torch.tensor(expect, dtype=torch.float64))
    torch.testing.assert_close(batch_contrastive_loss(x, y, margin=margin),
                               torch.tensor(sum(expect) / 45, dtype=torch.float64))
    # the batch form equals the pair form on the enumerated pairs
    i, j = torch.triu_indices(10, 10, 1)
    torch.testing.assert_close(contrastive_loss(x[i], x[j], y[i] == y[j], margin=margin, reduction="none"), none)
    # the module dispatches on the number of arguments
    m = ContrastiveLoss(margin=margin)
    torch.testing.assert_close(m(x, y), batch_contrastive_loss(x, y, margin=margin))
    torch.testing.assert_close(m(x[i], x[j], (y[i] == y[j]).long()), none.mean())


def test_closed_forms():
    x = torch.zeros(4, 3, requires_grad=True)
    # dissimilar pairs at distance 0 cost ½·m²; similar ones 0; finite zero gradient at D = 0
    out = contrastive_loss(x, x.detach(), torch.tensor([0, 0, 1, 1]), margin=2.0, reduction="none")
    torch.testing.assert_close(out, torch.tensor([2.0, 2.0, 0.0, 0.0]))
    (g,) = torch.autograd.grad(out.sum(), x)
    assert torch.isfinite(g).all()
    far = torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0]])
    assert float(contrastive_loss(*far, torch.tensor([0]), margin=5.0)) == 0.0  # exactly at the margin
    assert float(contrastive_loss(*far, torch.tensor([1]))) == pytest.approx(12.5)  # ½·5²
