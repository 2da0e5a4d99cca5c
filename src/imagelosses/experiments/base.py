"""What an experiment is: a claim from the literature, a configuration at two sizes, a run per seed, and a
verdict rule written in code before anything runs.

Each experiment module under :mod:`imagelosses.experiments` defines one module-level ``EXPERIMENT`` of type
:class:`Experiment`; the registry collects them by name. The runner calls ``run`` once per seed with a
:class:`RunContext`, collects the per-seed numbers into a :class:`Summary` (mean ± spread) and applies
``verdict`` to it. Numbers come only from the run: nothing in an experiment is typed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

__all__ = ["VERDICTS", "Experiment", "Figure", "RunContext", "RunOutput", "Summary", "Verdict", "VerdictLabel",
           "decide", "single_thread"]

VerdictLabel = Literal["holds", "does not hold at this scale", "inconclusive"]
VERDICTS: tuple[str, ...] = ("holds", "does not hold at this scale", "inconclusive")


@dataclass(frozen=True)
class Figure:
    """A PNG written by a run into ``RunContext.out_dir``; ``caption`` says what it shows (axes, units)."""

    path: Path
    caption: str


@dataclass
class RunContext:
    """What one run (one seed) gets: its configuration, seed, device, a folder for its figures, and a
    progress callback ``progress(done, total)`` the runner turns into a progress bar."""

    config: Mapping[str, Any]
    seed: int
    device: torch.device
    out_dir: Path
    make_figures: bool = True
    progress: Callable[[int, int], None] = lambda done, total: None

    def generator(self) -> torch.Generator:
        """A CPU generator seeded with this run's seed (data generation stays reproducible across devices)."""
        return torch.Generator().manual_seed(self.seed)


@dataclass
class RunOutput:
    """The numbers (``{metric: value}``, plain floats) and figures of one run."""

    metrics: dict[str, float]
    figures: list[Figure] = field(default_factory=list)
    #: Small tables for the report: ``{title: [header row, row, ...]}`` (strings or numbers).
    tables: dict[str, list[list[Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Summary:
    """Per-metric values over seeds, with their mean and sample standard deviation (0 for one seed)."""

    values: Mapping[str, list[float]]

    def mean(self, metric: str) -> float:
        v = self.values[metric]
        return sum(v) / len(v)

    def std(self, metric: str) -> float:
        v = self.values[metric]
        if len(v) < 2:
            return 0.0
        m = self.mean(metric)
        return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))

    def all(self, metric: str, predicate: Callable[[float], bool]) -> bool:
        """Whether ``predicate`` holds for the metric in every seed."""
        return all(predicate(x) for x in self.values[metric])


@dataclass(frozen=True)
class Verdict:
    label: VerdictLabel
    reason: str  # the numbers the rule compared, in words


@contextmanager
def single_thread() -> Iterator[None]:
    """Run tiny networks on one intra-op thread (faster than two for small networks, and immune to the
    oversubscription a busy machine causes); the previous thread count is restored on exit."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def decide(reason: str, *, holds: bool, fails: bool) -> Verdict:
    """The three-way rule of every experiment: "holds" when its holding condition is met, else "does not hold
    at this scale" when its failing condition is, else "inconclusive"; ``reason`` gives the numbers compared."""
    if holds:
        return Verdict("holds", reason)
    if fails:
        return Verdict("does not hold at this scale", reason)
    return Verdict("inconclusive", reason)


@dataclass(frozen=True)
class Experiment:
    """One claim of the literature, reproduced.

    ``full`` and ``quick`` are configurations of the same code (``--quick`` runs less data and fewer steps);
    ``rule`` states the verdict rule in words and ``verdict`` applies it to the summary over seeds.
    """

    name: str
    title: str
    claim: str
    paper: str
    setup: str
    rule: str
    full: Mapping[str, Any]
    quick: Mapping[str, Any]
    run: Callable[[RunContext], RunOutput]
    verdict: Callable[[Summary], Verdict]
    seeds: int = 3
