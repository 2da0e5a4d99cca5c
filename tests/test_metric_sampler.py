"""PKSampler: P distinct classes × K samples, replacement for small classes, seeding, len, DataLoader."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from imagelosses.embedding import PKSampler

LABELS = [0] * 6 + [1] * 5 + [2] * 2 + [3] * 1 + [4] * 8


def test_batches_are_p_classes_times_k():
    s = PKSampler(LABELS, p=3, k=4, num_batches=30, seed=1)
    assert len(s) == 30
    batches = list(s)
    assert len(batches) == 30
    seen = set()
    for b in batches:
        assert len(b) == 12
        classes = [LABELS[i] for i in b]
        counts = Counter(classes)
        assert len(counts) == 3 and set(counts.values()) == {4}
        for c in counts:  # samples of a class are consecutive, K of them
            first = classes.index(c)
            assert classes[first:first + 4] == [c] * 4
            members = [i for i in b if LABELS[i] == c]
            if LABELS.count(c) >= 4:
                assert len(set(members)) == 4  # without replacement when the class is big enough
        seen |= set(counts)
    assert seen == {0, 1, 2, 3, 4}  # small classes (2 and 1 samples) are drawn too, with replacement


def test_seed_epoch_and_global_rng():
    a = list(PKSampler(LABELS, p=2, k=2, seed=5))
    assert a == list(PKSampler(torch.tensor(LABELS), p=2, k=2, seed=5))
    s = PKSampler(LABELS, p=2, k=2, num_batches=20, seed=5)
    e0 = list(s)
    s.set_epoch(1)
    assert list(s) != e0
    s.set_epoch(0)
    assert list(s) == e0
    u = PKSampler(LABELS, p=2, k=2, num_batches=20)
    torch.manual_seed(0)
    r1 = list(u)
    r2 = list(u)
    torch.manual_seed(0)
    assert list(u) == r1 and r1 != r2
    assert len(PKSampler(LABELS, p=2, k=2)) == len(LABELS) // 4


def test_dataloader_and_loss():
    from imagelosses.embedding import TripletLoss

    x = torch.randn(len(LABELS), 8)
    loader = DataLoader(TensorDataset(x, torch.tensor(LABELS)), batch_sampler=PKSampler(LABELS, p=3, k=3, seed=0))
    loss = TripletLoss(mining="hard", return_stats=True)
    for emb, lab in loader:
        assert emb.shape == (9, 8)
        assert int(loss(emb, lab).num_triplets) == 9  # every anchor has a positive and a negative


def test_errors():
    with pytest.raises(ValueError, match=r"p: expected at most the number of classes \(5\), got 6"):
        PKSampler(LABELS, p=6, k=2)
    with pytest.raises(ValueError, match="k: expected a positive integer, got 0"):
        PKSampler(LABELS, p=2, k=0)
    with pytest.raises(TypeError, match="p: expected a positive integer, got float"):
        PKSampler(LABELS, p=2.0, k=2)
    with pytest.raises(TypeError, match="labels: expected an integer tensor"):
        PKSampler(torch.tensor([0.0, 1.0]), p=1, k=1)
    with pytest.raises(ValueError, match="labels: expected at least one label"):
        PKSampler([], p=1, k=1)


def test_seed_mixing_replicas_and_integer_like_arguments():
    import numpy as np
    labels = [i // 5 for i in range(100)]
    a = PKSampler(labels, p=4, k=3, seed=0)
    a.set_epoch(1_000_003)
    assert list(a) != list(PKSampler(labels, p=4, k=3, seed=1))  # seed·1_000_003 + epoch used to collide
    s = PKSampler(labels, p=np.int64(4), k=np.int32(3), num_batches=np.int64(5), seed=np.int64(7))
    assert (s.p, s.k, len(s), s.seed) == (4, 3, 5, 7) and type(s.p) is int
    assert list(s) == list(PKSampler(labels, p=4, k=3, num_batches=5, seed=7))
    assert len(list(PKSampler(labels, p=4, k=3, seed=-5))) == len(labels) // 12
    ranks = [list(PKSampler(labels, p=4, k=3, seed=3, num_replicas=2, rank=r)) for r in (0, 1)]
    assert ranks[0] != ranks[1]
    assert ranks[0] == list(PKSampler(labels, p=4, k=3, seed=3, num_replicas=2, rank=0))
    with pytest.raises(ValueError, match=re.escape("seed: expected an integer in [-2**63, 2**64), got " + str(2**70))):
        PKSampler(labels, p=4, k=3, seed=2**70)
    with pytest.raises(TypeError, match="seed: expected an integer or None, got float"):
        PKSampler(labels, p=4, k=3, seed=1.5)
    with pytest.raises(ValueError, match=re.escape("rank: expected an integer in [0, 2) (num_replicas = 2), got 2")):
        PKSampler(labels, p=4, k=3, num_replicas=2, rank=2)


def test_default_epoch_splits_the_dataset_over_the_ranks() -> None:
    labels = torch.arange(96) % 8  # 96 items, p·k = 12
    assert len(PKSampler(labels, p=4, k=3)) == 8
    assert [len(PKSampler(labels, p=4, k=3, num_replicas=4, rank=r)) for r in range(4)] == [2, 2, 2, 2]
    assert len(PKSampler(labels, p=4, k=3, num_replicas=32, rank=0)) == 1  # at least one batch
    assert len(PKSampler(labels, p=4, k=3, num_batches=5, num_replicas=4, rank=1)) == 5
