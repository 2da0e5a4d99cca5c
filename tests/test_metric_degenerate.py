"""Distances and the no-NaN guarantee: a hypothesis corpus of degenerate batches for every metric loss."""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagelosses.embedding import (
    batch_contrastive_loss,
    contrastive_loss,
    l2_normalize,
    mine_triplets,
    pairwise_distances,
    row_distances,
    triplet_loss,
)


def test_pairwise_matches_cdist_and_cosine():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(9, 7, generator=g, dtype=torch.float64) * 3 + 5  # off-centre: tests the centring
    torch.testing.assert_close(pairwise_distances(x, distance="euclidean"), torch.cdist(x, x).fill_diagonal_(0))
    torch.testing.assert_close(pairwise_distances(x), torch.cdist(x, x).square().fill_diagonal_(0))
    xn = torch.nn.functional.normalize(x, dim=1)
    torch.testing.assert_close(pairwise_distances(x, normalize=True), torch.cdist(xn, xn).square().fill_diagonal_(0))
    cos = 1 - torch.nn.functional.cosine_similarity(x[:, None], x[None], dim=-1)
    torch.testing.assert_close(pairwise_distances(x, distance="cosine"), cos.fill_diagonal_(0))
    for distance in ("euclidean", "squared_euclidean", "cosine"):
        torch.testing.assert_close(row_distances(x[:4], x[4:8], distance=distance),
                                   pairwise_distances(x[:8], distance=distance)[torch.arange(4), torch.arange(4, 8)])


def test_euclidean_zero_distance_has_finite_zero_gradient():
    x = torch.tensor([[1.0, 2.0], [1.0, 2.0], [4.0, 6.0]], requires_grad=True)
    d = pairwise_distances(x, distance="euclidean")
    assert d[0, 1] == 0.0 and d[0, 2] == 5.0
    (g,) = torch.autograd.grad(d[0, 1] + d[1, 0], x)
    assert torch.equal(g, torch.zeros_like(g))
    (g,) = torch.autograd.grad(row_distances(x[:1], x[1:2]).sum(), x)
    assert torch.equal(g, torch.zeros_like(g))


def test_documented_precision_floor():
    """The float32 Gram route errs on d² by at most 16·ε·(‖c_i‖² + ‖c_j‖²) (module docstring); float64 input
    and row_distances resolve near-duplicates 1e-4 apart."""
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(16, 128, generator=g), dim=1)
    for i, delta in enumerate((1e-2, 1e-3, 1e-4, 1e-5)):
        x[2 * i + 1] = x[2 * i] + delta * torch.randn(128, generator=g) / 128**0.5
    exact = torch.cdist(x.double(), x.double()).square()
    c = (x.double() - x.double().mean(0)).square().sum(1)
    bound = 16 * torch.finfo(torch.float32).eps * (c[:, None] + c[None, :])
    assert ((pairwise_distances(x).double() - exact).abs() <= bound).all()
    for i in range(4):
        d64 = pairwise_distances(x.double(), distance="euclidean")[2 * i, 2 * i + 1]
        torch.testing.assert_close(d64, exact[2 * i, 2 * i + 1].sqrt(), rtol=1e-4, atol=0)
        torch.testing.assert_close(row_distances(x[2 * i:2 * i + 1], x[2 * i + 1:2 * i + 2]).double()[0],
                                   exact[2 * i, 2 * i + 1].sqrt(), rtol=1e-3, atol=0)


def test_accumulators_avoid_float64_on_mps():
    from imagelosses._core.dtypes import wide_dtype

    assert wide_dtype(torch.device("mps")) == torch.float32
    assert wide_dtype(torch.device("cpu")) == torch.float64
    x, y = torch.randn(6, 3, dtype=torch.float64, requires_grad=True), torch.tensor([0, 0, 1, 1, 2, 2])
    torch.autograd.gradcheck(lambda e: triplet_loss(e, y, mining="all", soft_margin=True), (x,))


def test_l2_normalize_zero_vector():
    x = torch.tensor([[0.0, 0.0, 0.0], [3.0, 0.0, 4.0]], requires_grad=True)
    y = l2_normalize(x)
    torch.testing.assert_close(y, torch.tensor([[0.0, 0.0, 0.0], [0.6, 0.0, 0.8]]))
    (g,) = torch.autograd.grad(y.sum(), x)
    assert torch.isfinite(g).all() and torch.equal(g[0], torch.zeros(3))
    torch.testing.assert_close(y[1:], torch.nn.functional.normalize(x[1:].detach(), dim=1))


_EMB = st.sampled_from(["random", "identical", "zeros", "huge", "tiny", "duplicated"])
_LAB = st.sampled_from(["random", "all_equal", "all_distinct", "pairs"])


def _degenerate(b: int, emb: str, lab: str, seed: int, huge: float = 1e15) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 4, generator=g)
    if emb == "identical":
        x = x[:1].expand(b, 4).clone() if b else x
    elif emb == "zeros":
        x = torch.zeros(b, 4)
    elif emb == "huge":
        x = x * huge  # the documented valid range (imagelosses.embedding.distances)
    elif emb == "tiny":
        x = x * 1e-30
    elif emb == "duplicated" and b:
        x = x[torch.arange(b) // 2]
    labels = {
        "random": torch.randint(0, 3, (b,), generator=g),
        "all_equal": torch.zeros(b, dtype=torch.long),
        "all_distinct": torch.arange(b),
        "pairs": torch.arange(b) // 2,
    }[lab]
    return x.requires_grad_(), labels


def _no_triplet(labels: torch.Tensor) -> bool:
    if labels.numel() < 3:
        return True
    counts = torch.bincount(labels)
    return bool((counts.max() < 2) or (counts > 0).sum() < 2)


_HYPO = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_HYPO
@given(b=st.sampled_from([0, 1, 2, 3, 6]), emb=_EMB, lab=_LAB, seed=st.integers(0, 1000),
       mining=st.sampled_from(["all", "hard", "semihard"]),
       distance=st.sampled_from(["euclidean", "squared_euclidean", "cosine"]),
       normalize=st.booleans(), soft=st.booleans(), average=st.sampled_from(["valid", "nonzero"]))
def test_triplet_never_nan(b, emb, lab, seed, mining, distance, normalize, soft, average):
    x, y = _degenerate(b, emb, lab, seed)
    s = triplet_loss(x, y, mining=mining, distance=distance, normalize=normalize, soft_margin=soft,
                     average_over=average, return_stats=True)
    (g,) = torch.autograd.grad(s.loss, x, allow_unused=True, materialize_grads=True)
    assert torch.isfinite(s.loss) and torch.isfinite(g).all()
    assert torch.isfinite(s.fraction_active)
    if _no_triplet(y):
        assert s.loss.item() == 0.0 and int(s.num_triplets) == 0
        assert torch.equal(g, torch.zeros_like(g))
    a, p, n = mine_triplets(x, y, mining=mining, margin=0.2, distance=distance, normalize=normalize)
    assert a.numel() == p.numel() == n.numel()
    if a.numel():
        assert bool((y[a] == y[p]).all() and (a != p).all() and (y[a] != y[n]).all())


@_HYPO
@given(b=st.sampled_from([0, 1, 2, 5]), emb=_EMB, lab=_LAB, seed=st.integers(0, 1000),
       distance=st.sampled_from(["euclidean", "squared_euclidean", "cosine"]), normalize=st.booleans())
def test_contrastive_never_nan(b, emb, lab, seed, distance, normalize):
    # squared-euclidean contrastive squares d² again: its documented range is 1e8
    x, y = _degenerate(b, emb, lab, seed, huge=1e8 if distance == "squared_euclidean" else 1e15)
    out = batch_contrastive_loss(x, y, distance=distance, normalize=normalize)
    half = b // 2
    out = out + contrastive_loss(x[:half], x[half:2 * half], y[:half] % 2, distance=distance, normalize=normalize)
    (g,) = torch.autograd.grad(out, x, allow_unused=True, materialize_grads=True)
    assert torch.isfinite(out) and torch.isfinite(g).all()
    if b <= 1:
        assert out.item() == 0.0
