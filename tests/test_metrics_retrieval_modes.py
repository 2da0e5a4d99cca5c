"""Recall@K (metrics/retrieval.py) and GAN mode coverage (metrics/modes.py): naive loops, the peer
(pytorch-metric-learning's precision_at_1), the stated constants, and bad input."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
from pytorch_metric_learning.utils.inference import CustomKNN

from imagelosses.embedding.distances import neighbour_scores, pairwise_distances
from imagelosses.experiments import gan_objectives as gan
from imagelosses.metrics import ModeCoverage, mode_coverage, recall_at_k
from tests._harness import raises_exactly


def _naive_recall(x: torch.Tensor, labels: torch.Tensor, k: int, normalize: bool) -> float:
    """Each query: sort the other samples by distance (ties: lower index first), look at the first k."""
    x = x.double()
    if normalize:
        x = x / x.norm(dim=1, keepdim=True)
    hits = queries = 0
    for i in range(len(x)):
        if sum(int(labels[j]) == int(labels[i]) for j in range(len(x))) < 2:
            continue  # a lone query: no other sample has its label
        queries += 1
        others = sorted((float((x[i] - x[j]).norm()), j) for j in range(len(x)) if j != i)
        hits += any(int(labels[j]) == int(labels[i]) for _, j in others[:k])
    return hits / queries


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [1, 2, 5])
@pytest.mark.parametrize("normalize", [True, False])
def test_recall_at_k_matches_a_naive_loop(seed: int, k: int, normalize: bool) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(40, 6, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 5, (40,), generator=g)
    labels[0] = 99  # one lone query
    assert recall_at_k(x, labels, k, normalize=normalize) == pytest.approx(_naive_recall(x, labels, k, normalize))
    # the squared distance ranks alike
    assert recall_at_k(x, labels, k, distance="squared_euclidean", normalize=normalize) == pytest.approx(
        _naive_recall(x, labels, k, normalize))


def test_recall_at_1_is_pytorch_metric_learnings_precision_at_1() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 16, generator=g)
    labels = torch.randint(0, 60, (200,), generator=g)  # some labels occur once: lone queries are left out
    assert int((torch.bincount(labels) == 1).sum()) > 0
    peer = AccuracyCalculator(include=("precision_at_1",), k=1,
                              knn_func=CustomKNN(LpDistance(normalize_embeddings=True)))
    assert recall_at_k(x, labels) == pytest.approx(peer.get_accuracy(x, labels)["precision_at_1"], abs=1e-12)


def test_recall_at_k_small_cases_ties_and_nan() -> None:
    x = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    assert recall_at_k(x, torch.tensor([0, 0, 1, 1])) == 1.0
    assert recall_at_k(x, torch.tensor([0, 1, 0, 1])) == 0.0
    assert recall_at_k(x, torch.tensor([0, 1, 0, 1]), k=3) == 1.0
    # identical rows: every distance ties, the lower index is nearest
    same = torch.ones(4, 2)  # queries 0, 1, 3 find sample 0 or 1 of the other label first; query 2 finds 0
    assert recall_at_k(same, torch.tensor([0, 1, 0, 1])) == pytest.approx(1 / 4)
    # recall grows with k
    g = torch.Generator().manual_seed(1)
    y, labels = torch.randn(30, 4, generator=g), torch.randint(0, 6, (30,), generator=g)
    values = [recall_at_k(y, labels, k) for k in (1, 3, 10, 29)]
    assert values == sorted(values) and values[-1] == 1.0
    # a lone query (label 2) is left out of the mean; labels no two samples share are refused
    assert recall_at_k(x, torch.tensor([0, 0, 1, 2]), k=2) == 1.0
    with pytest.raises(ValueError, match=r"^labels: expected a label that at least two samples share \(a query "
                                         r"needs a match in the gallery\), got 4 distinct labels$"):
        recall_at_k(x, torch.tensor([0, 1, 2, 3]))
    x[2, 0] = float("nan")
    assert math.isnan(recall_at_k(x, torch.tensor([0, 0, 1, 1])))


BAD_INPUT = [
    (lambda: recall_at_k(torch.ones(4, 2, dtype=torch.long), torch.zeros(4, dtype=torch.long)), TypeError,
     "embeddings: expected a floating-point tensor, got dtype torch.int64"),
    (lambda: recall_at_k(torch.ones(4), torch.zeros(4, dtype=torch.long)), ValueError,
     "embeddings: expected a tensor of shape (B, D), got shape (4,)"),
    (lambda: recall_at_k(torch.ones(4, 2), torch.zeros(3, dtype=torch.long)), ValueError,
     "labels: expected shape (B,) with B = 4 as in embeddings (4, 2), got shape (3,)"),
    (lambda: recall_at_k(torch.ones(4, 2), torch.zeros(4)), TypeError,
     "labels: expected an integer tensor (torch.long), got dtype torch.float32"),
    (lambda: recall_at_k(torch.ones(1, 2), torch.zeros(1, dtype=torch.long)), ValueError,
     "embeddings: expected at least 2 samples (each query needs another sample), got shape (1, 2)"),
    (lambda: recall_at_k(torch.ones(4, 2), torch.zeros(4, dtype=torch.long), 4), ValueError,
     "k: expected an integer in [1, 3] (N − 1 other samples), got 4"),
    (lambda: recall_at_k(torch.ones(4, 2), torch.zeros(4, dtype=torch.long), 1.0), TypeError,
     "k: expected a positive integer, got float"),
    (lambda: recall_at_k(torch.ones(4, 2), torch.zeros(4, dtype=torch.long), distance="l1"), ValueError,
     "distance: expected one of 'euclidean', 'squared_euclidean', 'cosine', got 'l1'"),
    # mode_coverage
    (lambda: mode_coverage(torch.zeros(5, 3), torch.zeros(2, 2), 0.1), ValueError,
     "centres: expected shape (M, 3), the samples' dimension, got (2, 2)"),
    (lambda: mode_coverage(torch.zeros(0, 2), torch.zeros(2, 2), 0.1), ValueError,
     "samples: expected at least one row of at least one coordinate, got shape (0, 2)"),
    (lambda: mode_coverage(torch.zeros(5, 2), torch.zeros(2, 2), 0.0), ValueError,
     "std: expected a finite number > 0.0, got 0.0"),
    (lambda: mode_coverage(torch.zeros(5, 2), torch.zeros(2, 2), 0.1, min_samples=0), ValueError,
     "min_samples: expected a positive integer, got 0"),
    (lambda: mode_coverage(torch.zeros(5, 2, dtype=torch.int64), torch.zeros(2, 2), 0.1), TypeError,
     "samples: expected a floating-point tensor, got dtype torch.int64"),
]


@pytest.mark.parametrize(("call", "exc", "message"), BAD_INPUT)
def test_bad_input(call: Callable[[], object], exc: type[Exception], message: str) -> None:
    raises_exactly(call, exc, message)


def _naive_coverage(samples: torch.Tensor, centres: torch.Tensor, std: float, hq_stds: float,
                    min_samples: int) -> tuple[int, float]:
    counts = [0] * len(centres)
    hq = 0
    for s in samples.tolist():
        d = [math.dist(s, c) for c in centres.tolist()]
        j = min(range(len(d)), key=d.__getitem__)
        if d[j] <= hq_stds * std:
            counts[j] += 1
            hq += 1
    return sum(c >= min_samples for c in counts), hq / len(samples)


@pytest.mark.parametrize("seed", range(3))
def test_mode_coverage_matches_a_naive_loop(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    centres = gan.mode_centres("grid")
    # a generator that found some modes, with a spread around them and samples off every mode
    idx = torch.randint(0, 10, (600,), generator=g)
    samples = centres[idx] + 0.05 * torch.randn(600, 2, generator=g)
    for std, hq_stds, min_samples in ((0.02, 3.0, 20), (0.05, 2.0, 5), (0.02, 1.0, 1)):
        got = mode_coverage(samples, centres, std, hq_stds=hq_stds, min_samples=min_samples)
        covered, hq = _naive_coverage(samples, centres, std, hq_stds, min_samples)
        assert isinstance(got, ModeCoverage) and got.covered == covered and got.high_quality == pytest.approx(hq)
        assert int(got.counts.sum()) == round(hq * len(samples))


def test_mode_coverage_follows_the_stated_constants() -> None:
    centres = gan.mode_centres("ring")
    assert centres.shape == (8, 2) and torch.allclose(centres.norm(dim=1), torch.full((8,), 2.0))
    assert gan.mode_centres("grid").shape == (25, 2)
    data = gan.sample_data(centres, gan.N_EVAL, torch.Generator().manual_seed(0))
    covered, hq, _ = mode_coverage(data, centres, gan.STD)
    # the data itself: every mode, and P(‖x − μ‖ ≤ 3σ) = 1 − exp(−9/2) = 98.9% for a 2-D Gaussian
    assert covered == 8 and abs(hq - (1 - math.exp(-4.5))) < 0.01
    # 19 high-quality samples on a mode do not cover it, 20 do; far samples are not high-quality
    pts = torch.cat([centres[0].expand(20, 2), centres[1].expand(19, 2), torch.zeros(61, 2)])
    covered, hq, counts = mode_coverage(pts, centres, gan.STD)
    assert covered == 1 and hq == pytest.approx(39 / 100) and counts.tolist()[:2] == [20, 19]
    assert mode_coverage(centres[:1] + torch.tensor([[3.01 * gan.STD, 0.0]]), centres, gan.STD).high_quality == 0.0
    # a NaN sample is never high-quality
    assert mode_coverage(torch.full((3, 2), float("nan")), centres, gan.STD).high_quality == 0.0


def test_metrics_refuse_empty_dimensions_and_non_finite_centres() -> None:
    with pytest.raises(ValueError, match=r"^embeddings: expected at least one coordinate per embedding \(D > 0\), "
                                         r"got shape \(4, 0\)$"):
        recall_at_k(torch.ones(4, 0), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"^samples: expected at least one row of at least one coordinate, got "
                                         r"shape \(3, 0\)$"):
        mode_coverage(torch.ones(3, 0), torch.ones(2, 0), 0.1)
    with pytest.raises(ValueError, match=r"^centres: expected finite mode centres, got NaN or infinite entries$"):
        mode_coverage(torch.ones(3, 2), torch.tensor([[0.0, float("inf")]]), 0.1)


@pytest.mark.parametrize("distance", ["euclidean", "squared_euclidean", "cosine"])
@pytest.mark.parametrize("normalize", [True, False])
def test_neighbour_scores_order_each_row_like_pairwise_distances(distance: str, normalize: bool) -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(50, 8, generator=g, dtype=torch.float64) * 3
    d = pairwise_distances(x, distance=distance, normalize=normalize)
    s = neighbour_scores(x, distance=distance, normalize=normalize)
    # the two differ by a per-row constant (and a monotone map): same order in every row
    assert torch.equal(d.argsort(dim=1, stable=True)[:, 1:], s.argsort(dim=1, stable=True)[:, 1:])
    if distance == "squared_euclidean":
        torch.testing.assert_close(s + x.square().sum(1, keepdim=True) if not normalize else s + 1.0, d)


def test_metrics_name_a_tensor_on_another_device() -> None:
    meta = torch.device("meta")
    meta_message = r"expected a tensor with data \(meta tensors carry only a shape\), got a tensor on the meta device$"
    with pytest.raises(ValueError, match=r"^labels: " + meta_message):
        recall_at_k(torch.ones(4, 2), torch.zeros(4, dtype=torch.long, device=meta))
    with pytest.raises(ValueError, match=r"^centres: " + meta_message):
        mode_coverage(torch.ones(3, 2), torch.ones(2, 2, device=meta), 0.1)
