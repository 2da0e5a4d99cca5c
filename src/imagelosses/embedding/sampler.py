"""``PKSampler``: batches of P classes × K samples, the batches online triplet mining needs.

Hermans et al. (arXiv 1703.07737) sample P identities and K images of each, so that every anchor has K − 1
positives and (P − 1)·K negatives in its batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import Sampler

from .._core.checks import check_int, check_integer, check_ndim, fail

__all__ = ["PKSampler"]


def _mix(*parts: int) -> int:
    """A 64-bit generator seed from integers, by hashing: distinct tuples give unrelated seeds."""
    digest = hashlib.blake2b(",".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class PKSampler(Sampler[list[int]]):
    """Batch sampler yielding lists of ``p · k`` dataset indices: ``p`` distinct classes, ``k`` samples each.

    Use as ``DataLoader(dataset, batch_sampler=PKSampler(labels, p=8, k=4))``. In each batch the ``p``
    classes are drawn uniformly without replacement among the classes present in ``labels``; for each class
    ``k`` of its samples are drawn without replacement, or **with replacement** when the class has fewer
    than ``k`` samples. Within a batch, the samples of a class are consecutive.

    Args:
        labels: the class label of every dataset item, a sequence of ints or a 1-D integer tensor.
        p: classes per batch (at most the number of distinct classes).
        k: samples per class.
        num_batches: batches per epoch on this rank, ``len(sampler)``; default
            ``len(labels) // (p·k·num_replicas)`` (at least 1), so that, as with ``DistributedSampler``, all
            ranks together draw about ``len(labels)`` samples per epoch.
        seed: ``None`` draws a fresh base seed from torch's global generator at each ``iter()`` (so
            ``torch.manual_seed`` makes runs reproducible and epochs differ, like ``RandomSampler``); an int
            in [-2⁶³, 2⁶⁴) makes the batches a function of ``(seed, epoch, rank)``, hashed together (no two
            such triples share a stream); the epoch is set by :meth:`set_epoch`.
        num_replicas, rank: under ``DistributedDataParallel``, the number of processes and this process's
            rank. Each rank then draws its own batches (the rank is mixed into the seed), so give every rank
            the same ``seed`` (or the same global torch seed) and its own ``rank``. Without them all ranks
            with the same seed yield the *same* batches. With ``gather=True`` in the loss, the global batch is
            the concatenation of the ranks' P×K batches: classes may repeat across ranks, which only adds
            positives. Integer-like values (``numpy.int64``) are accepted for every integer argument.

    Raises:
        TypeError: labels not integers, p/k/num_batches/seed/num_replicas/rank not integers. ValueError: p >
        number of classes, p, k or num_replicas below 1, rank outside [0, num_replicas), seed outside
        [-2⁶³, 2⁶⁴), empty labels.

    References:
        Hermans, Beyer, Leibe, "In Defense of the Triplet Loss for Person Re-Identification", arXiv 1703.07737.

    Example:
        >>> sampler = PKSampler([0, 0, 0, 1, 1, 1, 2, 2], p=2, k=2, num_batches=3, seed=0)
        >>> batches = list(sampler)
        >>> len(batches), [len(b) for b in batches]
        (3, [4, 4, 4])
    """

    def __init__(self, labels: Sequence[int] | Tensor, *, p: int, k: int, num_batches: int | None = None,
                 seed: int | None = None, num_replicas: int = 1, rank: int = 0) -> None:
        labels_t = labels if isinstance(labels, Tensor) else torch.as_tensor(list(labels), dtype=torch.long)
        check_integer(labels_t, "labels")
        check_ndim(labels_t, "labels", (1,), "(N,)")
        if labels_t.numel() == 0:
            fail("labels", "at least one label", "an empty sequence")
        self.p, self.k = check_int(p, "p", low=1), check_int(k, "k", low=1)
        classes, inverse = torch.unique(labels_t.cpu(), return_inverse=True)
        if self.p > classes.numel():
            fail("p", f"at most the number of classes ({classes.numel()})", repr(p))
        order = torch.argsort(inverse, stable=True)
        counts = torch.bincount(inverse, minlength=classes.numel())
        self._members: list[Tensor] = list(torch.split(order, counts.tolist()))
        if seed is not None:
            seed = check_int(seed, "seed", what="an integer or None")
            if not -(2**63) <= seed < 2**64:
                fail("seed", "an integer in [-2**63, 2**64)", repr(seed))
        self.seed = seed
        self.num_replicas = check_int(num_replicas, "num_replicas", low=1)
        self.rank = check_int(rank, "rank")
        if not 0 <= self.rank < self.num_replicas:
            fail("rank", f"an integer in [0, {self.num_replicas}) (num_replicas = {self.num_replicas})", repr(rank))
        # like DistributedSampler: the ranks together see about one dataset's worth of samples per epoch
        default = max(1, labels_t.numel() // (self.p * self.k * self.num_replicas))
        self.num_batches = default if num_batches is None else check_int(num_batches, "num_batches", low=1)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose batches a seeded sampler yields (as ``DistributedSampler.set_epoch``)."""
        self.epoch = check_int(epoch, "epoch")

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        base = int(torch.randint(0, 2**62, (), dtype=torch.long)) if self.seed is None else self.seed
        gen = torch.Generator().manual_seed(_mix(base, self.epoch, self.rank))
        num_classes = len(self._members)
        for _ in range(self.num_batches):
            batch: list[int] = []
            for c in torch.randperm(num_classes, generator=gen)[: self.p].tolist():
                members = self._members[c]
                n = members.numel()
                if n >= self.k:
                    pick = torch.randperm(n, generator=gen)[: self.k]
                else:
                    pick = torch.randint(0, n, (self.k,), generator=gen)
                batch.extend(members[pick].tolist())
            yield batch
