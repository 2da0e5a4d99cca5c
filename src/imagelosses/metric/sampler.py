"""``PKSampler``: batches of P classes × K samples, the batches online triplet mining needs.

Hermans et al. (arXiv 1703.07737) sample P identities and K images of each, so that every anchor has K − 1
positives and (P − 1)·K negatives in its batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import Sampler

from .._checks import check_integer, check_ndim, fail

__all__ = ["PKSampler"]


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        fail(name, "a positive integer", type(value).__name__, exc=TypeError)
    if value < 1:
        fail(name, "a positive integer", repr(value))
    return value


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
        num_batches: batches per epoch, ``len(sampler)``; default ``len(labels) // (p·k)`` (at least 1).
        seed: ``None`` draws a fresh base seed from torch's global generator at each ``iter()`` (so
            ``torch.manual_seed`` makes runs reproducible and epochs differ, like ``RandomSampler``); an int
            makes the batches a function of ``seed`` and the epoch set by :meth:`set_epoch`.

    Raises:
        TypeError: labels not integers, p/k/num_batches not ints. ValueError: p > number of classes, p or k
        below 1, empty labels.
    """

    def __init__(self, labels: Sequence[int] | Tensor, *, p: int, k: int, num_batches: int | None = None,
                 seed: int | None = None) -> None:
        labels_t = labels if isinstance(labels, Tensor) else torch.as_tensor(list(labels), dtype=torch.long)
        check_integer(labels_t, "labels")
        check_ndim(labels_t, "labels", (1,), "(N,)")
        if labels_t.numel() == 0:
            fail("labels", "at least one label", "an empty sequence")
        self.p, self.k = _positive_int(p, "p"), _positive_int(k, "k")
        classes, inverse = torch.unique(labels_t.cpu(), return_inverse=True)
        if self.p > classes.numel():
            fail("p", f"at most the number of classes ({classes.numel()})", repr(p))
        order = torch.argsort(inverse, stable=True)
        counts = torch.bincount(inverse, minlength=classes.numel())
        self._members: list[Tensor] = list(torch.split(order, counts.tolist()))
        default = max(1, labels_t.numel() // (self.p * self.k))
        self.num_batches = default if num_batches is None else _positive_int(num_batches, "num_batches")
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose batches a seeded sampler yields (as ``DistributedSampler.set_epoch``)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        if self.seed is None:
            base = int(torch.randint(0, 2**62, (), dtype=torch.long))
        else:
            base = self.seed * 1_000_003 + self.epoch
        gen = torch.Generator().manual_seed(base)
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
