"""TripletLoss / triplet_margin_loss / mine_triplets: the standard harness, naive loops over every triplet,
torch.nn.TripletMarginLoss, pytorch-metric-learning, closed forms, stats and errors."""

from __future__ import annotations

import math
import re
from typing import ClassVar

import pytest
import torch

from imagelosses.embedding import OfflineTripletLoss, TripletLoss, mine_triplets, triplet_loss, triplet_margin_loss
from imagelosses.embedding.distances import pairwise_distances
from tests._harness import BadInput, BadOption, LossCase, StandardLossTests


def _labelled(dtype: torch.dtype, seed: int, scale: float, b: int = 12, d: int = 5, classes: int = 4):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(b, d, generator=g, dtype=torch.float64) * scale).to(dtype)
    y = torch.randint(0, classes, (b,), generator=g)
    return x, y


_BAD_TRIPLET = [
    BadInput("float labels", lambda i: ((i[0], i[1].float()), {}), TypeError,
             "labels: expected an integer tensor (torch.long), got dtype torch.float32"),
    BadInput("labels 2-D", lambda i: ((i[0], i[1][:, None]), {}), ValueError,
             "labels: expected shape (B,) with B = 12 as in embeddings (12, 5), got shape (12, 1)"),
    BadInput("labels short", lambda i: ((i[0], i[1][:5]), {}), ValueError,
             "labels: expected shape (B,) with B = 12 as in embeddings (12, 5), got shape (5,)"),
    BadInput("embeddings 3-D", lambda i: ((i[0][:, :, None], i[1]), {}), ValueError,
             "embeddings: expected a tensor of shape (B, D), got shape (12, 5, 1)"),
    BadInput("integer embeddings", lambda i: ((i[0].long(), i[1]), {}), TypeError,
             "embeddings: expected a floating-point tensor, got dtype torch.int64"),
    BadInput("margin 0", lambda i: (i, {"margin": 0.0}), ValueError, "margin: expected a finite number > 0.0, got 0.0"),
    BadInput("margin < 0", lambda i: (i, {"margin": -1}), ValueError, "margin: expected a finite number > 0.0, got -1"),
    BadInput("unknown mining", lambda i: (i, {"mining": "hardest"}), ValueError,
             "mining: expected one of 'all', 'hard', 'semihard', got 'hardest'"),
    BadInput("unknown distance", lambda i: (i, {"distance": "l1"}), ValueError,
             "distance: expected one of 'euclidean', 'squared_euclidean', 'cosine', got 'l1'"),
    BadInput("unknown average_over", lambda i: (i, {"average_over": "all"}), ValueError,
             "average_over: expected one of 'valid', 'nonzero', got 'all'"),
]


_TRIPLET_OPTIONS = [
    BadOption("margin inf", {"margin": float("inf")}, ValueError, "margin: expected a finite number > 0.0, got inf"),
    BadOption("mining", {"mining": "hardest"}, ValueError,
              "mining: expected one of 'all', 'hard', 'semihard', got 'hardest'"),
    BadOption("normalize as string", {"normalize": "False"}, TypeError,
              "normalize: expected a bool (True or False), got 'False'"),
    BadOption("fallback", {"semihard_fallback": "hardest"}, ValueError,
              "semihard_fallback: expected one of 'easiest', 'drop', got 'hardest'"),
]


def _triplet_case(name: str, **kwargs) -> LossCase:
    def none_shape(inputs):
        opts = {k: v for k, v in kwargs.items() if k in ("distance", "normalize", "semihard_fallback")}
        return (mine_triplets(*inputs, mining=kwargs.get("mining", "all"), margin=0.2, **opts)[0].numel(),)

    mean_of = None
    if kwargs.get("average_over") == "nonzero":
        def mean_of(none, inputs):
            return none.sum() / (none > 0).sum().clamp_min(1)
    return LossCase(name=name, functional=triplet_loss, module=TripletLoss, make_inputs=_labelled,
                    kwargs=kwargs, none_shape=none_shape, mean_of=mean_of, batch_args=(0, 1),
                    bad_inputs=_BAD_TRIPLET, bad_options=_TRIPLET_OPTIONS)


class TestTripletStandard(StandardLossTests):
    cases: ClassVar[list[LossCase]] = [
        _triplet_case("all", mining="all"),
        _triplet_case("all-nonzero-euclid", mining="all", average_over="nonzero", distance="euclidean"),
        _triplet_case("hard", mining="hard"),
        _triplet_case("hard-soft-euclid", mining="hard", soft_margin=True, distance="euclidean", normalize=False),
        _triplet_case("semihard", mining="semihard"),
        _triplet_case("semihard-drop-cosine", mining="semihard", semihard_fallback="drop", distance="cosine"),
    ]


def _offline_inputs(dtype, seed, scale):
    g = torch.Generator().manual_seed(seed)
    return tuple((torch.randn(6, 4, generator=g, dtype=torch.float64) * scale).to(dtype) for _ in range(3))


_OFFLINE_BAD = [
    BadInput("shape", lambda i: ((i[0], i[1][:3], i[2]), {}), ValueError,
             "positive: expected shape matching anchor (6, 4), got (3, 4)"),
    BadInput("integer anchor", lambda i: ((i[0].long(), i[1], i[2]), {}), TypeError,
             "anchor: expected a floating-point tensor, got dtype torch.int64"),
    BadInput("negative shape", lambda i: ((i[0], i[1], i[2][:, :2]), {}), ValueError,
             "negative: expected shape matching anchor (6, 4), got (6, 2)"),
]
_OFFLINE_OPTIONS = [
    BadOption("margin", {"margin": 0.0}, ValueError, "margin: expected a finite number > 0.0, got 0.0"),
    BadOption("swap as string", {"swap": "yes"}, TypeError, "swap: expected a bool (True or False), got 'yes'"),
    BadOption("distance", {"distance": "l1"}, ValueError,
              "distance: expected one of 'euclidean', 'squared_euclidean', 'cosine', got 'l1'"),
]


class TestOfflineStandard(StandardLossTests):
    cases: ClassVar[list[LossCase]] = [
        LossCase(name="offline", functional=triplet_margin_loss, module=OfflineTripletLoss,
                 make_inputs=_offline_inputs, grad_argnums=(0, 1, 2), batch_args=(0, 1, 2),
                 none_shape=lambda i: (i[0].shape[0],),
                 bad_inputs=_OFFLINE_BAD, bad_options=_OFFLINE_OPTIONS),
        LossCase(name="offline-swap-sq", functional=triplet_margin_loss, module=OfflineTripletLoss,
                 make_inputs=_offline_inputs, grad_argnums=(0, 1, 2), batch_args=(0, 1, 2),
                 kwargs={"swap": True, "distance": "squared_euclidean", "margin": 0.5},
                 bad_inputs=_OFFLINE_BAD, bad_options=_OFFLINE_OPTIONS),
    ]


# ------------------------------------------------------------------------------------ naive reference
def _naive_dist(x: torch.Tensor, distance: str, normalize: bool) -> list[list[float]]:
    rows = [r.tolist() for r in x]
    if normalize or distance == "cosine":
        rows = [[v / (math.sqrt(sum(u * u for u in r)) or 1.0) for v in r] for r in rows]
    out = []
    for a in rows:
        line = []
        for b in rows:
            if distance == "cosine":
                line.append(1.0 - sum(u * v for u, v in zip(a, b, strict=True)))
            else:
                sq = sum((u - v) ** 2 for u, v in zip(a, b, strict=True))
                line.append(sq if distance == "squared_euclidean" else math.sqrt(sq))
        out.append(line)
    return out


def _naive_triplets(x, y, mining, margin, distance, normalize, soft, fallback="easiest"):
    """(a, p, n, loss) for every triplet the strategy selects, by looping over all triplets."""
    d, y, b = _naive_dist(x, distance, normalize), y.tolist(), len(y)
    pos = [[p for p in range(b) if p != a and y[p] == y[a]] for a in range(b)]
    neg = [[n for n in range(b) if y[n] != y[a]] for a in range(b)]
    out = []
    for a in range(b):
        if mining == "hard":
            if pos[a] and neg[a]:
                p = max(pos[a], key=lambda j: d[a][j])
                n = min(neg[a], key=lambda j: d[a][j])
                out.append((a, p, n))
            continue
        for p in pos[a]:
            if mining == "all":
                out.extend((a, p, n) for n in neg[a])
            elif neg[a]:
                farther = [n for n in neg[a] if d[a][n] > d[a][p]]
                if farther:
                    out.append((a, p, min(farther, key=lambda j: d[a][j])))
                elif fallback == "easiest":
                    out.append((a, p, max(neg[a], key=lambda j: d[a][j])))

    def loss(t):
        v = d[t[0]][t[1]] - d[t[0]][t[2]]
        return math.log1p(math.exp(v)) if soft else max(0.0, v + margin)
    return [(*t, loss(t)) for t in out]


@pytest.mark.parametrize("mining", ["all", "hard", "semihard"])
@pytest.mark.parametrize("distance", ["squared_euclidean", "euclidean", "cosine"])
def test_against_naive_loop(mining, distance):
    for seed in range(4):
        b = [16, 9, 12, 5][seed]
        x, y = _labelled(torch.float64, seed, 1.0, b=b, classes=[4, 3, 5, 2][seed])
        soft, normalize, fallback = seed == 1, seed != 2, ["easiest", "drop"][seed % 2]
        ref = _naive_triplets(x, y, mining, 0.3, distance, normalize, soft, fallback)
        kw = dict(mining=mining, margin=0.3, distance=distance, normalize=normalize, soft_margin=soft,
                  semihard_fallback=fallback)
        values = [r[3] for r in ref]
        none = triplet_loss(x, y, reduction="none", **kw)
        torch.testing.assert_close(none, torch.tensor(values, dtype=torch.float64))
        a, p, n = mine_triplets(x, y, mining=mining, margin=0.3, distance=distance, normalize=normalize,
                                semihard_fallback=fallback)
        # random continuous data: the hardest positive / negative of each anchor is unique, so indices match
        assert list(zip(a.tolist(), p.tolist(), n.tolist(), strict=True)) == [r[:3] for r in ref]
        total = sum(values)
        stats = triplet_loss(x, y, return_stats=True, **kw)
        torch.testing.assert_close(stats.loss, torch.tensor(total / max(len(values), 1), dtype=torch.float64))
        assert int(stats.num_triplets) == len(values)
        assert int(stats.num_active) == sum(v > 0 for v in values)
        nonzero = triplet_loss(x, y, average_over="nonzero", **kw)
        torch.testing.assert_close(nonzero, torch.tensor(total / max(sum(v > 0 for v in values), 1),
                                                         dtype=torch.float64))
        active = mine_triplets(x, y, mining=mining, margin=0.3, distance=distance, normalize=normalize,
                               semihard_fallback=fallback, active_only=True)
        assert active[0].numel() == sum(r[3] > 0 for r in _naive_triplets(x, y, mining, 0.3, distance,
                                                                             normalize, False, fallback))


def test_batch_all_gradient_matches_enumerated_triplets():
    """The chunked custom op's gradient equals autograd through the explicit list of triplets."""
    x, y = _labelled(torch.float64, 7, 1.0, b=16)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    for soft in (False, True):
        triplet_loss(x1, y, mining="all", soft_margin=soft, reduction="sum").backward()
        triplet_loss(x2, y, mining="all", soft_margin=soft, reduction="none").sum().backward()
        torch.testing.assert_close(x1.grad, x2.grad)


@pytest.mark.parametrize("soft", [False, True])
def test_batch_all_double_backward(soft):
    """Second-order gradients through the batch-all op are correct (soft margin has a non-zero Hessian)."""
    x, y = _labelled(torch.float64, 5, 1.0, b=8, d=3, classes=3)
    x.requires_grad_()
    torch.autograd.gradgradcheck(lambda e: triplet_loss(e, y, mining="all", soft_margin=soft), (x,))
    x2 = x.detach().clone().requires_grad_()
    (g1,) = torch.autograd.grad(triplet_loss(x, y, mining="all", soft_margin=soft), x, create_graph=True)
    (g2,) = torch.autograd.grad(triplet_loss(x2, y, mining="all", soft_margin=soft, reduction="none").mean(), x2,
                                create_graph=True)
    torch.testing.assert_close(torch.autograd.grad(g1.square().sum(), x)[0],
                               torch.autograd.grad(g2.square().sum(), x2)[0])


def test_batch_all_memory_is_chunked(monkeypatch):
    """Forcing tiny chunks (many iterations) changes nothing: the result does not depend on the chunking."""
    import imagelosses.embedding.mining as mining

    x, y = _labelled(torch.float64, 3, 1.0, b=16)
    full = triplet_loss(x, y, mining="all", reduction="sum")
    monkeypatch.setattr(mining, "CHUNK_ELEMENTS", 16)
    torch.testing.assert_close(triplet_loss(x, y, mining="all", reduction="sum"), full)


# -------------------------------------------------------------------------------- torch and closed forms
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_offline_equals_torch(swap, reduction):
    g = torch.Generator().manual_seed(0)
    a, p, n = (torch.randn(10, 6, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    p2 = p.detach().clone().requires_grad_()
    p.data[0] = a.data[0]  # one zero-distance pair: torch's eps keeps the gradient finite
    p2.data[0] = a.data[0]
    for margin in (1.0, 0.3):
        ours = triplet_margin_loss(a, p, n, margin=margin, swap=swap, reduction=reduction)
        ref = torch.nn.TripletMarginLoss(margin=margin, swap=swap, reduction=reduction)(a, p2, n)
        torch.testing.assert_close(ours, ref)
        g1 = torch.autograd.grad(ours.sum(), (a, p, n))
        g2 = torch.autograd.grad(ref.sum(), (a, p2, n))
        for u, v in zip(g1, g2, strict=True):
            torch.testing.assert_close(u, v)


@pytest.mark.parametrize("mining", ["all", "hard", "semihard"])
@pytest.mark.parametrize("distance", ["squared_euclidean", "euclidean", "cosine"])
def test_closed_forms_all_embeddings_equal(mining, distance):
    x = torch.full((8, 3), 0.7, requires_grad=True)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    out = triplet_loss(x, y, mining=mining, margin=0.2, distance=distance)
    torch.testing.assert_close(out, torch.tensor(0.2))
    soft = triplet_loss(x, y, mining=mining, soft_margin=True, distance=distance)
    assert abs(soft.item() - 0.693147) < 1e-6
    (g,) = torch.autograd.grad(out + soft, x)
    assert torch.isfinite(g).all()
    drop = triplet_loss(x, y, mining="semihard", semihard_fallback="drop", distance=distance)
    assert drop.item() == 0.0  # no negative is farther than the positive: every pair is dropped
    e = torch.full((5, 4), 0.3)
    assert float(triplet_margin_loss(e, e, e, margin=0.2)) == pytest.approx(0.2)
    assert float(triplet_margin_loss(e, e, e, soft_margin=True)) == pytest.approx(math.log(2.0))


def test_semihard_fallback_documented_behaviour():
    """1-D points: anchor 0 at 0, positive at 1; negatives at 0.5 (hard) and 1.1 (semi-hard, margin 0.2)."""
    x = torch.tensor([[0.0], [1.0], [0.5], [1.1]], dtype=torch.float64)
    y = torch.tensor([0, 0, 1, 1])
    a, p, n = mine_triplets(x, y, mining="semihard", margin=0.2, distance="euclidean", normalize=False)
    first = (int(a[0]), int(p[0]), int(n[0]))
    assert first == (0, 1, 3)  # the semi-hard negative, not the hard one at 0.5
    # Move the semi-hard negative inside: now every negative of anchor 0 is closer than its positive.
    x2 = torch.tensor([[0.0], [1.0], [0.5], [0.9]], dtype=torch.float64)
    a, p, n = mine_triplets(x2, y, mining="semihard", margin=0.2, distance="euclidean", normalize=False)
    assert (int(a[0]), int(p[0]), int(n[0])) == (0, 1, 3)  # "easiest": the farthest negative, 0.9
    a, p, n = mine_triplets(x2, y, mining="semihard", margin=0.2, distance="euclidean", normalize=False,
                            semihard_fallback="drop")
    assert 0 not in a.tolist()


def test_semihard_tie_is_not_farther():
    """A negative exactly as far as the positive (d_an = d_ap) is not semi-hard: the next farther one is chosen.
    Dyadic 1-D points make every distance exact, so the tie is a real tie."""
    x = torch.tensor([[0.0], [1.0], [-1.0], [1.5]], dtype=torch.float64)
    y = torch.tensor([0, 0, 1, 1])
    for distance in ("euclidean", "squared_euclidean"):
        ref = _naive_triplets(x, y, "semihard", 0.6, distance, False, False)
        a, p, n = mine_triplets(x, y, mining="semihard", margin=0.6, distance=distance, normalize=False)
        assert list(zip(a.tolist(), p.tolist(), n.tolist(), strict=True)) == [r[:3] for r in ref]
        assert (int(a[0]), int(p[0]), int(n[0])) == (0, 1, 3)
        out = triplet_loss(x, y, mining="semihard", margin=0.6, distance=distance, normalize=False, reduction="none")
        torch.testing.assert_close(out, torch.tensor([r[3] for r in ref], dtype=torch.float64))


def test_semihard_saved_activations_are_quadratic():
    """Semi-hard keeps O(B² + B·D) for backward, never (B, K, D) with K the positives per anchor: two classes of
    32 give K = 31, and every tensor saved for backward must stay below max(B², B·D) elements."""
    x, _ = _labelled(torch.float32, 0, 1.0, b=64, d=32)
    x.requires_grad_()
    y = torch.arange(64) % 2
    sizes = []

    def pack(t):
        sizes.append(t.numel())
        return t

    for mining in ("semihard", "hard"):
        sizes.clear()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = triplet_loss(x, y, mining=mining)
        loss.backward()
        assert max(sizes) <= 64 * 64, (mining, max(sizes))


def test_no_valid_triplet_gives_zero_and_zero_grad():
    for y in (torch.tensor([0, 1, 2, 3]), torch.tensor([5, 5, 5, 5]), torch.tensor([1])):
        x = torch.randn(y.numel(), 3, requires_grad=True)
        for mining in ("all", "hard", "semihard"):
            s = triplet_loss(x, y, mining=mining, return_stats=True)
            assert s.loss.item() == 0.0 and int(s.num_triplets) == 0 and float(s.fraction_active) == 0.0
            (g,) = torch.autograd.grad(s.loss, x, allow_unused=True, materialize_grads=True)
            assert torch.equal(g, torch.zeros_like(x))


# ------------------------------------------------------------------------- pytorch-metric-learning
def test_against_pytorch_metric_learning():
    import pytorch_metric_learning as pml
    from pytorch_metric_learning import distances, losses, miners, reducers

    del pml
    x, y = _labelled(torch.float64, 11, 1.0, b=16)
    for power, distance in ((2, "squared_euclidean"), (1, "euclidean")):
        dist = distances.LpDistance(normalize_embeddings=True, p=2, power=power)
        for average_over, reducer in (("valid", reducers.MeanReducer()), ("nonzero", reducers.AvgNonZeroReducer())):
            theirs_loss = losses.TripletMarginLoss(margin=0.2, distance=dist, reducer=reducer)
            x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
            ours = triplet_loss(x1, y, mining="all", margin=0.2, distance=distance, average_over=average_over)
            theirs = theirs_loss(x2, y)
            torch.testing.assert_close(ours, theirs)
            ours.backward()
            theirs.backward()
            torch.testing.assert_close(x1.grad, x2.grad)
        x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
        miner = miners.BatchHardMiner(distance=dist)
        theirs_loss = losses.TripletMarginLoss(margin=0.2, distance=dist, reducer=reducers.MeanReducer())
        ours = triplet_loss(x1, y, mining="hard", margin=0.2, distance=distance)
        theirs = theirs_loss(x2, y, miner(x2, y))
        torch.testing.assert_close(ours, theirs)
        ours.backward()
        theirs.backward()
        torch.testing.assert_close(x1.grad, x2.grad)


def test_module_repr_and_stats_module():
    m = TripletLoss(mining="semihard", return_stats=True)
    assert "mining='semihard'" in repr(m)
    x, y = _labelled(torch.float32, 0, 1.0)
    s = m(x, y)
    assert 0.0 <= float(s.fraction_active) <= 1.0
    with pytest.raises(ValueError, match=re.escape("mining: expected one of 'all', 'hard', 'semihard', got 'x'")):
        TripletLoss(mining="x")
    with pytest.raises(ValueError, match=re.escape("mining: expected one of 'all', 'hard', 'semihard'")):
        mine_triplets(x, y, mining="x")
    with pytest.raises(ValueError, match=re.escape("margin: expected a finite number > 0.0, got 0")):
        TripletLoss(margin=0)


def _circle(dtype):
    """pytorch-metric-learning's TripletMarginMiner test data: 16 unit vectors at 0°, 1°, …, 15° (near-ties
    everywhere: the negatives at ±d degrees from an anchor are at equal distance in exact arithmetic)."""
    angles = torch.deg2rad(torch.arange(16, dtype=torch.float64))
    return torch.stack([angles.cos(), angles.sin()], 1).to(dtype)


@pytest.mark.parametrize("distance", ["cosine", "squared_euclidean", "euclidean"])
@pytest.mark.parametrize("mining", ["semihard", "hard"])
def test_mining_decisions_are_stable_on_pytorch_metric_learnings_near_ties(mining, distance):
    """Mining reads a float64 matrix: a float32 batch picks exactly the triplets of the same values in float64,
    and each semi-hard pick is FaceNet's (the closest negative farther than the positive, by a float64 loop)."""
    x32 = _circle(torch.float32)
    x64 = x32.double()
    for seed in range(10):
        y = torch.randint(0, 2, (16,), generator=torch.Generator().manual_seed(seed))
        for k in range(1, 11):
            margin = 0.05 * k
            picks = [mine_triplets(x, y, mining=mining, margin=margin, distance=distance) for x in (x32, x64)]
            assert all(torch.equal(a, b) for a, b in zip(*picks, strict=True)), (seed, margin)
            ours = triplet_loss(x32, y, mining=mining, margin=margin, distance=distance, reduction="sum")
            ref = triplet_loss(x64, y, mining=mining, margin=margin, distance=distance, reduction="sum")
            torch.testing.assert_close(ours.double(), ref, rtol=1e-5, atol=1e-6)
        if mining == "semihard":
            d = pairwise_distances(x64, distance=distance, normalize=True)
            for a, p, n in zip(*(t.tolist() for t in picks[1]), strict=True):
                negatives = [d[a, j].item() for j in range(16) if y[j] != y[a]]
                farther = [v for v in negatives if v > d[a, p].item()]
                assert d[a, n].item() == (min(farther) if farther else max(negatives))
